import ConcentratorCore

/// Builds the data of `COPY … FROM STDIN (FORMAT binary)`: the signature and header, then one tuple
/// per `row` call with its fields, then the trailer (PostgreSQL documentation, "COPY", "Binary
/// Format"). Integers and doubles big-endian; `bytea` and `text` as their raw bytes.
public struct PostgresCopyEncoder {
    private var writer: ByteWriter
    private var fieldsLeft = 0

    /// The 11-byte signature `PGCOPY\n\377\r\n\0`.
    static let signature: [UInt8] = [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00]

    public init(capacity: Int = 64 * 1024) {
        writer = ByteWriter(capacity: capacity)
        writer.raw(Self.signature)
        writer.bigEndian(UInt32(0))  // flags: no OIDs
        writer.bigEndian(UInt32(0))  // header extension length
    }

    /// Starts a tuple of `fields` fields.
    public mutating func row(fields: Int) {
        precondition(fieldsLeft == 0, "the previous COPY row is incomplete")
        writer.bigEndian(Int16(fields))
        fieldsLeft = fields
    }

    public mutating func int64(_ v: Int64) { field(length: 8); writer.bigEndian(v) }
    public mutating func int32(_ v: Int32) { field(length: 4); writer.bigEndian(v) }
    public mutating func int16(_ v: Int16) { field(length: 2); writer.bigEndian(v) }
    public mutating func bool(_ v: Bool) { field(length: 1); writer.u8(v ? 1 : 0) }
    public mutating func double(_ v: Double) { field(length: 8); writer.bigEndian(v.bitPattern) }
    public mutating func bytes(_ v: [UInt8]) { field(length: v.count); writer.raw(v) }
    public mutating func text(_ v: String) { let utf8 = Array(v.utf8); field(length: utf8.count); writer.raw(utf8) }

    public mutating func null() {
        precondition(fieldsLeft > 0, "more COPY fields than declared")
        fieldsLeft -= 1
        writer.bigEndian(Int32(-1))
    }

    public mutating func optionalInt64(_ v: Int64?) { if let v { int64(v) } else { null() } }

    /// The finished data, with the trailer.
    public mutating func finish() -> [UInt8] {
        precondition(fieldsLeft == 0, "the last COPY row is incomplete")
        writer.bigEndian(Int16(-1))
        return writer.bytes
    }

    private mutating func field(length: Int) {
        precondition(fieldsLeft > 0, "more COPY fields than declared")
        fieldsLeft -= 1
        writer.bigEndian(Int32(length))
    }
}
