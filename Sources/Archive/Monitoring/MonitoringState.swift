import ConcentratorCore
import SQLite

/// The parts of the edge-monitoring state kept in `monitoring_state` (schema v4), each the bytes of
/// its own codec (Docs/archive.md, Docs/edge-monitoring.md).
public enum MonitoringStatePart: String, Hashable, Sendable, CaseIterable {
    /// Every alarm's state (`Monitoring.AlarmStateCodec`).
    case alarms
    /// Schedules, timers and overrides set by `schedule.set` (they survive restarts; config.json is not edited).
    case schedules
    /// Each output's switching progress (`Monitoring.OutputSwitchingState`, JSON).
    case switching
    /// The POD and serial number of each meter as last reported to the head-end (`meter_identity` events).
    case identities
}

/// One write of monitoring state with what it caused: the state parts, the events, and (with an
/// uplink) the outbox entry that reports those events, all in one transaction, so a crash can lose
/// neither an alarm's new state without its event nor the event without the state.
public struct MonitoringRecord: Sendable {
    public var parts: [(part: MonitoringStatePart, value: [UInt8])]
    public var events: [ArchiveEvent]
    /// Audit entries of what was done (every switching of an output is audited).
    public var audit: [AuditEntry]
    /// Enqueued only when `events` is not empty.
    public var outbox: OutboxItem?

    public init(parts: [(part: MonitoringStatePart, value: [UInt8])], events: [ArchiveEvent] = [], audit: [AuditEntry] = [],
                outbox: OutboxItem? = nil) {
        self.parts = parts
        self.events = events
        self.audit = audit
        self.outbox = outbox
    }
}

extension ArchiveWrite where Result == Int64? {
    /// Stores state parts, events and their outbox entry in one transaction; returns the outbox
    /// sequence when an entry was enqueued.
    public static func recordMonitoring(_ record: MonitoringRecord, at time: Timestamp) -> ArchiveWrite {
        let names = record.parts.map(\.part.rawValue).joined(separator: "+")
        return ArchiveWrite("record monitoring state \(names) with \(record.events.count) events") { writer in
            var sequence: Int64?
            try writer.connection.transaction {
                for (part, value) in record.parts {
                    try writer.connection.run("INSERT OR REPLACE INTO monitoring_state(name, value, updated) VALUES (?, ?, ?)",
                                              [.text(part.rawValue), .blob(value), .integer(time.milliseconds)])
                }
                for event in record.events { try ArchiveWrite<Void>.recordEvent(event).body(writer) }
                for entry in record.audit { try ArchiveWrite<Void>.recordAudit(entry).body(writer) }
                if !record.events.isEmpty, let outbox = record.outbox { sequence = try writer.insertOutbox(outbox) }
            }
            return sequence
        }
    }
}

extension ArchiveReader {
    /// The stored bytes of one monitoring state part, or nil when none was stored yet.
    @available(*, noasync, message: "blocks on SQLite; from async code use ArchiveStore.read")
    public func monitoringState(_ part: MonitoringStatePart) throws(ArchiveError) -> [UInt8]? {
        try locked("read monitoring state \(part.rawValue)") { () throws -> [UInt8]? in
            try connection.withStatement("SELECT value FROM monitoring_state WHERE name = ?") { (s: SQLiteStatement) throws -> [UInt8]? in
                try s.bind([.text(part.rawValue)])
                return try s.step() ? s.blob(0) : nil
            }
        }
    }

    /// One quantity of one meter as stored: (gateway time, value) of every snapshot with an interval
    /// start in `from..<to` that has a value for it, in time order. Feeds `LoadCurveDeriver` (counter
    /// reads) and the spike rules' baseline (the same local quarter-hour on earlier days).
    @available(*, noasync, message: "blocks on SQLite; from async code use ArchiveStore.read")
    public func quantityValues(meter: MeterID, quantity: QuantityID, from: Timestamp, to: Timestamp,
                               series: SeriesKind) throws(ArchiveError) -> [(time: Timestamp, value: Double)] {
        var out: [(time: Timestamp, value: Double)] = []
        try forEachSnapshot(from: from, to: to, meter: meter, series: series) { snapshot in
            if let value = snapshot.values.first(where: { $0.quantity == quantity })?.value { out.append((snapshot.gatewayTime, value)) }
        }
        return out
    }
}
