#if canImport(Glibc)
import Glibc
#endif
import ConcentratorCore
import HeadEnd
import Platform
import SQLite

/// The dashboard's own SQLite file beside the head-end's database: accounts (`users`) and the audit of
/// commands sent from the dashboard (`command_audit`). Kept apart from the head-end's schema so that the
/// head-end's store (SQLite or PostgreSQL) and the dashboard evolve on their own. Created with mode
/// 0600 (it holds password hashes); migrated through the one `SQLiteMigrator`. One thread at a time.
public final class DashboardDatabase {
    public let path: String
    let connection: SQLiteConnection

    static let migrator = SQLiteMigrator([
        SQLiteMigration(version: 1, summary: "dashboard users and command audit", sql: """
            -- Dashboard accounts. password is the PHC-style string of PasswordHasher (PBKDF2-HMAC-SHA256).
            CREATE TABLE users (
                name TEXT PRIMARY KEY,
                role TEXT NOT NULL CHECK (role IN ('reader', 'operator', 'admin')),
                password TEXT NOT NULL,
                created INTEGER NOT NULL
            ) STRICT, WITHOUT ROWID;
            -- Every command sent from the dashboard, with the verified reply or why there is none.
            CREATE TABLE command_audit (
                id INTEGER PRIMARY KEY,
                time INTEGER NOT NULL,
                user TEXT NOT NULL,
                device TEXT NOT NULL,
                verb TEXT NOT NULL,
                command_id TEXT NOT NULL,
                status TEXT NOT NULL,
                code TEXT NOT NULL,
                detail TEXT NOT NULL,
                round_trip INTEGER
            ) STRICT;
            CREATE INDEX command_audit_by_device ON command_audit(device, time);
            """),
    ])

    private init(path: String, connection: SQLiteConnection) {
        self.path = path
        self.connection = connection
    }

    /// The dashboard database that belongs to the head-end database at `headEndPath`: `dashboard.sqlite` in its directory.
    public static func defaultPath(besideHeadEndDatabase headEndPath: String) -> String {
        guard let slash = headEndPath.lastIndex(of: "/") else { return "dashboard.sqlite" }
        return String(headEndPath[...slash]) + "dashboard.sqlite"
    }

    /// The default dashboard database of a head-end store: beside a SQLite file; a PostgreSQL store has
    /// no directory of its own, so its dashboard database must be named (`--dashboard-database`).
    public static func defaultPath(for location: HeadEndDatabaseLocation) throws(HeadEndError) -> String {
        switch location {
        case .sqlite(let path): return defaultPath(besideHeadEndDatabase: path)
        case .postgres:
            throw .invalidRequest("with a postgresql:// database, name the dashboard's own database file: --dashboard-database FILE")
        }
    }

    /// Opens (creating with mode 0600) and migrates.
    public static func open(path: String) throws(HeadEndError) -> DashboardDatabase {
        do {
            if !FileSystem.exists(path) {
                let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                if fd >= 0 { Glibc.close(fd) } else if errno != EEXIST { throw FileError(path: path, operation: "create") }
            }
            let connection = try SQLiteConnection(path: path, mode: .readWrite(create: true))
            connection.setBusyTimeout(milliseconds: 10_000)
            _ = try connection.queryText("PRAGMA journal_mode = WAL")
            try connection.execute("PRAGMA synchronous = FULL")
            _ = try migrator.migrate(connection)
            return DashboardDatabase(path: path, connection: connection)
        } catch {
            throw DashboardFailure.wrap(error)
        }
    }

    public func close() { connection.close() }

    // MARK: users

    /// Adds an account, or replaces the role and password of an existing one when `replace` is true.
    public func addUser(name: String, role: DashboardRole, passwordHash: String, at now: Timestamp, replace: Bool) throws(HeadEndError) {
        do {
            if !replace, try connection.queryInt64("SELECT count(*) FROM users WHERE name = ?", [.text(name)]) ?? 0 > 0 {
                throw HeadEndError.invalidRequest("user \(name) exists; give --replace to set a new password and role")
            }
            try connection.run("INSERT OR REPLACE INTO users (name, role, password, created) VALUES (?, ?, ?, ?)",
                               [.text(name), .text(role.rawValue), .text(passwordHash), .integer(now.milliseconds)])
        } catch {
            throw DashboardFailure.wrap(error)
        }
    }

    /// The stored role and password hash of `name`.
    public func user(_ name: String) throws(HeadEndError) -> (role: DashboardRole, passwordHash: String)? {
        do {
            return try connection.withStatement("SELECT role, password FROM users WHERE name = ?") { s in
                try s.bind([.text(name)])
                guard try s.step(), let role = DashboardRole(rawValue: s.text(0)) else { return nil }
                return (role, s.text(1))
            }
        } catch {
            throw DashboardFailure.wrap(error)
        }
    }

    /// Every account's name and role, by name.
    public func users() throws(HeadEndError) -> [(name: String, role: String)] {
        do {
            return try connection.withStatement("SELECT name, role FROM users ORDER BY name") { s in
                var out: [(String, String)] = []
                while try s.step() { out.append((s.text(0), s.text(1))) }
                return out
            }
        } catch {
            throw DashboardFailure.wrap(error)
        }
    }

    @discardableResult
    public func removeUser(_ name: String) throws(HeadEndError) -> Bool {
        do {
            try connection.run("DELETE FROM users WHERE name = ?", [.text(name)])
            return connection.changes > 0
        } catch {
            throw DashboardFailure.wrap(error)
        }
    }

    // MARK: command audit

    func recordCommand(_ e: CommandAuditEntry) throws(HeadEndError) {
        do {
            try connection.run("""
                INSERT INTO command_audit (time, user, device, verb, command_id, status, code, detail, round_trip)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.integer(e.time.milliseconds), .text(e.user), .text(e.device), .text(e.verb), .text(e.commandID), .text(e.status),
                      .text(e.code), .text(e.detail), e.roundTripMilliseconds.map { .integer($0) } ?? .null])
        } catch {
            throw DashboardFailure.wrap(error)
        }
    }

    func commandAudit(device: String, limit: Int) throws(HeadEndError) -> [CommandAuditEntry] {
        do {
            return try connection.withStatement("""
                SELECT time, user, device, verb, command_id, status, code, detail, round_trip FROM command_audit
                WHERE device = ? ORDER BY time DESC, id DESC LIMIT ?
                """) { s in
                try s.bind([.text(device), .integer(Int64(limit))])
                var out: [CommandAuditEntry] = []
                while try s.step() {
                    out.append(CommandAuditEntry(time: Timestamp(milliseconds: s.int64(0)), user: s.text(1), device: s.text(2), verb: s.text(3),
                                                 commandID: s.text(4), status: s.text(5), code: s.text(6), detail: s.text(7),
                                                 roundTripMilliseconds: s.optionalInt64(8)))
                }
                return out
            }
        } catch {
            throw DashboardFailure.wrap(error)
        }
    }
}

extension DashboardDatabase {
    /// `user(_:)` run on `worker`, the thread that owns this database (the read models' account lookup).
    func account(_ name: String, on worker: SerialWorker) async throws(HeadEndError) -> (role: DashboardRole, passwordHash: String)? {
        let found: Result<(DashboardRole, String)?, HeadEndError>
        nonisolated(unsafe) let database = self // used on `worker` only
        do {
            found = try await worker.run { Result { () throws(HeadEndError) in try database.user(name).map { ($0.role, $0.passwordHash) } } }
        } catch {
            throw DashboardFailure.wrap(error)
        }
        return try found.get().map { (role: $0.0, passwordHash: $0.1) }
    }
}
