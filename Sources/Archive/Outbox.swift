import ConcentratorCore

/// Something waiting to go to the head-end (a sealed batch, an event report, a reply).
public struct OutboxItem: Hashable, Sendable {
    public var created: Timestamp
    /// What the payload is, for example "readings", "events" or "reply".
    public var kind: String
    /// Higher goes first when the uplink drains by priority.
    public var priority: Int
    /// The interval starts the payload covers (half-open), when it carries readings.
    public var intervals: Range<Timestamp>?
    public var payload: [UInt8]

    public init(created: Timestamp, kind: String, priority: Int = 0, intervals: Range<Timestamp>? = nil,
                payload: [UInt8]) {
        self.created = created
        self.kind = kind
        self.priority = priority
        self.intervals = intervals
        self.payload = payload
    }
}

/// A stored outbox item with its sequence number and delivery attempts.
public struct OutboxEntry: Hashable, Sendable {
    /// Assigned by the archive, strictly increasing, never reused (the head-end dedups by it).
    public var sequence: Int64
    public var item: OutboxItem
    public var attempts: Int
    public var lastAttempt: Timestamp?
}

/// The order in which `ArchiveReader.outboxPending` lists entries.
public enum OutboxOrder: Sendable {
    /// Lowest sequence first.
    case oldestFirst
    /// Highest sequence first (latest data first after a long outage).
    case newestFirst
    /// Highest priority first, then lowest sequence.
    case priorityThenOldest
}

extension ArchiveWrite where Result == Int64 {
    /// Stores `item` and returns its sequence number, once durable.
    public static func enqueueOutbox(_ item: OutboxItem) -> ArchiveWrite {
        ArchiveWrite("enqueue \(item.kind) in the outbox") { writer in
            let c = writer.connection
            try c.run("""
                INSERT INTO outbox(created, kind, priority, interval_from, interval_to, payload)
                VALUES (?, ?, ?, ?, ?, ?)
                """, [.integer(item.created.milliseconds), .text(item.kind), .integer(Int64(item.priority)),
                      item.intervals.map { .integer($0.lowerBound.milliseconds) } ?? .null,
                      item.intervals.map { .integer($0.upperBound.milliseconds) } ?? .null, .blob(item.payload)])
            return c.lastInsertRowID
        }
    }
}

extension ArchiveWrite where Result == Bool {
    /// Removes the entry after the head-end's signed acknowledgement. False if it was not there
    /// (already acknowledged).
    public static func acknowledgeOutbox(sequence: Int64) -> ArchiveWrite {
        ArchiveWrite("acknowledge outbox entry \(sequence)") { writer in
            try writer.connection.run("DELETE FROM outbox WHERE sequence = ?", [.integer(sequence)])
            return writer.connection.changes == 1
        }
    }

    /// Counts one more delivery attempt of the entry. False if it is no longer there.
    public static func recordOutboxAttempt(sequence: Int64, at time: Timestamp) -> ArchiveWrite {
        ArchiveWrite("record an attempt of outbox entry \(sequence)") { writer in
            try writer.connection.run("UPDATE outbox SET attempts = attempts + 1, last_attempt = ? WHERE sequence = ?",
                                      [.integer(time.milliseconds), .integer(sequence)])
            return writer.connection.changes == 1
        }
    }
}

extension ArchiveReader {
    /// Up to `limit` unacknowledged entries, in `order`.
    public func outboxPending(limit: Int, order: OutboxOrder = .oldestFirst) throws(ArchiveError) -> [OutboxEntry] {
        let orderBy: String
        switch order {
        case .oldestFirst: orderBy = "sequence"
        case .newestFirst: orderBy = "sequence DESC"
        case .priorityThenOldest: orderBy = "priority DESC, sequence"
        }
        return try locked("list the outbox") { () throws -> [OutboxEntry] in
            try connection.withStatement("""
                SELECT sequence, created, kind, priority, interval_from, interval_to, payload, attempts, last_attempt
                FROM outbox ORDER BY \(orderBy) LIMIT ?
                """) { (s: SQLiteStatement) throws -> [OutboxEntry] in
                try s.bind([.integer(Int64(max(0, limit)))])
                var out: [OutboxEntry] = []
                while try s.step() {
                    let from = s.optionalInt64(4)
                    let to = s.optionalInt64(5)
                    let intervals = from.flatMap { f in to.map { t in Timestamp(milliseconds: f)..<Timestamp(milliseconds: max(f, t)) } }
                    let item = OutboxItem(created: Timestamp(milliseconds: s.int64(1)), kind: s.text(2),
                                          priority: Int(s.int64(3)), intervals: intervals, payload: s.blob(6))
                    out.append(OutboxEntry(sequence: s.int64(0), item: item, attempts: Int(s.int64(7)),
                                           lastAttempt: s.optionalInt64(8).map(Timestamp.init(milliseconds:))))
                }
                return out
            }
        }
    }

    /// How many entries wait for acknowledgement.
    public func outboxDepth() throws(ArchiveError) -> Int {
        try locked("count the outbox") { Int(try connection.queryInt64("SELECT count(*) FROM outbox") ?? 0) }
    }

    /// The earliest interval start covered by an unacknowledged entry, or nil.
    public func oldestUnacknowledgedInterval() throws(ArchiveError) -> Timestamp? {
        try locked("read the outbox") {
            try connection.queryInt64("SELECT min(interval_from) FROM outbox").map(Timestamp.init(milliseconds:))
        }
    }
}
