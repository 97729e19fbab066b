#if canImport(Glibc)
import Glibc
#endif
import Logging
import Platform
import SQLite

/// Whether the archive's reserve of disk space is in place (see `StorageReserve`).
public enum StorageReserveState: String, Hashable, Sendable {
    /// No reserve is configured.
    case none
    /// The reserve file holds its space.
    case held
    /// The disk filled up: the reserve file was deleted so that essential writes (events about the
    /// disk, their outbox entries, acknowledgements) have room; ordinary writes may not grow the
    /// database until the space is back and the reserve is made again.
    case released
}

/// A file of `bytes` pre-allocated beside the database (`<archive>.reserve`) that holds back a little
/// disk space for the writes that must work when the disk is full: the events about the disk itself,
/// their outbox entries, and the deletes that free space once the head-end acknowledges (issue 17 #3).
///
/// When an essential write fails with "disk full", the file is deleted and the write is tried again
/// at once, on the same writer thread, so nothing else can take the space first. From then on the
/// database may grow only for essential writes: ordinary writes get SQLite's `max_page_count` set to
/// the current size, so they fill free pages left by acknowledged batches but cannot eat into what
/// the reserve gave back. `refresh()` makes the reserve again when the file system has room for it
/// twice over. Lives on the archive's writer thread only.
final class StorageReserve {
    let path: String
    let bytes: Int64
    private let connection: SQLiteConnection
    private let logger: Logger
    /// The configured page limit (from `ArchiveOptions.maximumSizeBytes`), restored with the reserve.
    private let configuredPageLimit: Int64
    private(set) var state: StorageReserveState

    init(databasePath: String, bytes: Int64?, connection: SQLiteConnection, logger: Logger) throws {
        path = databasePath + ".reserve"
        self.bytes = bytes ?? 0
        self.connection = connection
        self.logger = logger
        configuredPageLimit = try connection.queryInt64("PRAGMA max_page_count") ?? 1_073_741_823
        state = bytes == nil ? .none : .released
        if bytes != nil {
            if FileSystem.size(path) == self.bytes || make() { state = .held } else { capGrowth() }
        }
    }

    /// Runs a write. An essential write that fails for lack of space releases the reserve and runs again.
    func perform<T>(essential: Bool, _ body: () throws -> T) throws -> T {
        guard state != .none else { return try body() }
        if essential, state == .released {
            return try uncapped(body)
        }
        do {
            return try body()
        } catch let error as SQLiteError where error.kind == .diskFull && essential && state == .held {
            release()
            return try uncapped(body)
        }
    }

    /// Makes the reserve again once the file system has room for it twice over. Returns the state.
    @discardableResult
    func refresh() -> StorageReserveState {
        guard state == .released else { return state }
        let free = FileSystem.freeBytes(at: FileSystem.directoryName(path)) ?? 0
        guard free >= 2 * bytes, make() else { return state }
        setPageLimit(configuredPageLimit)
        state = .held
        logger.notice("archive: free space is back (\(free / 1024) KiB); the reserve of \(bytes / 1024) KiB is in place again")
        return state
    }

    private func release() {
        unlink(path)
        FileSystem.syncDirectory(of: path)
        state = .released
        capGrowth()
        logger.critical("archive: the disk is full; released the reserve of \(bytes / 1024) KiB (\(path)) so that events about the disk can be stored and sent; new readings are stored only in space freed by acknowledged batches until the disk has room again")
    }

    /// Lets `body` grow the database, then caps it again at its new size.
    private func uncapped<T>(_ body: () throws -> T) throws -> T {
        setPageLimit(configuredPageLimit)
        defer { capGrowth() }
        return try body()
    }

    private func capGrowth() {
        setPageLimit((try? connection.queryInt64("PRAGMA page_count")) ?? configuredPageLimit)
    }

    private func setPageLimit(_ pages: Int64) {
        _ = try? connection.queryInt64("PRAGMA max_page_count = \(max(1, min(pages, configuredPageLimit)))")
    }

    /// Creates the file with its space allocated (not sparse), durably. False when there is no room.
    private func make() -> Bool {
        let temporary = path + ".new"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        let allocated = posix_fallocate(fd, 0, off_t(bytes)) == 0 && fsync(fd) == 0
        close(fd)
        guard allocated, rename(temporary, path) == 0 else {
            unlink(temporary)
            return false
        }
        FileSystem.syncDirectory(of: path)
        return true
    }
}
