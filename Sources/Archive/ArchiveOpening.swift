#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ConcentratorCore
import Logging
import Platform
import SQLite

/// The steps of opening the writer connection: create the file with a tight mode, check it, move a
/// damaged file aside, set WAL and `synchronous=FULL`, migrate. Runs on the writer thread.
struct ArchiveOpening {
    let path: String
    let options: ArchiveOptions
    let clock: any WallClock
    let logger: Logger

    func run() throws -> (ArchiveWriter, ArchiveOpenReport) {
        let started = ContinuousClock.now
        var movedTo: String?
        var detail: String?
        if let problem = try check() {
            detail = problem
            movedTo = try moveAside()
        }
        let checkDuration = ContinuousClock.now - started
        try createFileIfMissing()
        let connection = try SQLiteConnection(path: path, mode: .readWrite(create: true))
        try configure(connection)
        let applied = try ArchiveMigrations.apply(to: connection)
        let writer = try ArchiveWriter(connection: connection, pruneRowsPerStep: options.pruneRowsPerStep,
                                       reserveBytes: options.reserveBytes, logger: logger)
        let version = Int32(try connection.queryInt64("PRAGMA user_version") ?? 0)
        let report = ArchiveOpenReport(path: path, schemaVersion: version, migrationsApplied: applied,
                                       corruptFileMovedTo: movedTo, corruptionDetail: detail,
                                       quickCheckDuration: checkDuration)
        return (writer, report)
    }

    /// Runs `PRAGMA quick_check` on an existing file. Returns nil when it is sound (or absent), or a
    /// short description of the damage. Errors other than "corrupt" (locked, permissions) are thrown:
    /// those files are not damaged and must never be moved.
    private func check() throws -> String? {
        guard FileSystem.exists(path) else { return nil }
        do {
            let connection = try SQLiteConnection(path: path, mode: .readWrite(create: false))
            connection.keepWALOnClose()
            connection.setBusyTimeout(milliseconds: Int32(options.busyTimeout.inMilliseconds))
            let lines = try connection.withStatement("PRAGMA quick_check(5)") { s in
                var lines: [String] = []
                while try s.step() { lines.append(s.text(0)) }
                return lines
            }
            return lines == ["ok"] ? nil : "quick_check: " + lines.joined(separator: "; ")
        } catch let e as SQLiteError where e.kind == .corrupt {
            return "\(e.codeName): \(e.message)"
        }
    }

    /// Renames the file and its -wal and -shm to `<file>.corrupt-<UTC time>[-n]`; returns the new name.
    private func moveAside() throws -> String {
        let stamp = ISO8601.format(Timestamp(seconds: clock.now().seconds)).filter { $0 != "-" && $0 != ":" }
        var target = "\(path).corrupt-\(stamp)"
        var n = 1
        while FileSystem.exists(target) {
            target = "\(path).corrupt-\(stamp)-\(n)"
            n += 1
        }
        for suffix in ["-wal", "-shm"] where FileSystem.exists(path + suffix) {
            try FileSystem.rename(path + suffix, to: target + suffix)
        }
        try FileSystem.rename(path, to: target)
        FileSystem.syncDirectory(of: path)
        return target
    }

    /// Creates the database file with mode 0600 before SQLite does (SQLite would use 0644 minus umask;
    /// its -wal and -shm files copy the database file's mode).
    private func createFileIfMissing() throws {
        guard !FileSystem.exists(path) else { return }
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { return }
            throw FileError(path: path, operation: "create")
        }
        close(fd)
        FileSystem.syncDirectory(of: path)
    }

    private func configure(_ connection: SQLiteConnection) throws {
        connection.setBusyTimeout(milliseconds: Int32(options.busyTimeout.inMilliseconds))
        let mode = try connection.queryText("PRAGMA journal_mode = WAL")
        guard mode?.lowercased() == "wal" else {
            throw ArchiveError.invalidInput("cannot switch \(path) to write-ahead logging (journal_mode is "
                + "\(mode ?? "unknown")); check: the file system supports shared memory (not NFS)")
        }
        try connection.execute("PRAGMA synchronous = FULL")
        // A commit touches a few pages at the right edge of each table; 1 MiB of cache is plenty and
        // keeps the agent small (SQLite's default is 2 MiB per connection).
        try connection.execute("PRAGMA cache_size = -1024")
        // After a checkpoint empties the log, shrink the file back to 8 MiB instead of keeping its peak size.
        try connection.execute("PRAGMA journal_size_limit = \(8 << 20)")
        if let limit = options.maximumSizeBytes {
            let pageSize = try connection.queryInt64("PRAGMA page_size") ?? 4096
            _ = try connection.queryInt64("PRAGMA max_page_count = \(max(1, limit / pageSize))")
        }
    }
}
