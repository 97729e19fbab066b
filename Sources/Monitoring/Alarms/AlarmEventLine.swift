import ConcentratorCore

/// The `key=value` line of a `meter_alarm` event's message, parsed (the head-end's side of
/// `AlarmTransition.event`; Docs/mqtt-api.md, "Alarm events"):
///
///     alarm=raised rule=overvoltage value=254.5 threshold=253 occurrence=3 phase=raised
///
/// Fields are separated by one space; `alarm` and `rule` are required, the others optional; unknown
/// keys are ignored (later versions may add some). Pure.
public struct AlarmEventLine: Hashable, Sendable {
    public var kind: AlarmTransition.Kind
    public var rule: String
    public var value: Double?
    public var threshold: Double?
    public var occurrence: UInt32?
    public var phase: AlarmPhase?
    public var suppressed: Int?

    public init(kind: AlarmTransition.Kind, rule: String, value: Double? = nil, threshold: Double? = nil, occurrence: UInt32? = nil,
                phase: AlarmPhase? = nil, suppressed: Int? = nil) {
        self.kind = kind
        self.rule = rule
        self.value = value
        self.threshold = threshold
        self.occurrence = occurrence
        self.phase = phase
        self.suppressed = suppressed
    }

    /// The line's fields, or nil when it is not an alarm line (no `alarm=` of a known kind, no `rule=`,
    /// or a number that does not parse).
    public static func parse(_ message: String) -> AlarmEventLine? {
        var fields: [Substring: Substring] = [:]
        for token in message.split(separator: " ", omittingEmptySubsequences: true) {
            guard let eq = token.firstIndex(of: "="), eq != token.startIndex else { return nil }
            fields[token[..<eq]] = token[token.index(after: eq)...]
        }
        guard let kindText = fields["alarm"], let kind = AlarmTransition.Kind(rawValue: String(kindText)),
              let rule = fields["rule"], !rule.isEmpty else { return nil }
        var line = AlarmEventLine(kind: kind, rule: String(rule))
        if let v = fields["value"] { guard let d = Double(v), d.isFinite else { return nil }; line.value = d }
        if let t = fields["threshold"] { guard let d = Double(t), d.isFinite else { return nil }; line.threshold = d }
        if let o = fields["occurrence"] { guard let n = UInt32(o) else { return nil }; line.occurrence = n }
        if let p = fields["phase"] { guard let phase = AlarmPhase.allCases.first(where: { $0.name == p }) else { return nil }; line.phase = phase }
        if let s = fields["suppressed"] { guard let n = Int(s), n >= 0 else { return nil }; line.suppressed = n }
        return line
    }
}
