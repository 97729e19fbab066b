/// Reads wire primitives from a byte array, throwing `ByteFormatError` with the offset on any
/// shortfall or malformed value. Never traps on hostile input.
public struct ByteReader {
    public let bytes: [UInt8]
    public private(set) var offset: Int
    public let end: Int

    public init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        offset = start
        self.end = end ?? bytes.count
    }

    public var remaining: Int { end - offset }
    public var isAtEnd: Bool { offset >= end }

    public func error(_ reason: String) -> ByteFormatError { ByteFormatError(reason, at: offset) }

    public mutating func u8(_ what: String) throws(ByteFormatError) -> UInt8 {
        guard offset < end else { throw error("truncated: expected \(what)") }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func bigEndian<T: FixedWidthInteger>(_: T.Type, _ what: String) throws(ByteFormatError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw error("truncated: expected \(size)-byte \(what)") }
        var v: T = 0
        for i in 0..<size { v = v << 8 | T(truncatingIfNeeded: bytes[offset + i]) }
        offset += size
        return v
    }

    public mutating func littleEndian<T: FixedWidthInteger>(_: T.Type, _ what: String) throws(ByteFormatError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw error("truncated: expected \(size)-byte \(what)") }
        var v: T = 0
        for i in (0..<size).reversed() { v = v << 8 | T(truncatingIfNeeded: bytes[offset + i]) }
        offset += size
        return v
    }

    /// The next byte without consuming it, or nil at the end.
    public func peek() -> UInt8? { offset < end ? bytes[offset] : nil }

    /// Skips `count` bytes.
    public mutating func skip(_ count: Int, _ what: String) throws(ByteFormatError) {
        guard count >= 0, remaining >= count else { throw error("truncated: expected \(count) bytes of \(what)") }
        offset += count
    }

    /// The rest of the input up to `end`.
    public mutating func rest() -> [UInt8] {
        defer { offset = end }
        return Array(bytes[offset..<end])
    }

    public mutating func raw(_ count: Int, _ what: String) throws(ByteFormatError) -> [UInt8] {
        guard count >= 0, remaining >= count else { throw error("truncated: expected \(count) bytes of \(what)") }
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    public mutating func varint(_ what: String) throws(ByteFormatError) -> UInt64 {
        let start = offset
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < end else { throw ByteFormatError("truncated: expected varint \(what)", at: start) }
            let byte = bytes[offset]
            offset += 1
            if shift == 63 && byte > 1 { throw ByteFormatError("varint \(what) exceeds 64 bits", at: start) }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// A varint that must not exceed `limit` (used for counts and indices before allocating).
    public mutating func count(_ what: String, atMost limit: Int) throws(ByteFormatError) -> Int {
        let start = offset
        let v = try varint(what)
        guard limit >= 0, v <= UInt64(limit) else { throw ByteFormatError("\(what) \(v) exceeds the limit \(limit)", at: start) }
        return Int(v)
    }

    public mutating func svarint(_ what: String) throws(ByteFormatError) -> Int64 { Zigzag.decode(try varint(what)) }

    public mutating func string(_ what: String, maximumBytes: Int) throws(ByteFormatError) -> String {
        let start = offset
        let length = try count("\(what) length", atMost: maximumBytes)
        let utf8 = try raw(length, what)
        guard let s = String(validating: utf8, as: UTF8.self) else {
            throw ByteFormatError("\(what) is not valid UTF-8", at: start)
        }
        return s
    }

    /// `count` values of `width` bits each, packed as `ByteWriter.packed` writes them.
    public mutating func packed(count: Int, width: Int, _ what: String) throws(ByteFormatError) -> [UInt64] {
        guard width > 0 else { return [UInt64](repeating: 0, count: count) }
        let (bits, overflow) = count.multipliedReportingOverflow(by: width)
        guard !overflow, bits / 8 <= remaining else { throw error("truncated: expected \(count) packed \(what)") }
        let byteCount = (bits + 7) / 8
        guard byteCount <= remaining else { throw error("truncated: expected \(count) packed \(what)") }
        let mask: UInt64 = width == 64 ? .max : (1 << UInt64(width)) - 1
        var out = [UInt64](repeating: 0, count: count)
        var bitPosition = 0
        for i in 0..<count {
            var value: UInt64 = 0
            var got = 0
            while got < width {
                let byteIndex = offset + (bitPosition >> 3)
                let bitInByte = bitPosition & 7
                let take = min(8 - bitInByte, width - got)
                let chunk = (UInt64(bytes[byteIndex]) >> UInt64(bitInByte)) & ((1 << UInt64(take)) - 1)
                value |= chunk << UInt64(got)
                got += take
                bitPosition += take
            }
            out[i] = value & mask
        }
        offset += byteCount
        return out
    }
}


/// Zigzag mapping between signed and unsigned 64-bit integers (0, -1, 1, -2 → 0, 1, 2, 3).
public enum Zigzag {
    public static func encode(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }
    public static func decode(_ u: UInt64) -> Int64 { Int64(bitPattern: u >> 1) ^ -Int64(bitPattern: u & 1) }
}
