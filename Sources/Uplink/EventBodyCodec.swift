import ConcentratorCore

/// What happened, as a stable numeric code on the wire. Codes are never reused; a head-end that does
/// not know a code still stores the event with its text.
public struct EventKind: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let agentStarted = EventKind(rawValue: 1)
    public static let agentStopping = EventKind(rawValue: 2)
    /// A meter stopped answering (after the configured number of failed cycles).
    public static let meterOffline = EventKind(rawValue: 3)
    /// A meter answers again.
    public static let meterOnline = EventKind(rawValue: 4)
    /// A meter reports an alarm of its own (tamper, cover open, phase loss).
    public static let meterAlarm = EventKind(rawValue: 5)
    public static let clockUnsynced = EventKind(rawValue: 6)
    public static let clockSynced = EventKind(rawValue: 7)
    /// A bus's serial port disappeared or cannot be opened.
    public static let busUnavailable = EventKind(rawValue: 8)
    public static let busAvailable = EventKind(rawValue: 9)
    public static let configChanged = EventKind(rawValue: 10)
    /// Free space on the state file system fell below the retention threshold.
    public static let storageLow = EventKind(rawValue: 11)
    public static let commandExecuted = EventKind(rawValue: 12)
    public static let commandRejected = EventKind(rawValue: 13)

    /// Known kinds with their wire names, in code order.
    public static let known: [(kind: EventKind, name: String)] = [
        (.agentStarted, "agent_started"), (.agentStopping, "agent_stopping"), (.meterOffline, "meter_offline"),
        (.meterOnline, "meter_online"), (.meterAlarm, "meter_alarm"), (.clockUnsynced, "clock_unsynced"),
        (.clockSynced, "clock_synced"), (.busUnavailable, "bus_unavailable"), (.busAvailable, "bus_available"),
        (.configChanged, "config_changed"), (.storageLow, "storage_low"), (.commandExecuted, "command_executed"),
        (.commandRejected, "command_rejected"),
    ]

    /// The kind with this wire name (as `known` lists it), if any.
    public init?(name: String) {
        guard let k = Self.known.first(where: { $0.name == name }) else { return nil }
        self = k.kind
    }

    /// The wire name, or `kind_<code>` for a code this build does not know.
    public var description: String { Self.known.first { $0.kind == self }?.name ?? "kind_\(rawValue)" }
}

/// How urgent an event is. Raw values are on the wire.
public enum EventSeverity: UInt8, Hashable, Sendable, CaseIterable {
    case info = 0
    case warning = 1
    case alarm = 2
    case critical = 3
}

/// One event for the head-end: an alarm or a status change, sent at once in a small batch.
public struct UplinkEvent: Hashable, Sendable {
    public var time: Timestamp
    /// The meter concerned, if any.
    public var meter: MeterID?
    public var kind: EventKind
    public var severity: EventSeverity
    /// A short human-readable detail (at most 1024 UTF-8 bytes).
    public var text: String

    public init(time: Timestamp, meter: MeterID? = nil, kind: EventKind, severity: EventSeverity, text: String = "") {
        self.time = time
        self.meter = meter
        self.kind = kind
        self.severity = severity
        self.text = text
    }
}

/// The body of an event batch: a meter table, then each event's time (delta), meter, kind, severity
/// and text. Pure. Layout: Docs/mqtt-api.md, "Event body".
public enum EventBodyCodec {
    public static func encode(_ events: [UplinkEvent]) throws(BatchEncodingError) -> [UInt8] {
        guard !events.isEmpty else { throw .empty }
        guard events.count <= BodyLimits.maximumEvents else {
            throw .tooLarge(what: "events", count: events.count, maximum: BodyLimits.maximumEvents)
        }
        var meterIndex: [MeterID: Int] = [:]
        var meters: [MeterID] = []
        for e in events {
            if let m = e.meter, meterIndex[m] == nil {
                guard m.rawValue.utf8.count <= BodyLimits.maximumMeterIDBytes else {
                    throw .textTooLong(what: "meter id", bytes: m.rawValue.utf8.count, maximum: BodyLimits.maximumMeterIDBytes)
                }
                meterIndex[m] = meters.count
                meters.append(m)
            }
            guard e.text.utf8.count <= BodyLimits.maximumEventTextBytes else {
                throw .textTooLong(what: "event text", bytes: e.text.utf8.count, maximum: BodyLimits.maximumEventTextBytes)
            }
        }
        var w = ByteWriter()
        w.varint(meters.count)
        for m in meters { w.string(m.rawValue) }
        w.varint(events.count)
        var previous: Int64 = 0
        for e in events {
            w.svarint(e.time.milliseconds &- previous)
            previous = e.time.milliseconds
            w.varint(e.meter.map { meterIndex[$0]! + 1 } ?? 0)
            w.varint(UInt64(e.kind.rawValue))
            w.u8(e.severity.rawValue)
            w.string(e.text)
        }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(WireFormatError) -> [UplinkEvent] {
        var r = ByteReader(bytes)
        let meterCount = try r.count("meter count", atMost: min(r.remaining, BodyLimits.maximumEvents))
        var meters: [MeterID] = []
        for _ in 0..<meterCount { meters.append(MeterID(try r.string("meter id", maximumBytes: BodyLimits.maximumMeterIDBytes))) }
        let count = try r.count("event count", atMost: min(r.remaining, BodyLimits.maximumEvents))
        var events: [UplinkEvent] = []
        var previous: Int64 = 0
        for _ in 0..<count {
            let time = previous &+ (try r.svarint("event time"))
            previous = time
            let meterRef = try r.count("event meter", atMost: meterCount)
            let kind = try r.count("event kind", atMost: Int(UInt16.max))
            let severityByte = try r.u8("event severity")
            guard let severity = EventSeverity(rawValue: severityByte) else {
                throw WireFormatError("unknown event severity \(severityByte)", at: r.offset - 1)
            }
            let text = try r.string("event text", maximumBytes: BodyLimits.maximumEventTextBytes)
            events.append(UplinkEvent(time: Timestamp(milliseconds: time), meter: meterRef == 0 ? nil : meters[meterRef - 1],
                                      kind: EventKind(rawValue: UInt16(kind)), severity: severity, text: text))
        }
        guard r.isAtEnd else { throw r.error("\(r.remaining) bytes after the last event") }
        return events
    }
}
