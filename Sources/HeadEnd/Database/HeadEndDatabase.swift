#if canImport(Glibc)
import Glibc
#endif
import ConcentratorCore
import Platform
import SQLite

/// The head-end's SQLite database: the device registry, accepted batches with their values and
/// events, the devices' reported status and rejection counts. Schema: `HeadEndSchema`, Docs/headend.md.
///
/// Opened in WAL mode with `synchronous = FULL`: a committed batch survives a power cut, which is
/// what an ack promises. Several processes may share the file (two head-ends of one shared
/// subscription group, the `headend devices` and `export` commands): writes take the lock with
/// `BEGIN IMMEDIATE` and wait up to the busy timeout. One instance is used by one thread at a time.
public final class HeadEndDatabase: HeadEndStore {
    public let path: String
    public var location: String { path }
    let connection: SQLiteConnection
    /// Meter and layout numbers already looked up, valid once committed (rows are never deleted).
    var meterNumbers: [MeterKey: Int64] = [:]
    var layoutNumbers: [[QuantityID]: Int64] = [:]

    struct MeterKey: Hashable {
        let device: Int64
        let meter: MeterID
    }

    private init(path: String, connection: SQLiteConnection) {
        self.path = path
        self.connection = connection
    }

    /// Opens (creating with mode 0600 when missing) and migrates the database for reading and writing.
    public static func open(path: String, busyTimeoutMilliseconds: Int = 10_000) throws(HeadEndError) -> HeadEndDatabase {
        do {
            try createFileIfMissing(path)
            let connection = try SQLiteConnection(path: path, mode: .readWrite(create: true))
            connection.setBusyTimeout(milliseconds: Int32(clamping: busyTimeoutMilliseconds))
            let mode = try connection.queryText("PRAGMA journal_mode = WAL")
            guard mode?.lowercased() == "wal" else {
                throw HeadEndError.other("cannot switch \(path) to write-ahead logging (journal_mode is \(mode ?? "unknown")); "
                    + "check: the file system supports shared memory (not NFS)")
            }
            try connection.execute("PRAGMA synchronous = FULL")
            _ = try HeadEndSchema.migrate(connection)
            return HeadEndDatabase(path: path, connection: connection)
        } catch {
            throw HeadEndError.wrap(error)
        }
    }

    /// Opens an existing database for queries (status, export) while head-ends may be writing it.
    public static func openForReading(path: String) throws(HeadEndError) -> HeadEndDatabase {
        guard FileSystem.exists(path) else {
            throw .invalidRequest("\(path) does not exist; check the database path (a head-end creates it at its first start)")
        }
        do {
            let connection = try SQLiteConnection(path: path, mode: .readOnly)
            connection.setBusyTimeout(milliseconds: 10_000)
            let version = Int32(try connection.queryInt64("PRAGMA user_version") ?? 0)
            guard version == HeadEndSchema.latestVersion else {
                if version > HeadEndSchema.latestVersion {
                    throw HeadEndError.schemaTooNew(found: version, supported: HeadEndSchema.latestVersion, path: path)
                }
                throw HeadEndError.invalidRequest("\(path) has schema version \(version); start a head-end once to migrate it")
            }
            return HeadEndDatabase(path: path, connection: connection)
        } catch {
            throw HeadEndError.wrap(error)
        }
    }

    public func close() { connection.close() }

    /// Creates the file with mode 0600 before SQLite does (its -wal and -shm copy the file's mode).
    private static func createFileIfMissing(_ path: String) throws(FileError) {
        guard !FileSystem.exists(path) else { return }
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { return }
            throw FileError(path: path, operation: "create")
        }
        Glibc.close(fd)
        FileSystem.syncDirectory(of: path)
    }

    /// Runs `body` in one write transaction. On failure the caches of numbers assigned inside it are dropped.
    func writeTransaction<T>(_ body: () throws -> T) throws(HeadEndError) -> T {
        do {
            return try connection.transaction(body)
        } catch {
            meterNumbers.removeAll()
            layoutNumbers.removeAll()
            throw HeadEndError.wrap(error)
        }
    }

    /// The row number of device `name`, or nil when the head-end has never heard of it.
    func deviceNumber(_ name: String) throws -> Int64? {
        try connection.queryInt64("SELECT id FROM devices WHERE name = ?", [.text(name)])
    }

    /// Runs a read-only query and maps each row.
    func rows<T>(_ sql: String, _ values: [SQLiteValue] = [], _ map: (SQLiteStatement) throws -> T) throws(HeadEndError) -> [T] {
        do {
            return try connection.withStatement(sql) { s in
                try s.bind(values)
                var out: [T] = []
                while try s.step() { out.append(try map(s)) }
                return out
            }
        } catch {
            throw HeadEndError.wrap(error)
        }
    }
}
