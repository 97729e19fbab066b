import ConcentratorCore

/// The one migration type and runner live in `ConcentratorCore` (`SchemaMigration`, `SchemaMigrator`),
/// shared with the head-end's PostgreSQL store; these names keep the SQLite users' spelling.
public typealias SQLiteMigration = SchemaMigration
public typealias SQLiteMigrator = SchemaMigrator
public typealias SQLiteSchemaTooNew = SchemaTooNew

/// SQLite records the schema version in `PRAGMA user_version`; a migration runs inside
/// `BEGIN IMMEDIATE`, which takes the file's write lock, so other migrators wait.
extension SQLiteConnection: SchemaMigrationConnection {
    public var schemaLocation: String { path }

    public func schemaVersion() throws -> Int32 {
        Int32(try queryInt64("PRAGMA user_version") ?? 0)
    }

    public func withMigrationLock<T>(_ body: () throws -> T) throws -> T {
        try transaction(body)
    }

    public func apply(_ migration: SchemaMigration) throws {
        try execute(migration.sql)
        try execute("PRAGMA user_version = \(migration.version)")
    }
}
