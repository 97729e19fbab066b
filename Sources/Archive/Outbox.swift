import ConcentratorCore
import SQLite

/// Something waiting to go to the head-end (a sealed batch, an event report, a reply).
public struct OutboxItem: Hashable, Sendable {
    public var created: Timestamp
    /// What the payload is, for example "readings", "events" or "reply".
    public var kind: String
    /// Higher goes first when the uplink drains by priority.
    public var priority: Int
    /// The interval starts the payload covers (half-open), when it carries readings.
    public var intervals: Range<Timestamp>?
    /// The sealed batch; or, while `sealed` is false, the recipe the uplink seals it from.
    public var payload: [UInt8]
    public var sealed: Bool

    public init(created: Timestamp, kind: String, priority: Int = 0, intervals: Range<Timestamp>? = nil,
                payload: [UInt8], sealed: Bool = true) {
        self.created = created
        self.kind = kind
        self.priority = priority
        self.intervals = intervals
        self.payload = payload
        self.sealed = sealed
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
    /// Stores `item` and returns its sequence number, once durable. `essential` (event reports) may use
    /// the disk-space reserve.
    public static func enqueueOutbox(_ item: OutboxItem, essential: Bool = false) -> ArchiveWrite {
        ArchiveWrite("enqueue \(item.kind) in the outbox", essential: essential) { writer in try writer.insertOutbox(item) }
    }
}

extension ArchiveWriter {
    /// Inserts an outbox row (inside the caller's transaction, if any) and returns its sequence.
    func insertOutbox(_ item: OutboxItem) throws -> Int64 {
        try connection.run("""
            INSERT INTO outbox(created, kind, priority, interval_from, interval_to, payload, sealed)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, [.integer(item.created.milliseconds), .text(item.kind), .integer(Int64(item.priority)),
                  item.intervals.map { .integer($0.lowerBound.milliseconds) } ?? .null,
                  item.intervals.map { .integer($0.upperBound.milliseconds) } ?? .null, .blob(item.payload),
                  .integer(item.sealed ? 1 : 0)])
        return connection.lastInsertRowID
    }
}

extension ArchiveWrite where Result == [Int64] {
    /// Drops unacknowledged entries whose data ended before `cutoff` (it fell out of the archive's
    /// retention). Returns their sequences, so the caller can log and report the loss.
    public static func dropOutbox(endingBefore cutoff: Timestamp) -> ArchiveWrite {
        ArchiveWrite("drop outbox entries older than the retention", essential: true) { writer in
            let c = writer.connection
            var dropped: [Int64] = []
            try c.transaction {
                try c.withStatement("SELECT sequence FROM outbox WHERE interval_to IS NOT NULL AND interval_to <= ?") { s in
                    try s.bind([.integer(cutoff.milliseconds)])
                    while try s.step() { dropped.append(s.int64(0)) }
                }
                try c.run("DELETE FROM outbox WHERE interval_to IS NOT NULL AND interval_to <= ?", [.integer(cutoff.milliseconds)])
            }
            return dropped
        }
    }
}

extension ArchiveWrite where Result == Bool {
    /// Removes the entry after the head-end's signed acknowledgement. False if it was not there
    /// (already acknowledged).
    public static func acknowledgeOutbox(sequence: Int64) -> ArchiveWrite {
        ArchiveWrite("acknowledge outbox entry \(sequence)", essential: true) { writer in
            try writer.connection.run("DELETE FROM outbox WHERE sequence = ?", [.integer(sequence)])
            return writer.connection.changes == 1
        }
    }

    /// Replaces an unsealed entry's recipe with its sealed batch (the recipe is kept aside for
    /// `unsealOutbox`). False if it is gone or already sealed. `essential` (event reports) may use
    /// the disk-space reserve.
    public static func sealOutbox(sequence: Int64, payload: [UInt8], essential: Bool = false) -> ArchiveWrite {
        ArchiveWrite("seal outbox entry \(sequence)", essential: essential) { writer in
            try writer.connection.run("UPDATE outbox SET recipe = payload, payload = ?, sealed = 1 WHERE sequence = ? AND sealed = 0",
                                      [.blob(payload), .integer(sequence)])
            return writer.connection.changes == 1
        }
    }

    /// Puts a sealed entry's recipe back in place of its sealed bytes, so the uplink seals it again
    /// (same sequence) to the head-end key in force. False if the entry is gone, not sealed, or was
    /// sealed before recipes were kept (archive version 4).
    public static func unsealOutbox(sequence: Int64) -> ArchiveWrite {
        ArchiveWrite("unseal outbox entry \(sequence)", essential: true) { writer in
            try writer.connection.run("""
                UPDATE outbox SET payload = recipe, recipe = NULL, sealed = 0
                WHERE sequence = ? AND sealed = 1 AND recipe IS NOT NULL
                """, [.integer(sequence)])
            return writer.connection.changes == 1
        }
    }

    /// Counts one more delivery attempt of the entry. False if it is no longer there.
    public static func recordOutboxAttempt(sequence: Int64, at time: Timestamp) -> ArchiveWrite {
        ArchiveWrite("record an attempt of outbox entry \(sequence)", essential: true) { writer in
            try writer.connection.run("UPDATE outbox SET attempts = attempts + 1, last_attempt = ? WHERE sequence = ?",
                                      [.integer(time.milliseconds), .integer(sequence)])
            return writer.connection.changes == 1
        }
    }
}

extension ArchiveReader {
    /// Up to `limit` sealed, unacknowledged entries (ready to send), in `order`.
    @available(*, noasync, message: "blocks on SQLite; from async code use ArchiveStore.read")
    public func outboxPending(limit: Int, order: OutboxOrder = .oldestFirst) throws(ArchiveError) -> [OutboxEntry] {
        try outboxEntries(sealed: true, limit: limit, order: order)
    }

    /// The sealed payload of entry `sequence`, or nil if it is gone (acknowledged) or not sealed yet.
    @available(*, noasync, message: "blocks on SQLite; from async code use ArchiveStore.read")
    public func outboxSealedPayload(sequence: Int64) throws(ArchiveError) -> [UInt8]? {
        try locked("read an outbox entry") { () throws -> [UInt8]? in
            try connection.withStatement("SELECT payload FROM outbox WHERE sequence = ? AND sealed = 1") { (s: SQLiteStatement) throws -> [UInt8]? in
                try s.bind([.integer(sequence)])
                return try s.step() ? s.blob(0) : nil
            }
        }
    }

    /// Whether entry `sequence` is still in the outbox (sealed or not), i.e. not acknowledged yet.
    @available(*, noasync, message: "blocks on SQLite; from async code use ArchiveStore.read")
    public func outboxContains(sequence: Int64) throws(ArchiveError) -> Bool {
        try locked("read the outbox") {
            try connection.queryInt64("SELECT count(*) FROM outbox WHERE sequence = ?", [.integer(sequence)]) == 1
        }
    }

    /// Up to `limit` entries still waiting to be sealed, oldest first (or in `order`).
    @available(*, noasync, message: "blocks on SQLite; from async code use ArchiveStore.read")
    public func outboxUnsealed(limit: Int, order: OutboxOrder = .oldestFirst) throws(ArchiveError) -> [OutboxEntry] {
        try outboxEntries(sealed: false, limit: limit, order: order)
    }

    private func outboxEntries(sealed: Bool, limit: Int, order: OutboxOrder) throws(ArchiveError) -> [OutboxEntry] {
        let orderBy: String
        switch order {
        case .oldestFirst: orderBy = "sequence"
        case .newestFirst: orderBy = "sequence DESC"
        case .priorityThenOldest: orderBy = "priority DESC, sequence"
        }
        return try locked("list the outbox") { () throws -> [OutboxEntry] in
            try connection.withStatement("""
                SELECT sequence, created, kind, priority, interval_from, interval_to, payload, attempts, last_attempt
                FROM outbox WHERE sealed = ? ORDER BY \(orderBy) LIMIT ?
                """) { (s: SQLiteStatement) throws -> [OutboxEntry] in
                try s.bind([.integer(sealed ? 1 : 0), .integer(Int64(max(0, limit)))])
                var out: [OutboxEntry] = []
                while try s.step() {
                    let from = s.optionalInt64(4)
                    let to = s.optionalInt64(5)
                    let intervals = from.flatMap { f in to.map { t in Timestamp(milliseconds: f)..<Timestamp(milliseconds: max(f, t)) } }
                    let item = OutboxItem(created: Timestamp(milliseconds: s.int64(1)), kind: s.text(2),
                                          priority: Int(s.int64(3)), intervals: intervals, payload: s.blob(6), sealed: sealed)
                    out.append(OutboxEntry(sequence: s.int64(0), item: item, attempts: Int(s.int64(7)),
                                           lastAttempt: s.optionalInt64(8).map(Timestamp.init(milliseconds:))))
                }
                return out
            }
        }
    }

    /// How many entries wait for acknowledgement.
    @available(*, noasync, message: "blocks on SQLite; from async code use ArchiveStore.read")
    public func outboxDepth() throws(ArchiveError) -> Int {
        try locked("count the outbox") { Int(try connection.queryInt64("SELECT count(*) FROM outbox") ?? 0) }
    }

    /// The earliest interval start covered by an unacknowledged entry, or nil.
    @available(*, noasync, message: "blocks on SQLite; from async code use ArchiveStore.read")
    public func oldestUnacknowledgedInterval() throws(ArchiveError) -> Timestamp? {
        try locked("read the outbox") {
            try connection.queryInt64("SELECT min(interval_from) FROM outbox").map(Timestamp.init(milliseconds:))
        }
    }
}
