import ConcentratorCore

/// One rule on one meter: the unit of alarm state.
public struct AlarmKey: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let rule: String
    public let meter: MeterID

    public init(rule: String, meter: MeterID) {
        self.rule = rule
        self.meter = meter
    }

    public static func < (a: AlarmKey, b: AlarmKey) -> Bool { (a.rule, a.meter.rawValue) < (b.rule, b.meter.rawValue) }
    public var description: String { "\(rule)@\(meter)" }
}

/// Where an alarm is in its life: inactive → pending (waiting out the minimum duration) → raised →
/// acknowledged (by an operator) → cleared (the condition went away). A cleared alarm behaves like an
/// inactive one; the next occurrence starts over at pending. Raw values are the persisted form.
public enum AlarmPhase: UInt8, Hashable, Sendable, Codable, CaseIterable {
    case inactive = 0, pending = 1, raised = 2, acknowledged = 3, cleared = 4

    /// Raised or acknowledged: the condition holds and the alarm is open.
    public var isOpen: Bool { self == .raised || self == .acknowledged }
    public var name: String { String(describing: self) }
}

/// What one meter reported at one time, as the alarm rules see it: quantity values (errors left out)
/// and named status flags.
public struct MeterObservation: Hashable, Sendable {
    public var meter: MeterID
    public var time: Timestamp
    public var values: [QuantityID: Double]
    public var flags: [String: Bool]

    public init(meter: MeterID, time: Timestamp, values: [QuantityID: Double], flags: [String: Bool] = [:]) {
        self.meter = meter
        self.time = time
        self.values = values
        self.flags = flags
    }

    /// The values of a snapshot (read at its gateway time), with the flags decoded from the status register.
    public init(snapshot: MeterSnapshot, flags: [String: Bool] = [:]) {
        var values: [QuantityID: Double] = [:]
        for v in snapshot.values { if let value = v.value { values[v.quantity] = value } }
        self.init(meter: snapshot.meter, time: snapshot.gatewayTime, values: values, flags: flags)
    }
}

/// A meter stopped answering or answers again (the agent's `meter_offline` / `meter_online` events).
public struct CommunicationChange: Hashable, Sendable {
    public var meter: MeterID
    public var time: Timestamp
    public var answering: Bool

    public init(meter: MeterID, time: Timestamp, answering: Bool) {
        self.meter = meter
        self.time = time
        self.answering = answering
    }
}

/// A finished quarter-hour of one quantity with the same local quarter-hour of earlier days, for
/// spike rules. The integration takes both from the load curve (counters: the quarter-hour's
/// increase) or the profile series; `SpikeBaseline` picks the baseline values.
public struct QuarterHourObservation: Hashable, Sendable {
    public var meter: MeterID
    public var quantity: QuantityID
    public var intervalStart: Timestamp
    public var value: Double
    /// The values of the same local quarter-hour on up to the rule's `days` previous days (missing days left out).
    public var baseline: [Double]

    public init(meter: MeterID, quantity: QuantityID, intervalStart: Timestamp, value: Double, baseline: [Double]) {
        self.meter = meter
        self.quantity = quantity
        self.intervalStart = intervalStart
        self.value = value
        self.baseline = baseline
    }

    /// When the quarter-hour ended (the time the observation is evaluated at).
    public var time: Timestamp { intervalStart.adding(seconds: 900) }
}

/// Something the alarm engine reports: goes out as a `meter_alarm` event at once and is archived.
public struct AlarmTransition: Hashable, Sendable, Codable {
    /// What happened; raw values are the names in the event line.
    public enum Kind: String, Hashable, Sendable, Codable {
        case raised, cleared, acknowledged
        /// The rate limit stopped forwarding this alarm's raises and clears (one summary, then at most one an hour).
        case flapping
        /// An hour passed without a change: forwarding resumes; `phase` tells the state now.
        case flappingEnded = "flapping_ended"
    }

    public var kind: Kind
    public var key: AlarmKey
    public var time: Timestamp
    public var severity: GatewayEvent.Severity
    /// The value that decided (the reading, the quarter-hour value, the consumption over the period).
    public var value: Double?
    /// The limit it was compared with (for spikes: factor × median).
    public var threshold: Double?
    /// How many times this rule has been raised on this meter (the current occurrence).
    public var occurrence: UInt32
    /// The phase after the transition.
    public var phase: AlarmPhase
    /// Raises and clears not forwarded since flapping began (flapping summaries only).
    public var suppressed: Int?

    public init(kind: Kind, key: AlarmKey, time: Timestamp, severity: GatewayEvent.Severity, value: Double?, threshold: Double?,
                occurrence: UInt32, phase: AlarmPhase, suppressed: Int? = nil) {
        self.kind = kind
        self.key = key
        self.time = time
        self.severity = severity
        self.value = value
        self.threshold = threshold
        self.occurrence = occurrence
        self.phase = phase
        self.suppressed = suppressed
    }

    /// The event that carries the transition on the uplink and in the archive (kind `meter_alarm`).
    /// The message is a stable `key=value` line the head-end parses: `alarm=raised rule=overvoltage
    /// value=256.4 threshold=253 occurrence=3 phase=raised` (Docs/edge-monitoring.md, "Delivery").
    public var event: GatewayEvent {
        var parts = ["alarm=\(kind.rawValue)", "rule=\(key.rule)"]
        if let value { parts.append("value=\(DecimalText.format(value, maximumFractionDigits: 6))") }
        if let threshold { parts.append("threshold=\(DecimalText.format(threshold, maximumFractionDigits: 6))") }
        parts.append("occurrence=\(occurrence)")
        parts.append("phase=\(phase.name)")
        if let suppressed { parts.append("suppressed=\(suppressed)") }
        let severity: GatewayEvent.Severity = kind == .raised || kind == .flapping ? self.severity : .info
        return GatewayEvent(time: time, kind: .meterAlarm, severity: severity, meter: key.meter, message: parts.joined(separator: " "))
    }
}

/// The result of an acknowledgement (the `alarm.ack` verb).
public enum AcknowledgementResult: Hashable, Sendable {
    case acknowledged(AlarmTransition)
    case alreadyAcknowledged
    /// The alarm is not open (never raised, or cleared already).
    case notOpen(AlarmPhase)
    case unknownAlarm
}

/// Decimal text without Foundation: at most `maximumFractionDigits` digits, trailing zeros dropped.
public enum DecimalText {
    public static func format(_ value: Double, maximumFractionDigits: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value > 0 ? "inf" : "-inf") }
        let scale = pow10(maximumFractionDigits)
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9.0e15 else { return String(value) }
        let units = Int64(scaled)
        let whole = units / Int64(scale), fraction = units % Int64(scale)
        var text = (value < 0 && units != 0 ? "-" : "") + String(whole)
        if fraction != 0 {
            var digits = String(fraction)
            digits = String(repeating: "0", count: maximumFractionDigits - digits.count) + digits
            while digits.hasSuffix("0") { digits.removeLast() }
            text += "." + digits
        }
        return text
    }

    /// Exactly `fractionDigits` digits after the point (exports: "0.250").
    public static func fixed(_ value: Double, fractionDigits: Int) -> String {
        let scale = pow10(fractionDigits)
        let units = Int64((abs(value) * scale).rounded())
        let whole = units / Int64(scale), fraction = units % Int64(scale)
        var text = (value < 0 && units != 0 ? "-" : "") + String(whole)
        if fractionDigits > 0 {
            let digits = String(fraction)
            text += "." + String(repeating: "0", count: fractionDigits - digits.count) + digits
        }
        return text
    }

    private static func pow10(_ n: Int) -> Double {
        var r = 1.0
        for _ in 0..<n { r *= 10 }
        return r
    }
}
