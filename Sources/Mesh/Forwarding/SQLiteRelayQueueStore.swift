import ConcentratorCore
import SQLite

/// The mesh database's schema history (`<state>/mesh.sqlite`), applied by the project's one
/// migrator (`SQLiteMigrator`). Docs/mesh.md, "Store-carry-forward", describes the tables.
public enum MeshStoreMigrations {
    public static let all: [SQLiteMigration] = [
        SQLiteMigration(version: 1, summary: "relay queue, origin turns, mesh counters", sql: """
            -- One row per message a relay holds until its next hop (or the broker) has it.
            CREATE TABLE relay_queue (
                type INTEGER NOT NULL,
                subject INTEGER NOT NULL,
                sequence INTEGER NOT NULL,
                ttl INTEGER NOT NULL,
                hop_count INTEGER NOT NULL,
                origin INTEGER NOT NULL,
                destination INTEGER NOT NULL,
                attempt INTEGER NOT NULL,
                priority INTEGER NOT NULL,
                payload BLOB NOT NULL,
                received_from INTEGER,
                received_at INTEGER NOT NULL,
                transmissions INTEGER NOT NULL DEFAULT 0,
                next_attempt_at INTEGER NOT NULL,
                last_next_hop INTEGER,
                PRIMARY KEY (type, subject, sequence)
            ) STRICT;
            CREATE INDEX relay_queue_due ON relay_queue(next_attempt_at);
            -- Round robin over origins: the subject served least recently goes first.
            CREATE TABLE relay_turns (
                subject INTEGER PRIMARY KEY,
                turn INTEGER NOT NULL
            ) STRICT;
            -- The frame counter's reservation (persisted before any counter in it is used).
            CREATE TABLE mesh_counters (
                name TEXT PRIMARY KEY,
                value INTEGER NOT NULL
            ) STRICT, WITHOUT ROWID;
            """),
    ]
}

/// The relay queue in SQLite (WAL, synchronous=FULL): `insert` is committed before it returns, so
/// what a relay hop-acknowledged survives its reboot. Bounded by `capacity` messages and
/// `payloadCapacityBytes` (an insert beyond them fails, and a failed insert is never hop-acked). Also
/// the node's frame-counter store. Not thread-safe: it lives on the mesh thread (a dedicated
/// thread, so its blocking calls never run on the cooperative pool).
public final class SQLiteRelayQueueStore: RelayQueueStore, MeshCounterStore {
    let connection: SQLiteConnection
    public let capacity: Int
    public let payloadCapacityBytes: Int
    private var heldCount = 0
    private var heldBytes = 0

    /// Opens (creating if needed) the mesh database at `path` and migrates it.
    public init(path: String, capacity: Int = 2_048, payloadCapacityBytes: Int = 8 << 20) throws(RelayQueueStoreError) {
        self.capacity = capacity
        self.payloadCapacityBytes = payloadCapacityBytes
        do {
            connection = try SQLiteConnection(path: path, mode: .readWrite(create: true))
            connection.setBusyTimeout(milliseconds: 5_000)
            _ = try connection.queryText("PRAGMA journal_mode = WAL")
            try connection.execute("PRAGMA synchronous = FULL")
            _ = try SQLiteMigrator(MeshStoreMigrations.all).migrate(connection)
            heldCount = Int(try connection.queryInt64("SELECT COUNT(*) FROM relay_queue") ?? 0)
            heldBytes = Int(try connection.queryInt64("SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM relay_queue") ?? 0)
        } catch {
            throw RelayQueueStoreError("mesh database \(path): \(error); check the state directory")
        }
    }

    /// After a restart: every held message is due now and its age counts from `now` (the timers are
    /// monotonic instants of the previous run, meaningless in this one).
    public func restartTimers(at now: Timestamp) throws(RelayQueueStoreError) {
        try guarded("relay queue restart") { () throws in
            try connection.run("UPDATE relay_queue SET next_attempt_at = ?1, received_at = ?1", [.integer(now.milliseconds)])
        }
    }

    /// Closes the database (the process's end, or a test's simulated power cut).
    public func close() { connection.close() }

    // MARK: RelayQueueStore

    public func insert(_ entry: RelayQueueEntry) throws(RelayQueueStoreError) -> RelayInsertOutcome {
        try guarded("relay queue insert") { () throws -> RelayInsertOutcome in
            try connection.transaction {
                let keyValues = Self.keyValues(entry.key)
                let held = try connection.withStatement("SELECT attempt, LENGTH(payload) FROM relay_queue WHERE type = ? AND subject = ? AND sequence = ?") { s in
                    try s.bind(keyValues)
                    return try s.step() ? (attempt: s.int64(0), bytes: Int(s.int64(1))) : nil
                }
                if let held {
                    if Int64(entry.route.attempt) > held.attempt {
                        try connection.run("""
                            UPDATE relay_queue SET ttl = ?, hop_count = ?, attempt = ?, payload = ?, next_attempt_at = MIN(next_attempt_at, ?)
                            WHERE type = ? AND subject = ? AND sequence = ?
                            """, [.integer(Int64(entry.route.ttl)), .integer(Int64(entry.route.hopCount)), .integer(Int64(entry.route.attempt)),
                                  .blob(entry.payload), .integer(entry.nextAttemptAt.milliseconds)] + keyValues)
                        heldBytes += entry.payload.count - held.bytes
                    }
                    return .alreadyHeld
                }
                guard heldCount < capacity, heldBytes + entry.payload.count <= payloadCapacityBytes else {
                    throw RelayQueueStoreError("relay queue is full (\(heldCount) messages, \(heldBytes) bytes); the previous hop keeps its copy")
                }
                try connection.run("""
                    INSERT INTO relay_queue (type, subject, sequence, ttl, hop_count, origin, destination, attempt, priority, payload,
                        received_from, received_at, transmissions, next_attempt_at, last_next_hop)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, keyValues + [
                        .integer(Int64(entry.route.ttl)), .integer(Int64(entry.route.hopCount)), Self.node(entry.route.origin),
                        Self.node(entry.route.destination), .integer(Int64(entry.route.attempt)), .integer(Int64(entry.priority.rawValue)),
                        .blob(entry.payload), entry.receivedFrom.map(Self.node) ?? .null, .integer(entry.receivedAt.milliseconds),
                        .integer(Int64(entry.transmissions)), .integer(entry.nextAttemptAt.milliseconds), entry.lastNextHop.map(Self.node) ?? .null,
                    ])
                heldCount += 1
                heldBytes += entry.payload.count
                return .inserted
            }
        }
    }

    public func ready(at now: Timestamp, limit: Int) -> [RelayQueueEntry] {
        (try? select("""
            WHERE q.next_attempt_at <= ? ORDER BY q.priority, COALESCE(t.turn, 0), q.subject, q.sequence, q.type LIMIT ?
            """, [.integer(now.milliseconds), .integer(Int64(limit))])) ?? []
    }

    public func recordTransmission(_ key: MeshMessageKey, to nextHop: MeshNodeID, nextAttemptAt: Timestamp) throws(RelayQueueStoreError) {
        try guarded("relay queue transmission") { () throws in
            try connection.transaction {
                try connection.run("""
                    UPDATE relay_queue SET transmissions = transmissions + 1, last_next_hop = ?, next_attempt_at = ?
                    WHERE type = ? AND subject = ? AND sequence = ?
                    """, [Self.node(nextHop), .integer(nextAttemptAt.milliseconds)] + Self.keyValues(key))
                guard connection.changes > 0 else { return }
                try connection.run("""
                    INSERT INTO relay_turns (subject, turn) VALUES (?1, (SELECT COALESCE(MAX(turn), 0) + 1 FROM relay_turns))
                    ON CONFLICT (subject) DO UPDATE SET turn = (SELECT COALESCE(MAX(turn), 0) + 1 FROM relay_turns)
                    """, [Self.node(key.subject)])
            }
        }
    }

    public func postpone(_ key: MeshMessageKey, until: Timestamp) throws(RelayQueueStoreError) {
        try guarded("relay queue postpone") { () throws in
            try connection.run("UPDATE relay_queue SET next_attempt_at = ? WHERE type = ? AND subject = ? AND sequence = ?",
                               [.integer(until.milliseconds)] + Self.keyValues(key))
        }
    }

    @discardableResult
    public func remove(_ key: MeshMessageKey) throws(RelayQueueStoreError) -> Bool {
        try guarded("relay queue remove") { () throws -> Bool in
            try connection.transaction {
                let bytes = try connection.queryInt64("SELECT LENGTH(payload) FROM relay_queue WHERE type = ? AND subject = ? AND sequence = ?",
                                                      Self.keyValues(key))
                guard let bytes else { return false }
                try connection.run("DELETE FROM relay_queue WHERE type = ? AND subject = ? AND sequence = ?", Self.keyValues(key))
                try connection.run("DELETE FROM relay_turns WHERE subject = ?1 AND NOT EXISTS (SELECT 1 FROM relay_queue WHERE subject = ?1)",
                                   [Self.node(key.subject)])
                heldCount -= 1
                heldBytes -= Int(bytes)
                return true
            }
        }
    }

    public func entry(_ key: MeshMessageKey) -> RelayQueueEntry? {
        (try? select("WHERE q.type = ? AND q.subject = ? AND q.sequence = ?", Self.keyValues(key)))?.first
    }

    public var count: Int { heldCount }

    public func count(subject: MeshNodeID) -> Int {
        Int((try? connection.queryInt64("SELECT COUNT(*) FROM relay_queue WHERE subject = ?", [Self.node(subject)])) ?? 0)
    }

    public var subjectCount: Int { Int((try? connection.queryInt64("SELECT COUNT(DISTINCT subject) FROM relay_queue")) ?? 0) }

    public var payloadBytes: Int { heldBytes }

    public var earliestAttempt: Timestamp? {
        guard heldCount > 0 else { return nil }
        return ((try? connection.queryInt64("SELECT MIN(next_attempt_at) FROM relay_queue")) ?? nil).map { Timestamp(milliseconds: $0) }
    }

    public func all() -> [RelayQueueEntry] {
        ((try? select("", [])) ?? []).sorted { $0.key < $1.key }
    }

    // MARK: MeshCounterStore

    public func loadReservation() throws -> UInt64 {
        UInt64(bitPattern: try connection.queryInt64("SELECT value FROM mesh_counters WHERE name = 'frame_counter'") ?? 0)
    }

    public func persistReservation(_ limit: UInt64) throws {
        try connection.run("INSERT INTO mesh_counters (name, value) VALUES ('frame_counter', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                           [.integer(Int64(bitPattern: limit))])
    }

    // MARK: Rows

    /// Node addresses are unsigned 64-bit: stored with the top bit flipped, so SQLite's signed order
    /// is the addresses' order (ties in `ready` break like the in-memory store's).
    static func node(_ id: MeshNodeID) -> SQLiteValue { .integer(Int64(bitPattern: id.rawValue ^ (1 << 63))) }
    static func nodeID(_ value: Int64) -> MeshNodeID { MeshNodeID(UInt64(bitPattern: value) ^ (1 << 63)) }

    static func keyValues(_ key: MeshMessageKey) -> [SQLiteValue] {
        [.integer(Int64(key.type.rawValue)), node(key.subject), .integer(Int64(bitPattern: key.sequence))]
    }

    private func select(_ tail: String, _ values: [SQLiteValue]) throws -> [RelayQueueEntry] {
        let sql = """
            SELECT q.type, q.subject, q.sequence, q.ttl, q.hop_count, q.origin, q.destination, q.attempt, q.priority, q.payload,
                q.received_from, q.received_at, q.transmissions, q.next_attempt_at, q.last_next_hop
            FROM relay_queue q LEFT JOIN relay_turns t ON t.subject = q.subject
            """ + (tail.isEmpty ? "" : " " + tail)
        return try connection.withStatement(sql) { s in
            try s.bind(values)
            var rows: [RelayQueueEntry] = []
            while try s.step() {
                guard let type = MeshFrameType(rawValue: UInt8(truncatingIfNeeded: s.int64(0))),
                      let priority = MeshPriority(rawValue: UInt8(truncatingIfNeeded: s.int64(8))) else { continue }
                let sequence = UInt64(bitPattern: s.int64(2))
                rows.append(RelayQueueEntry(
                    key: MeshMessageKey(type: type, subject: Self.nodeID(s.int64(1)), sequence: sequence),
                    route: MeshRouteHeader(ttl: UInt8(truncatingIfNeeded: s.int64(3)), hopCount: UInt8(truncatingIfNeeded: s.int64(4)),
                                           origin: Self.nodeID(s.int64(5)), destination: Self.nodeID(s.int64(6)), sequence: sequence,
                                           attempt: UInt8(truncatingIfNeeded: s.int64(7))),
                    priority: priority, payload: s.blob(9), receivedFrom: s.optionalInt64(10).map(Self.nodeID),
                    receivedAt: Timestamp(milliseconds: s.int64(11)), transmissions: UInt32(truncatingIfNeeded: s.int64(12)),
                    nextAttemptAt: Timestamp(milliseconds: s.int64(13)), lastNextHop: s.optionalInt64(14).map(Self.nodeID)))
            }
            return rows
        }
    }

    /// Runs `body`, turning any failure into a `RelayQueueStoreError` that names the operation (never the payload).
    private func guarded<T>(_ what: String, _ body: () throws -> T) throws(RelayQueueStoreError) -> T {
        do {
            return try body()
        } catch let e as RelayQueueStoreError {
            resynchronise()
            throw e
        } catch {
            resynchronise()
            throw RelayQueueStoreError("\(what): \(error)")
        }
    }

    /// Reads the held count and bytes again (after a failed transaction rolled back).
    private func resynchronise() {
        heldCount = Int((try? connection.queryInt64("SELECT COUNT(*) FROM relay_queue")) ?? nil ?? Int64(heldCount))
        heldBytes = Int((try? connection.queryInt64("SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM relay_queue")) ?? nil ?? Int64(heldBytes))
    }
}
