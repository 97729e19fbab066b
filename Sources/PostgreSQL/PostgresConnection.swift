import ConcentratorCore
import CPostgreSQL
#if canImport(Glibc)
import Glibc
#endif

/// A parameter of a statement. Numbers, booleans and bytes travel in PostgreSQL's binary format,
/// text as UTF-8; the statement decides the column type (cast with `$1::bigint` where it could be unclear).
public enum PostgresValue: Hashable, Sendable {
    case int64(Int64)
    case double(Double)
    case bool(Bool)
    case text(String)
    case bytes([UInt8])
    case null

    /// `.int64(value)`, or `.null` for nil.
    public static func optional(_ value: Int64?) -> PostgresValue {
        guard let value else { return .null }
        return .int64(value)
    }

    /// `.text(value)`, or `.null` for nil.
    public static func optional(_ value: String?) -> PostgresValue {
        guard let value else { return .null }
        return .text(value)
    }

    /// `.bool(value)`, or `.null` for nil.
    public static func optional(_ value: Bool?) -> PostgresValue {
        guard let value else { return .null }
        return .bool(value)
    }
}

/// One PostgreSQL connection through libpq, with a cache of prepared statements.
///
/// Every call blocks until the server answered: use a connection on a dedicated thread (the
/// head-end's database thread), never on Swift's cooperative pool. Not thread-safe: one thread at a
/// time. A lost connection (the server restarted) fails the call in progress with
/// `PostgresError.connectionLost`; `reconnect()` connects again.
public final class PostgresConnection {
    /// The database, as a URL without its password (for logs and errors).
    public let location: String
    private let url: String
    private let applicationName: String
    private var handle: OpaquePointer?
    /// SQL text → the name of its prepared statement on this connection.
    private var prepared: [String: String] = [:]

    /// Connects to `url` (`postgresql://user@host:port/database?…`, anything libpq accepts; a
    /// password belongs in a passfile, `?passfile=/path`). `location` names the database in errors.
    public init(url: String, location: String, applicationName: String = "headend") throws(PostgresError) {
        self.url = url
        self.location = location
        self.applicationName = applicationName
        try connect()
    }

    deinit { close() }

    /// Closes the connection. Later calls fail until `reconnect()`.
    public func close() {
        if let handle { PQfinish(handle) }
        handle = nil
        prepared.removeAll()
    }

    /// True while libpq considers the connection usable.
    public var isConnected: Bool { handle.map { PQstatus($0) == CONNECTION_OK } ?? false }

    /// The server's version number (e.g. 150018 for 15.18).
    public var serverVersion: Int { handle.map { Int(PQserverVersion($0)) } ?? 0 }

    /// Drops the old connection (if any) and connects again. Prepared statements are prepared again on use.
    public func reconnect() throws(PostgresError) {
        close()
        try connect()
    }

    private func connect() throws(PostgresError) {
        // Later entries override earlier ones, so the URL (expanded from "dbname") may set its own timeout.
        let keywords = ["connect_timeout", "application_name", "dbname"]
        let values = ["10", applicationName, url]
        let connection: OpaquePointer? = withCStrings(keywords) { k in withCStrings(values) { v in PQconnectdbParams(k, v, 1) } }
        guard let connection else {
            throw PostgresError(sqlState: nil, statement: "connect", message: "out of memory", location: location, connectionLost: true)
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.firstLine(PQerrorMessage(connection))
            PQfinish(connection)
            throw PostgresError(sqlState: nil, statement: "connect", message: message, location: location, connectionLost: true)
        }
        // libpq prints notices ("relation already exists, skipping") to stderr by default.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        handle = connection
    }

    private func open(_ statement: String) throws(PostgresError) -> OpaquePointer {
        guard let handle, PQstatus(handle) == CONNECTION_OK else {
            throw PostgresError(sqlState: nil, statement: statement, message: "not connected", location: location, connectionLost: true)
        }
        return handle
    }

    /// Runs one or more statements without parameters (schema, BEGIN, COMMIT).
    public func execute(_ sql: String) throws(PostgresError) {
        let name = PostgresError.shortName(ofSQL: sql)
        let result = PQexec(try open(name), sql)
        _ = try check(result, name)
    }

    /// Runs `sql` with `values` (`$1`, `$2`, …) as a prepared statement (prepared once per
    /// connection) and returns its rows in binary format.
    @discardableResult
    public func query(_ sql: String, _ values: [PostgresValue] = []) throws(PostgresError) -> PostgresRows {
        let name = PostgresError.shortName(ofSQL: sql)
        let db = try open(name)
        let statementName = try preparedName(sql, values, db, name)
        var lengths: [Int32] = []
        var formats: [Int32] = []
        var buffers: [[UInt8]?] = []
        for value in values {
            let (bytes, format) = Self.encode(value)
            buffers.append(bytes)
            lengths.append(Int32(bytes?.count ?? 0))
            formats.append(format)
        }
        let result = withParameterPointers(buffers) { pointers in
            PQexecPrepared(db, statementName, Int32(values.count), pointers, lengths, formats, 1)
        }
        return try check(result, name)
    }

    /// Streams `data` (PostgreSQL's binary COPY format, `PostgresCopyEncoder`) into
    /// `sql` (`COPY table (columns) FROM STDIN (FORMAT binary)`). Returns the rows copied.
    @discardableResult
    public func copy(_ sql: String, _ data: [UInt8]) throws(PostgresError) -> Int {
        let name = PostgresError.shortName(ofSQL: sql)
        let db = try open(name)
        guard let start = PQexec(db, sql) else { throw failure(nil, name) }
        guard PQresultStatus(start) == PGRES_COPY_IN else {
            _ = try check(start, name)
            throw PostgresError(sqlState: nil, statement: name, message: "the server did not start a COPY", location: location,
                                connectionLost: false)
        }
        PQclear(start)
        var offset = 0
        while offset < data.count {
            let chunk = min(1 << 20, data.count - offset)
            let sent = data.withUnsafeBufferPointer { p in
                p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: data.count) { PQputCopyData(db, $0 + offset, Int32(chunk)) }
            }
            guard sent == 1 else { throw failure(nil, name) }
            offset += chunk
        }
        guard PQputCopyEnd(db, nil) == 1 else { throw failure(nil, name) }
        var rows = 0
        var firstError: PostgresError?
        while let result = PQgetResult(db) {
            if PQresultStatus(result) == PGRES_COMMAND_OK {
                rows = Int(String(cString: PQcmdTuples(result))) ?? 0
                PQclear(result)
            } else if firstError == nil {
                firstError = failure(result, name)
            } else {
                PQclear(result)
            }
        }
        if let firstError { throw firstError }
        return rows
    }

    /// Runs `body` inside `BEGIN … COMMIT`. Any error thrown by `body` or by COMMIT rolls back.
    /// When COMMIT itself fails with a lost connection, the outcome is unknown: callers treat it as
    /// not committed (the head-end does not acknowledge; the device sends again and gets `duplicate`).
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            if isConnected { _ = handle.map { PQclear(PQexec($0, "ROLLBACK")) } }
            throw error
        }
    }

    // MARK: - libpq plumbing

    private func preparedName(_ sql: String, _ values: [PostgresValue], _ db: OpaquePointer, _ name: String) throws(PostgresError) -> String {
        if let known = prepared[sql] { return known }
        let statementName = "s\(prepared.count + 1)"
        let types = values.map(Self.typeOID)
        let result = PQprepare(db, statementName, sql, Int32(values.count), types)
        _ = try check(result, name)
        prepared[sql] = statementName
        return statementName
    }

    /// Checks a result: returns it as rows when the command succeeded, throws (and frees it) otherwise.
    private func check(_ result: OpaquePointer?, _ name: String) throws(PostgresError) -> PostgresRows {
        guard let result else { throw failure(nil, name) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else { throw failure(result, name) }
        return PostgresRows(result)
    }

    /// The error for a failed call (frees `result`). A connection that broke drops its prepared statements.
    private func failure(_ result: OpaquePointer?, _ name: String) -> PostgresError {
        var sqlState: String?
        var message = handle.map { Self.firstLine(PQerrorMessage($0)) } ?? "not connected"
        if let result {
            if let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))) { sqlState = String(cString: state) }
            if let primary = PQresultErrorField(result, Int32(UInt8(ascii: "M"))) { message = String(cString: primary) }
            PQclear(result)
        }
        let lost = !isConnected || sqlState?.hasPrefix("08") == true || sqlState == "57P01" || sqlState == "57P02" || sqlState == "57P03"
        if lost { prepared.removeAll() }
        return PostgresError(sqlState: sqlState, statement: name, message: message.isEmpty ? "no answer from the server" : message,
                             location: location, connectionLost: lost)
    }

    private static func firstLine(_ text: UnsafeMutablePointer<CChar>?) -> String {
        guard let text else { return "" }
        return String(cString: text).split(separator: "\n").first.map(String.init) ?? ""
    }

    static func typeOID(_ value: PostgresValue) -> Oid {
        switch value {
        case .int64: return 20
        case .double: return 701
        case .bool: return 16
        case .text: return 25
        case .bytes: return 17
        case .null: return 0
        }
    }

    /// The parameter's bytes and format (0 text, 1 binary); nil bytes for NULL.
    static func encode(_ value: PostgresValue) -> ([UInt8]?, Int32) {
        var w = ByteWriter(capacity: 8)
        switch value {
        case .int64(let v): w.bigEndian(v); return (w.bytes, 1)
        case .double(let v): w.bigEndian(v.bitPattern); return (w.bytes, 1)
        case .bool(let v): return ([v ? 1 : 0], 1)
        case .text(let s): return (Array(s.utf8), 0)
        case .bytes(let b): return (b, 1)
        case .null: return (nil, 1)
        }
    }
}

/// Calls `body` with NUL-terminated C strings for `strings` and a NULL-terminated pointer array.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    let pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) } + [nil]
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// Calls `body` with one pointer per parameter buffer (nil for NULL); text buffers get a terminating NUL.
private func withParameterPointers<R>(_ buffers: [[UInt8]?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    let copies: [UnsafeMutablePointer<CChar>?] = buffers.map { buffer in
        guard let buffer else { return nil }
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: buffer.count + 1)
        buffer.withUnsafeBytes { raw in UnsafeMutableRawPointer(p).copyMemory(from: raw.baseAddress ?? UnsafeRawPointer(p), byteCount: buffer.count) }
        p[buffer.count] = 0
        return p
    }
    defer { copies.forEach { $0?.deallocate() } }
    let pointers: [UnsafePointer<CChar>?] = copies.map { p in p.map { UnsafePointer($0) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
}
