import ConcentratorCore

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
    public var keyID: String
    public var role: String
    public var verb: String
    public var arguments: String
    public var result: String

    public init(time: Timestamp, keyID: String, role: String, verb: String, arguments: String, result: String) {
        self.time = time
        self.keyID = keyID
        self.role = role
        self.verb = verb
        self.arguments = arguments
        self.result = result
    }
}

extension ArchiveWrite where Result == Void {
    /// Stores an event.
    public static func recordEvent(_ event: ArchiveEvent) -> ArchiveWrite {
        ArchiveWrite("record event \(event.kind)") { writer in
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
                "INSERT INTO audit(time, key_id, role, verb, arguments, result) VALUES (?, ?, ?, ?, ?, ?)", [
                    .integer(entry.time.milliseconds), .text(entry.keyID), .text(entry.role), .text(entry.verb),
                    .text(entry.arguments), .text(entry.result),
                ])
        }
    }
}

extension ArchiveReader {
    /// Events with `from <= time < to`, oldest first, at most `limit`.
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

    /// Audit entries with `from <= time < to`, oldest first, at most `limit`.
    public func auditEntries(from: Timestamp, to: Timestamp, limit: Int = 1000) throws(ArchiveError) -> [AuditEntry] {
        try locked("read the audit log") { () throws -> [AuditEntry] in
            try connection.withStatement("""
                SELECT time, key_id, role, verb, arguments, result FROM audit
                WHERE time >= ? AND time < ? ORDER BY time, id LIMIT ?
                """) { (s: SQLiteStatement) throws -> [AuditEntry] in
                try s.bind([.integer(from.milliseconds), .integer(to.milliseconds), .integer(Int64(max(0, limit)))])
                var out: [AuditEntry] = []
                while try s.step() {
                    out.append(AuditEntry(time: Timestamp(milliseconds: s.int64(0)), keyID: s.text(1), role: s.text(2),
                                          verb: s.text(3), arguments: s.text(4), result: s.text(5)))
                }
                return out
            }
        }
    }
}
