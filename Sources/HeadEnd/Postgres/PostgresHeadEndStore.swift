import ConcentratorCore
import Platform
import PostgreSQL
import Wire

/// The head-end's PostgreSQL store: the same data and semantics as the SQLite store
/// (`HeadEndDatabase`), in one database that any number of head-end workers share. Schema:
/// `PostgresHeadEndSchema`, Docs/headend.md.
///
/// - Ingest is idempotent by the (device, sequence) primary key of `batches`; two workers handed the
///   same batch at once both answer correctly (one stores, the other waits for its commit and finds a
///   duplicate). Snapshots and events are written with one binary COPY per batch.
/// - Readings go to monthly partitions of `snapshots`, created ahead (the current and next months at
///   open, any other month before the first batch that needs it).
/// - A lost connection (PostgreSQL restarted) fails the call in progress, so nothing is acknowledged;
///   the next call reconnects (at most once a second while the server is away).
///
/// Blocking: use it on a dedicated thread. One instance per thread.
public final class PostgresHeadEndStore: HeadEndStore {
    public let location: String
    let connection: PostgresConnection
    /// Meter and layout numbers already looked up (rows are committed before they are cached and never deleted).
    var meterNumbers: [MeterKey: Int64] = [:]
    var layoutNumbers: [[QuantityID]: Int64] = [:]
    var deviceNumbers: [String: Int64] = [:]
    /// Months that have a partition of `snapshots`.
    var partitions: Set<CalendarMonth> = []
    private var lastReconnectAttempt: ContinuousClock.Instant?

    struct MeterKey: Hashable {
        let device: Int64
        let meter: MeterID
    }

    /// How many months ahead of the clock partitions are created at open.
    public static let monthsAhead = 2

    private init(connection: PostgresConnection) {
        self.connection = connection
        location = connection.location
    }

    /// Connects to `url`, migrates the schema through the one migrator (workers starting together
    /// apply each migration once) and creates the partitions of this month and the next ones.
    public static func open(url: String, now: Timestamp, applicationName: String = "headend") throws(HeadEndError) -> PostgresHeadEndStore {
        do {
            let connection = try PostgresConnection(url: url, location: HeadEndDatabaseLocation.redacted(url),
                                                    applicationName: applicationName)
            _ = try PostgresHeadEndSchema.migrator.migrate(connection)
            let store = PostgresHeadEndStore(connection: connection)
            try store.loadPartitions()
            var month = CalendarMonth(containing: now)
            var ahead: [CalendarMonth] = []
            for _ in 0...monthsAhead {
                ahead.append(month)
                month = month.next
            }
            try store.ensurePartitions(ahead)
            return store
        } catch {
            throw HeadEndError.wrap(error)
        }
    }

    /// Connects to an existing database for queries (status, export): the schema must be current.
    public static func openForReading(url: String) throws(HeadEndError) -> PostgresHeadEndStore {
        do {
            let connection = try PostgresConnection(url: url, location: HeadEndDatabaseLocation.redacted(url), applicationName: "headend-query")
            let version = try connection.schemaVersion()
            guard version == PostgresHeadEndSchema.latestVersion else {
                if version > PostgresHeadEndSchema.latestVersion {
                    throw HeadEndError.schemaTooNew(found: version, supported: PostgresHeadEndSchema.latestVersion, path: connection.location)
                }
                throw HeadEndError.invalidRequest("\(connection.location) has schema version \(version); start a head-end once to migrate it")
            }
            return PostgresHeadEndStore(connection: connection)
        } catch {
            throw HeadEndError.wrap(error)
        }
    }

    public func close() { connection.close() }

    /// Reconnects when the connection was lost, at most once a second (a server that is away is not hammered).
    func ensureConnected() throws(HeadEndError) {
        guard !connection.isConnected else { return }
        let now = ContinuousClock.now
        if let last = lastReconnectAttempt, now - last < .seconds(1) {
            throw .postgres(PostgresError(sqlState: nil, statement: "reconnect", message: "not connected (reconnecting)",
                                          location: location, connectionLost: true))
        }
        lastReconnectAttempt = now
        do { try connection.reconnect() } catch { throw .postgres(error) }
    }

    /// Runs `body` (statements on `connection`) after making sure the connection is up; wraps errors.
    func run<T>(_ body: () throws -> T) throws(HeadEndError) -> T {
        try ensureConnected()
        do { return try body() } catch { throw HeadEndError.wrap(error) }
    }

    /// Runs `body` in one transaction, after making sure the connection is up.
    func transaction<T>(_ body: () throws -> T) throws(HeadEndError) -> T {
        try run { try connection.transaction(body) }
    }

    /// The row number of device `name`, or nil when the head-end has never heard of it.
    func deviceNumber(_ name: String) throws -> Int64? {
        if let cached = deviceNumbers[name] { return cached }
        let rows = try connection.query("SELECT id FROM devices WHERE name = $1", [.text(name)])
        guard rows.count > 0 else { return nil }
        deviceNumbers[name] = rows.int64(0, 0)
        return rows.int64(0, 0)
    }

    // MARK: Registry

    @discardableResult
    public func registerDevice(_ name: String, keys: [PublicKeyDocument], at now: Timestamp) throws(HeadEndError) -> [KeyID] {
        try HeadEndRegistryRules.check(name, keys: keys)
        return try transaction {
            let device = try connection.query("""
                INSERT INTO devices (name, registered, added) VALUES ($1, true, $2)
                ON CONFLICT (name) DO UPDATE SET registered = true RETURNING id
                """, [.text(name), .int64(now.milliseconds)]).int64(0, 0)
            var added: [KeyID] = []
            for key in keys {
                let inserted = try connection.query("""
                    INSERT INTO device_keys (device, key_id, algorithm, public_key, added) VALUES ($1, $2, $3, $4, $5)
                    ON CONFLICT DO NOTHING
                    """, [.int64(device), .text(key.id.hex), .text(key.algorithm.rawValue), .bytes(key.publicKey), .int64(now.milliseconds)])
                if inserted.affectedRows > 0 { added.append(key.id) }
            }
            let signing = try connection.query("SELECT count(*) FROM device_keys WHERE device = $1 AND algorithm = 'ed25519'",
                                               [.int64(device)]).int64(0, 0)
            guard signing > 0 else {
                throw HeadEndError.invalidRequest("device \(name) needs an Ed25519 signing key; none is registered or given")
            }
            try bumpRegistryVersion()
            return added
        }
    }

    @discardableResult
    public func unregisterDevice(_ name: String) throws(HeadEndError) -> Bool {
        try transaction {
            let rows = try connection.query("UPDATE devices SET registered = false WHERE name = $1 AND registered RETURNING id", [.text(name)])
            guard rows.count > 0 else { return false }
            try connection.query("DELETE FROM device_keys WHERE device = $1", [.int64(rows.int64(0, 0))])
            try bumpRegistryVersion()
            return true
        }
    }

    @discardableResult
    public func revokeKey(_ id: KeyID, ofDevice name: String) throws(HeadEndError) -> Bool {
        try transaction {
            let deleted = try connection.query("""
                DELETE FROM device_keys WHERE key_id = $2 AND device = (SELECT id FROM devices WHERE name = $1)
                """, [.text(name), .text(id.hex)])
            guard deleted.affectedRows > 0 else { return false }
            try bumpRegistryVersion()
            return true
        }
    }

    public func devices() throws(HeadEndError) -> [RegisteredDevice] {
        try run {
            let keyRows = try connection.query("""
                SELECT d.name, k.key_id, k.algorithm, k.public_key, k.added FROM device_keys k JOIN devices d ON d.id = k.device
                ORDER BY d.name COLLATE "C", k.added, k.key_id COLLATE "C"
                """)
            var keys: [String: [RegisteredDeviceKey]] = [:]
            for r in 0..<keyRows.count {
                let raw = keyRows.bytes(r, 3)
                keys[keyRows.text(r, 0), default: []].append(RegisteredDeviceKey(
                    id: KeyID(hex: keyRows.text(r, 1)) ?? KeyID(publicKey: raw),
                    algorithm: PublicKeyDocument.Algorithm(rawValue: keyRows.text(r, 2)) ?? .ed25519,
                    publicKey: raw, added: Timestamp(milliseconds: keyRows.int64(r, 4))))
            }
            let rows = try connection.query("SELECT name, registered, added FROM devices ORDER BY name COLLATE \"C\"")
            return rows.map { r in
                RegisteredDevice(name: rows.text(r, 0), registered: rows.bool(r, 1), added: Timestamp(milliseconds: rows.int64(r, 2)),
                                 keys: keys[rows.text(r, 0)] ?? [])
            }
        }
    }

    public func registryVersion() throws(HeadEndError) -> Int64 {
        try run { try connection.query("SELECT value FROM meta WHERE name = 'registry_version'").int64(0, 0) }
    }

    public func signingKeyDirectory() throws(HeadEndError) -> RegisteredDevices {
        try run {
            let rows = try connection.query("""
                SELECT d.name, k.public_key FROM device_keys k JOIN devices d ON d.id = k.device
                WHERE d.registered AND k.algorithm = 'ed25519'
                """)
            var keys: [String: [SigningPublicKey]] = [:]
            for r in 0..<rows.count {
                guard let key = try? SigningPublicKey(rawRepresentation: rows.bytes(r, 1)) else { continue }
                keys[rows.text(r, 0), default: []].append(key)
            }
            return RegisteredDevices(keys)
        }
    }

    private func bumpRegistryVersion() throws {
        try connection.query("UPDATE meta SET value = value + 1 WHERE name = 'registry_version'")
    }

    // MARK: Commands

    /// A PostgreSQL sequence per command key (`command_counter_<key id>`): every head-end using the
    /// database draws from it, under a transaction-level advisory lock per key, so no two instances
    /// can ever hand out the same or a lower counter. The counter is also at least `now` in ms.
    public func nextCommandCounter(keyID: KeyID, now: Timestamp) throws(HeadEndError) -> Int64 {
        let sequence = "command_counter_\(keyID.hex)"
        let next: Int64 = try transaction {
            try connection.query("SELECT pg_advisory_xact_lock($1)", [.int64(Int64(bitPattern: Self.lockKey(keyID)))])
            try connection.execute("CREATE SEQUENCE IF NOT EXISTS \(sequence) AS bigint MINVALUE 1 NO CYCLE")
            var value = try connection.query("SELECT nextval($1::regclass)", [.text(sequence)]).int64(0, 0)
            if value < now.milliseconds {
                value = try connection.query("SELECT setval($1::regclass, $2)", [.text(sequence), .int64(now.milliseconds)]).int64(0, 0)
            }
            return value
        }
        guard next <= CommandEnvelope.maximumInteger else {
            throw .other("the command counter of key \(keyID) is exhausted; generate a new command key")
        }
        return next
    }

    static func lockKey(_ keyID: KeyID) -> UInt64 {
        var key: UInt64 = 0
        for byte in keyID.bytes.prefix(8) { key = (key << 8) | UInt64(byte) }
        return key
    }
}

/// The registry's rules, the same for every store: a valid device id, and keys of role `device`
/// that name this device.
enum HeadEndRegistryRules {
    static func check(_ name: String, keys: [PublicKeyDocument]) throws(HeadEndError) {
        guard DeviceIdentifier.isValid(name) else {
            throw .invalidRequest("device id \"\(name)\" is not 1…64 characters of [A-Za-z0-9._-]")
        }
        for key in keys {
            guard key.role == "device" else {
                throw .invalidRequest("key \(key.id) has role \"\(key.role)\"; a device is registered with its own keys (role \"device\")")
            }
            guard key.device == name else {
                throw .invalidRequest("key \(key.id) belongs to device \"\(key.device ?? "?")\", not to \"\(name)\"")
            }
        }
    }
}
