import CSQLite

/// One SQLite database connection with a cache of prepared statements.
///
/// Not thread-safe by design (opened with `SQLITE_OPEN_NOMUTEX`): one thread uses it at a time.
/// The archive's writer connection lives on the writer thread; readers guard theirs with a lock.
public final class SQLiteConnection {
    /// How to open the file.
    public enum Mode: Sendable {
        /// Read and write; create the file when `create` is true.
        case readWrite(create: Bool)
        /// Read only (queries, exports, other processes).
        case readOnly
    }

    /// The open database; nil after `close()`.
    private var handle: OpaquePointer?
    /// The database file.
    public let path: String
    private var statements: [String: SQLiteStatement] = [:]
    private var walHook: WALHookBox?

    /// Opens `path`. Result codes are extended (`SQLITE_BUSY_TIMEOUT`, `SQLITE_IOERR_WRITE`, …).
    public init(path: String, mode: Mode) throws(SQLiteError) {
        var flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        switch mode {
        case .readWrite(let create): flags |= SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0)
        case .readOnly: flags |= SQLITE_OPEN_READONLY
        }
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            let extended = db.map { sqlite3_extended_errcode($0) } ?? rc
            sqlite3_close_v2(db)
            throw SQLiteError(code: rc & 0xFF, extendedCode: extended, statement: "open", message: message, path: path)
        }
        handle = db
        self.path = path
    }

    deinit { close() }

    /// Finalizes the cached statements and closes the connection. Later calls fail with SQLITE_MISUSE.
    public func close() {
        statements.removeAll()
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    /// The open handle, or the error for a closed connection.
    private func open(_ name: String) throws(SQLiteError) -> OpaquePointer {
        guard let handle else {
            throw SQLiteError(code: SQLITE_MISUSE, extendedCode: SQLITE_MISUSE, statement: name,
                              message: "the connection is closed", path: path)
        }
        return handle
    }

    /// Waits up to `milliseconds` for another connection's lock before failing with `SQLITE_BUSY`.
    public func setBusyTimeout(milliseconds: Int32) {
        if let handle { sqlite3_busy_timeout(handle, milliseconds) }
    }

    /// Runs one or more statements that return no rows we need (schema, pragmas).
    public func execute(_ sql: String) throws(SQLiteError) {
        let name = SQLiteError.shortName(ofSQL: sql)
        let rc = sqlite3_exec(try open(name), sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw error(rc, in: name) }
    }

    /// Runs `body` with the cached prepared statement for `sql` (prepared on first use), then resets it.
    public func withStatement<T>(_ sql: String, _ body: (SQLiteStatement) throws -> T) throws -> T {
        let statement = try prepared(sql)
        defer { statement.reset() }
        return try body(statement)
    }

    /// The cached prepared statement for `sql`. Callers reset it after use (`withStatement` does).
    public func prepared(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        if let cached = statements[sql] { return cached }
        var raw: OpaquePointer?
        let name = SQLiteError.shortName(ofSQL: sql)
        let rc = sqlite3_prepare_v3(try open(name), sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil)
        guard rc == SQLITE_OK, let raw else { throw error(rc, in: name) }
        let statement = SQLiteStatement(handle: raw, name: name, connection: self)
        statements[sql] = statement
        return statement
    }

    /// Runs `sql` with `values` and returns the first column of the first row as text, if any.
    public func queryText(_ sql: String, _ values: [SQLiteValue] = []) throws -> String? {
        try withStatement(sql) { s in
            try s.bind(values)
            return try s.step() ? s.optionalText(0) : nil
        }
    }

    /// Runs `sql` with `values` and returns the first column of the first row as an integer, if any.
    public func queryInt64(_ sql: String, _ values: [SQLiteValue] = []) throws -> Int64? {
        try withStatement(sql) { s in
            try s.bind(values)
            return try s.step() ? s.optionalInt64(0) : nil
        }
    }

    /// Runs `sql` with `values` to completion, ignoring rows.
    public func run(_ sql: String, _ values: [SQLiteValue] = []) throws {
        try withStatement(sql) { s in
            try s.bind(values)
            while try s.step() {}
        }
    }

    /// Runs `body` inside `BEGIN IMMEDIATE … COMMIT` (the write lock is taken at the start, so a busy
    /// archive fails early). Any error thrown by `body` or by COMMIT rolls the transaction back.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        let db = try open("BEGIN IMMEDIATE")
        precondition(sqlite3_get_autocommit(db) != 0, "nested archive transaction")
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            // After some errors (SQLITE_FULL, I/O) SQLite has already rolled back; then this is a no-op.
            if sqlite3_get_autocommit(db) == 0 { sqlite3_exec(db, "ROLLBACK", nil, nil, nil) }
            throw error
        }
    }

    /// Keeps the write-ahead log file when this connection closes (`SQLITE_FCNTL_PERSIST_WAL`), so a
    /// check of a suspect file never deletes its log.
    public func keepWALOnClose() {
        guard let handle else { return }
        var on: Int32 = 1
        sqlite3_file_control(handle, "main", SQLITE_FCNTL_PERSIST_WAL, &on)
    }

    /// Rows changed by the most recent INSERT, UPDATE or DELETE.
    public var changes: Int { handle.map { Int(sqlite3_changes64($0)) } ?? 0 }

    /// The rowid of the most recent successful INSERT.
    public var lastInsertRowID: Int64 { handle.map { sqlite3_last_insert_rowid($0) } ?? 0 }

    /// Calls `handler` with the number of frames in the write-ahead log after each commit. Installing it
    /// turns off SQLite's automatic checkpoint on this connection (the caller checkpoints instead).
    public func onWALCommit(_ handler: @escaping (Int32) -> Void) {
        guard let handle else { return }
        let box = WALHookBox(handler: handler)
        walHook = box
        sqlite3_wal_hook(handle, { context, _, _, frames in
            Unmanaged<WALHookBox>.fromOpaque(context!).takeUnretainedValue().handler(frames)
            return SQLITE_OK
        }, Unmanaged.passUnretained(box).toOpaque())
    }

    /// Copies committed pages from the write-ahead log into the database without blocking writers or
    /// readers (`SQLITE_CHECKPOINT_PASSIVE`). Returns the log size and how much of it is checkpointed.
    @discardableResult
    public func checkpointPassive() throws(SQLiteError) -> (logFrames: Int32, checkpointedFrames: Int32) {
        var log: Int32 = 0
        var done: Int32 = 0
        let rc = sqlite3_wal_checkpoint_v2(try open("wal_checkpoint"), nil, SQLITE_CHECKPOINT_PASSIVE, &log, &done)
        guard rc == SQLITE_OK else { throw error(rc, in: "wal_checkpoint") }
        return (log, done)
    }

    /// Builds the typed error for result code `rc` from the statement called `name`.
    func error(_ rc: Int32, in name: String) -> SQLiteError {
        guard let handle else {
            return SQLiteError(code: rc & 0xFF, extendedCode: rc, statement: name, message: String(cString: sqlite3_errstr(rc)),
                               path: path)
        }
        let extended = sqlite3_extended_errcode(handle)
        // sqlite3_errmsg describes the most recent failure, which is this one when codes agree.
        let message = (extended & 0xFF) == (rc & 0xFF) ? String(cString: sqlite3_errmsg(handle))
            : String(cString: sqlite3_errstr(rc))
        return SQLiteError(code: rc & 0xFF, extendedCode: (extended & 0xFF) == (rc & 0xFF) ? extended : rc,
                           statement: name, message: message, path: path)
    }
}

/// Keeps the WAL-commit closure alive for the C callback.
private final class WALHookBox {
    let handler: (Int32) -> Void
    init(handler: @escaping (Int32) -> Void) { self.handler = handler }
}
