import ConcentratorCore
import FoundationEssentials

/// The persisted state of one rule on one meter: its phase, the current occurrence, what the rule
/// remembers between readings (zero consumption: the counter's last increase) and the rate limiter.
/// A value type the integration stores after every transition (and at shutdown); a restart that
/// restores it neither raises an open alarm again nor forgets a pending one.
///
/// Compact form: JSON with one- and two-letter keys (`AlarmStateCodec`), about 60 bytes per alarm.
public struct AlarmInstanceState: Hashable, Sendable, Codable {
    public internal(set) var phase: AlarmPhase = .inactive
    /// Pending: since when the condition holds. Raised/acknowledged: when raised. Cleared: when cleared.
    public internal(set) var since: Timestamp?
    /// Raises so far (the current occurrence's number).
    public internal(set) var occurrence: UInt32 = 0
    /// The last value that decided the phase, and the limit it was compared with.
    public internal(set) var value: Double?
    public internal(set) var threshold: Double?
    /// Zero consumption: the counter value and time of its last increase (the start of the quiet period).
    var baselineValue: Double?
    var baselineTime: Timestamp?
    var limiter = AlarmRateLimiterState()

    public init() {}

    enum CodingKeys: String, CodingKey {
        case phase = "p", since = "s", occurrence = "o", value = "v", threshold = "t", baselineValue = "bv", baselineTime = "bt"
        case limiter = "l"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        phase = try c.decode(AlarmPhase.self, forKey: .phase)
        since = try c.decodeIfPresent(Timestamp.self, forKey: .since)
        occurrence = try c.decodeIfPresent(UInt32.self, forKey: .occurrence) ?? 0
        value = try c.decodeIfPresent(Double.self, forKey: .value)
        threshold = try c.decodeIfPresent(Double.self, forKey: .threshold)
        baselineValue = try c.decodeIfPresent(Double.self, forKey: .baselineValue)
        baselineTime = try c.decodeIfPresent(Timestamp.self, forKey: .baselineTime)
        limiter = try c.decodeIfPresent(AlarmRateLimiterState.self, forKey: .limiter) ?? AlarmRateLimiterState()
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(phase, forKey: .phase)
        try c.encodeIfPresent(since, forKey: .since)
        if occurrence != 0 { try c.encode(occurrence, forKey: .occurrence) }
        try c.encodeIfPresent(value, forKey: .value)
        try c.encodeIfPresent(threshold, forKey: .threshold)
        try c.encodeIfPresent(baselineValue, forKey: .baselineValue)
        try c.encodeIfPresent(baselineTime, forKey: .baselineTime)
        if limiter != AlarmRateLimiterState() { try c.encode(limiter, forKey: .limiter) }
    }
}

/// The rate limiter of one alarm: the last forwarded raises and clears (sliding hour) and, while the
/// alarm flaps, since when and how many changes were held back.
struct AlarmRateLimiterState: Hashable, Sendable, Codable {
    /// Times (seconds) of forwarded raises and clears within the last hour, oldest first.
    var recent: [Int64] = []
    /// Set while flapping: when it began.
    var flappingSince: Int64?
    /// Changes held back since flapping began.
    var suppressed: Int = 0
    /// The last held-back change, and the last summary sent.
    var lastChange: Int64?
    var lastSummary: Int64?
    /// Whether the receivers last heard "open" (raised) rather than "not open" (cleared or never raised).
    var reportedOpen = false

    enum CodingKeys: String, CodingKey {
        case recent = "r", flappingSince = "f", suppressed = "n", lastChange = "c", lastSummary = "m", reportedOpen = "o"
    }

    init() {}

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        recent = try c.decodeIfPresent([Int64].self, forKey: .recent) ?? []
        flappingSince = try c.decodeIfPresent(Int64.self, forKey: .flappingSince)
        suppressed = try c.decodeIfPresent(Int.self, forKey: .suppressed) ?? 0
        lastChange = try c.decodeIfPresent(Int64.self, forKey: .lastChange)
        lastSummary = try c.decodeIfPresent(Int64.self, forKey: .lastSummary)
        reportedOpen = try c.decodeIfPresent(Bool.self, forKey: .reportedOpen) ?? false
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if !recent.isEmpty { try c.encode(recent, forKey: .recent) }
        try c.encodeIfPresent(flappingSince, forKey: .flappingSince)
        if suppressed != 0 { try c.encode(suppressed, forKey: .suppressed) }
        try c.encodeIfPresent(lastChange, forKey: .lastChange)
        try c.encodeIfPresent(lastSummary, forKey: .lastSummary)
        if reportedOpen { try c.encode(reportedOpen, forKey: .reportedOpen) }
    }
}

/// Encodes and decodes all alarm states at once: a JSON object `{"rule@meter": state}` with short
/// keys, sorted, so equal states give equal bytes (the archive can skip unchanged writes).
public enum AlarmStateCodec {
    /// Why persisted alarm state could not be read (the integration starts from inactive and logs it).
    public struct Failure: Error, Hashable, Sendable, CustomStringConvertible {
        public let reason: String
        public var description: String { "persisted alarm state is unreadable: \(reason)" }
    }

    public static func encode(_ states: [AlarmKey: AlarmInstanceState]) -> [UInt8] {
        var flat: [String: AlarmInstanceState] = [:]
        for (key, state) in states { flat[key.rule + "@" + key.meter.rawValue] = state }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? Array(encoder.encode(flat))) ?? Array("{}".utf8)
    }

    public static func decode(_ bytes: [UInt8]) throws(Failure) -> [AlarmKey: AlarmInstanceState] {
        let flat: [String: AlarmInstanceState]
        do {
            flat = try JSONDecoder().decode([String: AlarmInstanceState].self, from: Data(bytes))
        } catch {
            throw Failure(reason: "\(error)")
        }
        var out: [AlarmKey: AlarmInstanceState] = [:]
        for (name, state) in flat {
            // Rule ids are identifiers and cannot contain '@'; meter ids neither.
            guard let at = name.firstIndex(of: "@") else { throw Failure(reason: "key \"\(name)\" is not rule@meter") }
            out[AlarmKey(rule: String(name[..<at]), meter: MeterID(String(name[name.index(after: at)...])))] = state
        }
        return out
    }
}
