import ConcentratorCore
import Logging
import Platform
import SQLite

/// Settings of an archive; the defaults suit a gateway.
public struct ArchiveOptions: Sendable {
    /// The database file's name inside the state directory.
    public var fileName: String
    /// How long a write waits for another process's lock before failing with "archive locked".
    public var busyTimeout: Duration
    /// A cap on the database size; writes beyond it fail with "disk full" instead of filling the disk.
    public var maximumSizeBytes: Int64?
    /// Write-ahead-log size (in 4 KiB frames) at which the background checkpointer copies it back.
    public var checkpointFrames: Int32
    /// Rows removed per retention transaction: small, so a commit never waits long behind one.
    public var pruneRowsPerStep: Int
    /// Disk space held back in `<file>.reserve` for the writes that must work on a full disk (events
    /// about the disk, their outbox entries, acknowledgements); nil for none. See `StorageReserve`.
    public var reserveBytes: Int64?

    public init(fileName: String = "archive.sqlite", busyTimeout: Duration = .seconds(5),
                maximumSizeBytes: Int64? = nil, checkpointFrames: Int32 = 1000, pruneRowsPerStep: Int = 1000,
                reserveBytes: Int64? = nil) {
        self.fileName = fileName
        self.busyTimeout = busyTimeout
        self.maximumSizeBytes = maximumSizeBytes
        self.checkpointFrames = checkpointFrames
        self.pruneRowsPerStep = max(1, pruneRowsPerStep)
        self.reserveBytes = reserveBytes.map { max(4096, $0) }
    }
}

/// What happened while opening the archive. When the file failed its check, it was moved aside
/// (never deleted) to `corruptFileMovedTo` and a fresh archive was started.
public struct ArchiveOpenReport: Hashable, Sendable, CustomStringConvertible {
    public let path: String
    public let schemaVersion: Int32
    /// Migrations applied during this open (empty when the schema was current).
    public let migrationsApplied: [Int32]
    /// Where the damaged database (and its -wal/-shm) now lies, if it was damaged.
    public let corruptFileMovedTo: String?
    /// The first lines of `PRAGMA quick_check`, or the error that showed the damage.
    public let corruptionDetail: String?
    /// How long `PRAGMA quick_check` took.
    public let quickCheckDuration: Duration

    public var description: String {
        var text = "archive \(path): schema v\(schemaVersion)"
        if !migrationsApplied.isEmpty { text += ", migrated to v\(migrationsApplied.map(String.init).joined(separator: ", v"))" }
        text += ", quick_check \(Int(quickCheckDuration.inMilliseconds)) ms"
        if let moved = corruptFileMovedTo {
            text += "; the previous file failed its check (\(corruptionDetail ?? "corrupt")) and was moved to \(moved); "
                + "a fresh archive was started; check: the storage device (power cuts, worn SD card)"
        }
        return text
    }
}

/// A write to run on the archive's single writer thread. Build one with the static functions
/// (`.commit(…)`, `.nextCounterValue(…)`, `.enqueueOutbox(…)`, …) and pass it to `ArchiveStore.perform`.
public struct ArchiveWrite<Result: Sendable>: Sendable {
    let operation: String
    /// May use the disk space of the storage reserve (events, their outbox entries, deletes).
    let essential: Bool
    let body: @Sendable (ArchiveWriter) throws -> Result

    init(_ operation: String, essential: Bool = false, _ body: @escaping @Sendable (ArchiveWriter) throws -> Result) {
        self.operation = operation
        self.essential = essential
        self.body = body
    }
}

/// The archive: one SQLite file in WAL mode with `synchronous=FULL`.
///
/// All writes run in order on one writer thread; `perform` returns only after the transaction is
/// durable (rule 5). Reads use a separate read-only connection (`reader`, or `read` from async code)
/// and run beside the writer. A failed write logs one line naming what to check, rolls back, and
/// leaves the archive usable for the next write.
public final class ArchiveStore: @unchecked Sendable {
    /// The database file.
    public let path: String
    /// Queries, for dedicated threads (blocking). Async code uses `read`.
    public let reader: ArchiveReader
    private let writer: ArchiveWriter
    private let writerThread: SerialWorker
    private let readerThread: SerialWorker
    private let checkpointer: ArchiveCheckpointer
    private let checkpointFrames: Int32
    private let logger: Logger
    private let state = ConditionLock()
    private var closed = false
    private var reserveState = StorageReserveState.none
    /// While the disk stays full, one line per `diskFullReportPeriod` (issue 17 #2); guarded by `state`.
    private var diskFullQuietUntil: ContinuousClock.Instant?
    private var diskFullSuppressed = 0
    static let diskFullReportPeriod: Duration = .seconds(60)

    private init(path: String, writer: ArchiveWriter, writerThread: SerialWorker, reader: ArchiveReader,
                 checkpointer: ArchiveCheckpointer, options: ArchiveOptions, logger: Logger) {
        self.path = path
        self.writer = writer
        self.writerThread = writerThread
        self.reader = reader
        readerThread = SerialWorker(name: "archive-read")
        self.checkpointer = checkpointer
        checkpointFrames = options.checkpointFrames
        self.logger = logger
    }

    /// Opens (creating if needed) `<directory>/<options.fileName>`: checks it with `PRAGMA quick_check`,
    /// moves a damaged file aside, applies migrations, and starts the writer thread. Blocks; call it
    /// from `main` or a dedicated thread. The directory is created with mode 0700, the file with 0600.
    public static func open(directory: String, options: ArchiveOptions = ArchiveOptions(), clock: any WallClock,
                            logger: Logger) throws(ArchiveError) -> (store: ArchiveStore, report: ArchiveOpenReport) {
        let path = FileSystem.join(directory, options.fileName)
        let writerThread = SerialWorker(name: "archive-write")
        do {
            try FileSystem.createDirectory(directory, mode: 0o700)
            let (writer, report) = try writerThread.runBlocking {
                try ArchiveOpening(path: path, options: options, clock: clock, logger: logger).run()
            }
            let reader: ArchiveReader
            let checkpointer: ArchiveCheckpointer
            do {
                reader = try ArchiveReader(path: path)
                checkpointer = try ArchiveCheckpointer(path: path, busyTimeout: options.busyTimeout, logger: logger)
            } catch {
                try? writerThread.runBlocking { writer.connection.close() }
                throw error
            }
            let store = ArchiveStore(path: path, writer: writer, writerThread: writerThread, reader: reader,
                                     checkpointer: checkpointer, options: options, logger: logger)
            store.noteReserve(writer.reserve.state)
            if report.corruptFileMovedTo != nil { logger.error("\(report)") } else { logger.info("\(report)") }
            return (store, report)
        } catch {
            writerThread.stop()
            let e = ArchiveError.wrap(error, operation: "open \(path)")
            logger.error("\(e)")
            throw e
        }
    }

    /// Runs `write` on the writer thread and waits (without blocking the cooperative pool) until it is
    /// durable. On failure the error is logged once, here, and thrown.
    public func perform<T: Sendable>(_ write: ArchiveWrite<T>) async throws(ArchiveError) -> T {
        try checkOpen(write.operation)
        do {
            return try await writerThread.run { [self] in try runOnWriter(write) }
        } catch {
            throw failure(error, write.operation)
        }
    }

    /// Like `perform`, for dedicated threads (a bus owner): blocks the calling thread until durable.
    /// Never call it from async code (the compiler refuses it there).
    @available(*, noasync, message: "blocks its thread; await perform(_:) instead")
    public func performBlocking<T: Sendable>(_ write: ArchiveWrite<T>) throws(ArchiveError) -> T {
        try checkOpen(write.operation)
        do {
            return try writerThread.runBlocking { [self] in try runOnWriter(write) }
        } catch {
            throw failure(error, write.operation)
        }
    }

    /// Runs a query on the archive's reader thread.
    public func read<T: Sendable>(_ body: @escaping @Sendable (ArchiveReader) throws -> T) async throws(ArchiveError) -> T {
        try checkOpen("read")
        do {
            return try await readerThread.run { [reader] in try body(reader) }
        } catch {
            throw failure(error, "read")
        }
    }

    /// Lets queued writes finish, closes the connections and ends the threads. Blocks until the file is
    /// closed; call it from `main` or a dedicated thread (async code gets the `async` variant). Every
    /// write that returned was already durable. Later calls fail with "archive is closed".
    @available(*, noasync, message: "blocks its thread; await close() instead")
    public func close() {
        guard markClosed() else { return }
        try? writerThread.runBlocking { [self] in writer.connection.close() }
        try? readerThread.runBlocking { [self] in reader.close() }
        checkpointer.closeBlocking()
        stopThreads()
    }

    /// Like `close()`, awaiting the threads instead of blocking.
    public func close() async {
        guard markClosed() else { return }
        _ = try? await writerThread.run { [self] in writer.connection.close() }
        _ = try? await readerThread.run { [self] in reader.close() }
        await checkpointer.close()
        stopThreads()
    }

    private func markClosed() -> Bool {
        state.withLock {
            defer { closed = true }
            return !closed
        }
    }

    private func stopThreads() {
        writerThread.stop()
        readerThread.stop()
        checkpointer.stop()
    }

    private func runOnWriter<T>(_ write: ArchiveWrite<T>) throws -> T {
        defer { noteReserve(writer.reserve.state) }
        let result = try writer.reserve.perform(essential: write.essential) { try write.body(writer) }
        if writer.walFrames >= checkpointFrames { checkpointer.request() }
        return result
    }

    private func noteReserve(_ value: StorageReserveState) { state.withLock { reserveState = value } }

    /// Whether the disk-space reserve is in place, was released because the disk filled up, or is not configured.
    public var storageReserve: StorageReserveState { state.withLock { reserveState } }

    /// Makes the disk-space reserve again if it was released and the file system has room for it
    /// twice over (call it now and then, e.g. from a maintenance loop). Returns the reserve's state.
    @discardableResult
    public func refreshStorageReserve() throws(ArchiveError) -> StorageReserveState {
        try checkOpen("refresh the storage reserve")
        do {
            return try writerThread.runBlocking { [self] in
                let value = writer.reserve.refresh()
                noteReserve(value)
                return value
            }
        } catch {
            throw failure(error, "refresh the storage reserve")
        }
    }

    private func checkOpen(_ operation: String) throws(ArchiveError) {
        let isClosed = state.withLock { closed }
        if isClosed { throw failure(ArchiveError.invalidInput("\(operation): the archive \(path) is closed"), operation) }
    }

    private func failure(_ error: any Error, _ operation: String) -> ArchiveError {
        let e = ArchiveError.wrap(error, operation: operation)
        guard e.sqliteError?.kind == .diskFull else {
            logger.error("\(e)")
            return e
        }
        // A full disk fails every write until space returns: say so once a minute, not once a write.
        let (report, suppressed) = state.withLock { () -> (Bool, Int) in
            let now = ContinuousClock.now
            if let until = diskFullQuietUntil, now < until {
                diskFullSuppressed += 1
                return (false, 0)
            }
            defer {
                diskFullQuietUntil = now + Self.diskFullReportPeriod
                diskFullSuppressed = 0
            }
            return (true, diskFullSuppressed)
        }
        if report {
            let more = suppressed > 0 ? " (\(suppressed) more writes failed for lack of space since the last such line)" : ""
            logger.error("\(e)\(more)")
        }
        return e
    }
}

/// Copies the write-ahead log back into the database on its own thread and connection, so a
/// checkpoint never runs inside a commit (PASSIVE mode: it waits for nobody, and nobody waits for it).
final class ArchiveCheckpointer: @unchecked Sendable {
    private let worker = SerialWorker(name: "archive-ckpt")
    private let connection: SQLiteConnection
    private let lock = ConditionLock()
    private var pending = false
    private let logger: Logger

    init(path: String, busyTimeout: Duration, logger: Logger) throws {
        connection = try SQLiteConnection(path: path, mode: .readWrite(create: false))
        connection.setBusyTimeout(milliseconds: Int32(busyTimeout.inMilliseconds))
        try connection.execute("PRAGMA synchronous = FULL")
        // Checkpoints copy pages from the log; they need almost no cache.
        try connection.execute("PRAGMA cache_size = -128")
        self.logger = logger
    }

    func request() {
        let start = lock.withLock {
            defer { pending = true }
            return !pending
        }
        guard start else { return }
        worker.enqueue { [self] in
            do {
                try connection.checkpointPassive()
            } catch {
                logger.warning("archive: background checkpoint failed (the log keeps growing until it works): \(error)")
            }
            lock.withLock { pending = false }
        }
    }

    func closeBlocking() {
        try? worker.runBlocking { [self] in connection.close() }
    }

    func close() async {
        _ = try? await worker.run { [self] in connection.close() }
    }

    func stop() { worker.stop() }
}
