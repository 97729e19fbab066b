/// One numbered schema change. Applied once, in its own transaction, and recorded in
/// `PRAGMA user_version`. Never edit a released migration: add the next one.
public struct SQLiteMigration: Sendable {
    public let version: Int32
    public let summary: String
    public let sql: String

    public init(version: Int32, summary: String, sql: String) {
        self.version = version
        self.summary = summary
        self.sql = sql
    }
}

/// The database was written by a newer program: its `user_version` is above every migration this
/// build knows. The caller names the program to upgrade in its own error.
public struct SQLiteSchemaTooNew: Error, Hashable, Sendable, CustomStringConvertible {
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

/// The one migration runner (the archive's and the head-end's schemas both run through it): brings a
/// database to the newest of `migrations`, one transaction per migration. Inside each transaction it
/// reads `user_version` again, so that two processes opening the same file together apply each
/// migration once (the second finds the work done once it holds the write lock).
public struct SQLiteMigrator: Sendable {
    public let migrations: [SQLiteMigration]

    /// `migrations` in ascending version order, starting at 1.
    public init(_ migrations: [SQLiteMigration]) {
        self.migrations = migrations
    }

    /// The newest schema version this build knows.
    public var latestVersion: Int32 { migrations.last?.version ?? 0 }

    /// The database's `user_version`.
    public static func version(of connection: SQLiteConnection) throws -> Int32 {
        Int32(try connection.queryInt64("PRAGMA user_version") ?? 0)
    }

    /// Applies every migration above the database's version. Returns the versions this call applied.
    /// Throws `SQLiteSchemaTooNew` when the file is newer than this build, `SQLiteError` on failure.
    public func migrate(_ connection: SQLiteConnection) throws -> [Int32] {
        let current = try Self.version(of: connection)
        guard current <= latestVersion else {
            throw SQLiteSchemaTooNew(found: current, supported: latestVersion, path: connection.path)
        }
        var applied: [Int32] = []
        for migration in migrations where migration.version > current {
            try connection.transaction {
                // Another process may have applied it since the first read: check again under the lock.
                guard try Self.version(of: connection) < migration.version else { return }
                try connection.execute(migration.sql)
                try connection.execute("PRAGMA user_version = \(migration.version)")
                applied.append(migration.version)
            }
        }
        return applied
    }
}
