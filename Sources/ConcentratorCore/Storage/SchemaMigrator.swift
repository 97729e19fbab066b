/// One numbered schema change. Applied once, in its own transaction, and recorded as the database's
/// schema version. Never edit a released migration: add the next one.
public struct SchemaMigration: Sendable {
    public let version: Int32
    public let summary: String
    public let sql: String

    public init(version: Int32, summary: String, sql: String) {
        self.version = version
        self.summary = summary
        self.sql = sql
    }
}

/// What the one migrator needs from a database connection: SQLite (`PRAGMA user_version`,
/// `BEGIN IMMEDIATE`) and PostgreSQL (a version table, an advisory lock) each implement it.
public protocol SchemaMigrationConnection {
    /// Where the database is, for errors (a path, or a URL without its password).
    var schemaLocation: String { get }
    /// The recorded schema version; 0 for a new database.
    func schemaVersion() throws -> Int32
    /// Runs `body` in one transaction that no other migrator of the same database runs beside
    /// (it waits for the other to finish). An error rolls the transaction back.
    func withMigrationLock<T>(_ body: () throws -> T) throws -> T
    /// Inside `withMigrationLock`: runs the migration's SQL and records its version.
    func apply(_ migration: SchemaMigration) throws
}

/// The database was written by a newer program: its schema version is above every migration this
/// build knows. The caller names the program to upgrade in its own error.
public struct SchemaTooNew: Error, Hashable, Sendable, CustomStringConvertible {
    public let found: Int32
    public let supported: Int32
    public let path: String

    public init(found: Int32, supported: Int32, path: String) {
        self.found = found
        self.supported = supported
        self.path = path
    }

    public var description: String {
        "\(path) has schema version \(found), but this program knows versions up to \(supported); run a newer version"
    }
}

/// The one migration runner (the archive's and both head-end stores' schemas run through it): brings a
/// database to the newest of `migrations`, one transaction per migration. Inside each transaction it
/// reads the version again, so that two processes opening the same database together apply each
/// migration once (the second finds the work done once it holds the lock).
public struct SchemaMigrator: Sendable {
    public let migrations: [SchemaMigration]

    /// `migrations` in ascending version order, starting at 1.
    public init(_ migrations: [SchemaMigration]) {
        self.migrations = migrations
    }

    /// The newest schema version this build knows.
    public var latestVersion: Int32 { migrations.last?.version ?? 0 }

    /// The database's recorded version.
    public static func version(of connection: some SchemaMigrationConnection) throws -> Int32 {
        try connection.schemaVersion()
    }

    /// Applies every migration above the database's version. Returns the versions this call applied.
    /// Throws `SchemaTooNew` when the database is newer than this build, the connection's error on failure.
    public func migrate(_ connection: some SchemaMigrationConnection) throws -> [Int32] {
        let current = try connection.schemaVersion()
        guard current <= latestVersion else {
            throw SchemaTooNew(found: current, supported: latestVersion, path: connection.schemaLocation)
        }
        var applied: [Int32] = []
        for migration in migrations where migration.version > current {
            try connection.withMigrationLock {
                // Another process may have applied it since the first read: check again under the lock.
                let now = try connection.schemaVersion()
                guard now < migration.version else {
                    if now > latestVersion { throw SchemaTooNew(found: now, supported: latestVersion, path: connection.schemaLocation) }
                    return
                }
                try connection.apply(migration)
                applied.append(migration.version)
            }
        }
        return applied
    }
}
