import ConcentratorCore

/// PostgreSQL under the one migrator (`SchemaMigrator`): the version is the single row of
/// `schema_version`; each migration runs in a transaction holding a transaction-level advisory lock,
/// so head-end workers starting together apply each migration once (the others wait, then find it done).
extension PostgresConnection: SchemaMigrationConnection {
    /// The advisory lock key of schema migrations ("headend" in ASCII).
    static let migrationLockKey: Int64 = 0x68_6561_6465_6E64

    public var schemaLocation: String { location }

    public func schemaVersion() throws -> Int32 {
        // Asked of pg_class with this statement's snapshot, not through to_regclass: that answers from
        // the connection's catalog cache, which inside a transaction begun before another worker
        // committed the schema (waiting for the migration lock) can still say the table is missing,
        // and the worker would apply migration 1 again.
        let exists = try query("""
            SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                           WHERE c.relname = 'schema_version' AND n.nspname = current_schema())
            """)
        guard exists.bool(0, 0) else { return 0 }
        let rows = try query("SELECT max(version) FROM schema_version")
        return Int32(clamping: rows.optionalInt64(0, 0) ?? 0)
    }

    public func withMigrationLock<T>(_ body: () throws -> T) throws -> T {
        try transaction {
            try query("SELECT pg_advisory_xact_lock($1)", [.int64(Self.migrationLockKey)])
            return try body()
        }
    }

    public func apply(_ migration: SchemaMigration) throws {
        try execute(migration.sql)
        try execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
        try execute("DELETE FROM schema_version")
        try query("INSERT INTO schema_version (version) VALUES ($1::bigint)", [.int64(Int64(migration.version))])
    }
}
