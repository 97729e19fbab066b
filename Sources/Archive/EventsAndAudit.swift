import ConcentratorCore
import SQLite

/// Something that happened, kept beside the readings (a meter went silent, a port vanished, the clock
/// was set). Never carries secrets.
public struct ArchiveEvent: Hashable, Sendable {
    public var time: Timestamp
    public var bus: BusName?
    public var meter: MeterID?
    /// A short stable kind, for example "meter-silent" or "clock-set".
    public var kind: String
    public var message: String

    public init(time: Timestamp, bus: BusName? = nil, meter: MeterID? = nil, kind: String, message: String) {
        self.time = time
        self.bus = bus
        self.meter = meter
        self.kind = kind
        self.message = message
    }
}

/// One command handled (or refused): who signed it, what it asked, what happened. `arguments` must
/// not contain secrets (key material is replaced by its key id before it gets here).
public struct AuditEntry: Hashable, Sendable {
    public var time: Timestamp
    /// The signer's key id ("" when the command could not even be split).
    public var keyID: String
    /// The role of that key on this device ("" when the key is unknown).
    public var role: String
    public var verb: String
    /// The arguments as compact JSON.
    public var arguments: String
    /// The reply code (`ok`, `replayed`, …).
    public var result: String
    /// The command id, when it could be read.
    public var commandID: String?
    /// The reply's message for people.
    public var message: String

    public init(time: Timestamp, keyID: String, role: String, verb: String, arguments: String, result: String,
                commandID: String? = nil, message: String = "") {
        self.time = time
        self.keyID = keyID
        self.role = role
        self.verb = verb
        self.arguments = arguments
        self.result = result
        self.commandID = commandID
        self.message = message
    }
}

extension ArchiveWrite where Result == Void {
    /// Stores an event.
    public static func recordEvent(_ event: ArchiveEvent) -> ArchiveWrite {
        ArchiveWrite("record event \(event.kind)", essential: true) { writer in
            try writer.connection.run("INSERT INTO events(time, bus, meter, kind, message) VALUES (?, ?, ?, ?, ?)", [
                .integer(event.time.milliseconds), event.bus.map { .text($0.rawValue) } ?? .null,
                event.meter.map { .text($0.rawValue) } ?? .null, .text(event.kind), .text(event.message),
            ])
        }
    }

    /// Stores an audit entry.
    public static func recordAudit(_ entry: AuditEntry) -> ArchiveWrite {
        ArchiveWrite("record audit entry \(entry.verb)") { writer in
            try writer.connection.run(
                "INSERT INTO audit(time, key_id, role, verb, arguments, result, command_id, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
                    .integer(entry.time.milliseconds), .text(entry.keyID), .text(entry.role), .text(entry.verb),
                    .text(entry.arguments), .text(entry.result), entry.commandID.map { .text($0) } ?? .null, .text(entry.message),
                ])
        }
    }

    /// Stores a summary audit entry in place of the earlier one with the same `time` and `result`
    /// (the per-minute summary of unverifiable command messages, Docs/mqtt-api.md §11.7): one row per
    /// minute however many messages it counts, always up to date.
    public static func replaceAuditSummary(_ entry: AuditEntry) -> ArchiveWrite {
        ArchiveWrite("record audit summary \(entry.result)") { writer in
            try writer.connection.transaction {
                try writer.connection.run("DELETE FROM audit WHERE time = ? AND result = ? AND command_id IS NULL",
                                          [.integer(entry.time.milliseconds), .text(entry.result)])
                try writer.connection.run(
                    "INSERT INTO audit(time, key_id, role, verb, arguments, result, command_id, message) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)", [
                        .integer(entry.time.milliseconds), .text(entry.keyID), .text(entry.role), .text(entry.verb),
                        .text(entry.arguments), .text(entry.result), .text(entry.message),
                    ])
            }
        }
    }
}

extension ArchiveReader {
    /// Events with `from <= time < to`, oldest first, at most `limit`.
    @available(*, noasync, message: "blocks on SQLite; from async code use ArchiveStore.read")
    public func events(from: Timestamp, to: Timestamp, limit: Int = 1000) throws(ArchiveError) -> [ArchiveEvent] {
        try locked("read events") { () throws -> [ArchiveEvent] in
            try connection.withStatement("""
                SELECT time, bus, meter, kind, message FROM events WHERE time >= ? AND time < ? ORDER BY time, id LIMIT ?
                """) { (s: SQLiteStatement) throws -> [ArchiveEvent] in
                try s.bind([.integer(from.milliseconds), .integer(to.milliseconds), .integer(Int64(max(0, limit)))])
                var out: [ArchiveEvent] = []
                while try s.step() {
                    out.append(ArchiveEvent(time: Timestamp(milliseconds: s.int64(0)), bus: s.optionalText(1).map { BusName($0) },
                                            meter: s.optionalText(2).map { MeterID($0) }, kind: s.text(3), message: s.text(4)))
                }
                return out
            }
        }
    }

    /// Audit entries with `from <= time < to`, oldest first, at most `limit`, skipping the first `offset`.
    @available(*, noasync, message: "blocks on SQLite; from async code use ArchiveStore.read")
    public func auditEntries(from: Timestamp, to: Timestamp, limit: Int = 1000, offset: Int = 0) throws(ArchiveError) -> [AuditEntry] {
        try auditQuery("WHERE time >= ? AND time < ? ORDER BY time, id LIMIT ? OFFSET ?",
                       [.integer(from.milliseconds), .integer(to.milliseconds), .integer(Int64(max(0, limit))), .integer(Int64(max(0, offset)))])
    }

    /// The newest `limit` audit entries, newest first (for the console).
    @available(*, noasync, message: "blocks on SQLite; from async code use ArchiveStore.read")
    public func newestAuditEntries(limit: Int) throws(ArchiveError) -> [AuditEntry] {
        try auditQuery("ORDER BY time DESC, id DESC LIMIT ?", [.integer(Int64(max(0, limit)))])
    }

    private func auditQuery(_ tail: String, _ values: [SQLiteValue]) throws(ArchiveError) -> [AuditEntry] {
        try locked("read the audit log") { () throws -> [AuditEntry] in
            try connection.withStatement("SELECT time, key_id, role, verb, arguments, result, command_id, message FROM audit " + tail) {
                (s: SQLiteStatement) throws -> [AuditEntry] in
                try s.bind(values)
                var out: [AuditEntry] = []
                while try s.step() {
                    out.append(AuditEntry(time: Timestamp(milliseconds: s.int64(0)), keyID: s.text(1), role: s.text(2),
                                          verb: s.text(3), arguments: s.text(4), result: s.text(5), commandID: s.optionalText(6),
                                          message: s.text(7)))
                }
                return out
            }
        }
    }
}
