import CPostgreSQL

/// The rows of a query, in PostgreSQL's binary format (`int2`/`int4`/`int8`, `float8`, `bool`,
/// `text`, `bytea`). Cast in SQL where a type could be something else (`count(*)` is `int8`, but
/// `sum(bigint)` is `numeric`: write `sum(x)::bigint`). Owns the libpq result until released.
public final class PostgresRows {
    private let result: OpaquePointer

    init(_ result: OpaquePointer) { self.result = result }

    deinit { PQclear(result) }

    public var count: Int { Int(PQntuples(result)) }

    /// Rows changed by an INSERT, UPDATE or DELETE (0 for other commands).
    public var affectedRows: Int { Int(String(cString: PQcmdTuples(result))) ?? 0 }

    public func isNull(_ row: Int, _ column: Int) -> Bool { PQgetisnull(result, Int32(row), Int32(column)) == 1 }

    /// The raw binary value.
    public func bytes(_ row: Int, _ column: Int) -> [UInt8] {
        let length = Int(PQgetlength(result, Int32(row), Int32(column)))
        guard length > 0, let p = PQgetvalue(result, Int32(row), Int32(column)) else { return [] }
        return p.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
    }

    /// An integer column of any width (2, 4 or 8 bytes, big-endian); 0 when NULL.
    public func int64(_ row: Int, _ column: Int) -> Int64 {
        let length = Int(PQgetlength(result, Int32(row), Int32(column)))
        guard let p = PQgetvalue(result, Int32(row), Int32(column)), length > 0 else { return 0 }
        var value: Int64 = 0
        p.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
            for i in 0..<length { value = value << 8 | Int64(bytes[i]) }
            // Sign-extend 2- and 4-byte integers.
            if length < 8, bytes[0] & 0x80 != 0 { value |= -1 << (Int64(length) * 8) }
        }
        return value
    }

    public func optionalInt64(_ row: Int, _ column: Int) -> Int64? { isNull(row, column) ? nil : int64(row, column) }

    public func double(_ row: Int, _ column: Int) -> Double { Double(bitPattern: UInt64(bitPattern: int64(row, column))) }

    public func bool(_ row: Int, _ column: Int) -> Bool { bytes(row, column).first == 1 }

    public func text(_ row: Int, _ column: Int) -> String { String(decoding: bytes(row, column), as: UTF8.self) }

    public func optionalText(_ row: Int, _ column: Int) -> String? { isNull(row, column) ? nil : text(row, column) }

    /// Maps every row.
    public func map<T>(_ transform: (Int) throws -> T) rethrows -> [T] { try (0..<count).map(transform) }
}
