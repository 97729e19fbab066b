/// Why bytes do not parse: what was expected and at which byte offset of the input.
public struct WireFormatError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was being read or which rule was broken.
    public let reason: String
    /// Byte offset in the input where the problem was found.
    public let offset: Int

    public init(_ reason: String, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String { "\(reason) at byte \(offset)" }
}

/// Appends wire primitives: big-endian fixed-width integers, LEB128 varints, zigzag varints and
/// LSB-first bit packing. See Docs/mqtt-api.md, "Primitives".
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    mutating func u8(_ v: UInt8) { bytes.append(v) }

    mutating func bigEndian<T: FixedWidthInteger>(_ v: T) {
        var be = v.bigEndian
        withUnsafeBytes(of: &be) { bytes.append(contentsOf: $0) }
    }

    mutating func raw<C: Collection>(_ data: C) where C.Element == UInt8 { bytes.append(contentsOf: data) }

    /// Unsigned LEB128: seven bits per byte, least significant group first, high bit = more follows.
    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func varint(_ value: Int) { varint(UInt64(value)) }

    /// Zigzag then LEB128: 0, -1, 1, -2, … become 0, 1, 2, 3, …
    mutating func svarint(_ value: Int64) { varint(Zigzag.encode(value)) }

    /// A UTF-8 string prefixed by its byte length as a varint.
    mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        varint(utf8.count)
        raw(utf8)
    }

    /// `values` packed at `width` bits each (0…64), value i at bits [i·width, (i+1)·width) of a
    /// little-endian bit stream; the last byte is padded with zero bits.
    mutating func packed(_ values: [UInt64], width: Int) {
        guard width > 0 else { return }
        let mask: UInt64 = width == 64 ? .max : (1 << UInt64(width)) - 1
        var accumulator: UInt64 = 0
        var filled = 0
        for value in values {
            let v = value & mask
            accumulator |= v << UInt64(filled)
            let taken = min(width, 64 - filled)
            filled += taken
            if filled == 64 {
                appendLittleEndian(accumulator, count: 8)
                accumulator = taken < width ? v >> UInt64(taken) : 0
                filled = width - taken
            }
        }
        appendLittleEndian(accumulator, count: (filled + 7) / 8)
    }

    /// Appends the low `count` bytes of `word`, least significant first.
    private mutating func appendLittleEndian(_ word: UInt64, count: Int) {
        for i in 0..<count { bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(8 * i))) }
    }
}

/// Reads wire primitives from a byte array, throwing `WireFormatError` with the offset on any
/// shortfall or malformed value. Never traps on hostile input.
struct ByteReader {
    let bytes: [UInt8]
    private(set) var offset: Int
    let end: Int

    init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        offset = start
        self.end = end ?? bytes.count
    }

    var remaining: Int { end - offset }
    var isAtEnd: Bool { offset >= end }

    func error(_ reason: String) -> WireFormatError { WireFormatError(reason, at: offset) }

    mutating func u8(_ what: String) throws(WireFormatError) -> UInt8 {
        guard offset < end else { throw error("truncated: expected \(what)") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func bigEndian<T: FixedWidthInteger>(_: T.Type, _ what: String) throws(WireFormatError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw error("truncated: expected \(size)-byte \(what)") }
        var v: T = 0
        for i in 0..<size { v = v << 8 | T(bytes[offset + i]) }
        offset += size
        return v
    }

    mutating func raw(_ count: Int, _ what: String) throws(WireFormatError) -> [UInt8] {
        guard count >= 0, remaining >= count else { throw error("truncated: expected \(count) bytes of \(what)") }
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    mutating func varint(_ what: String) throws(WireFormatError) -> UInt64 {
        let start = offset
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < end else { throw WireFormatError("truncated: expected varint \(what)", at: start) }
            let byte = bytes[offset]
            offset += 1
            if shift == 63 && byte > 1 { throw WireFormatError("varint \(what) exceeds 64 bits", at: start) }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// A varint that must not exceed `limit` (used for counts and indices before allocating).
    mutating func count(_ what: String, atMost limit: Int) throws(WireFormatError) -> Int {
        let start = offset
        let v = try varint(what)
        guard limit >= 0, v <= UInt64(limit) else { throw WireFormatError("\(what) \(v) exceeds the limit \(limit)", at: start) }
        return Int(v)
    }

    mutating func svarint(_ what: String) throws(WireFormatError) -> Int64 { Zigzag.decode(try varint(what)) }

    mutating func string(_ what: String, maximumBytes: Int) throws(WireFormatError) -> String {
        let start = offset
        let length = try count("\(what) length", atMost: maximumBytes)
        let utf8 = try raw(length, what)
        guard let s = String(validating: utf8, as: UTF8.self) else {
            throw WireFormatError("\(what) is not valid UTF-8", at: start)
        }
        return s
    }

    /// `count` values of `width` bits each, packed as `ByteWriter.packed` writes them.
    mutating func packed(count: Int, width: Int, _ what: String) throws(WireFormatError) -> [UInt64] {
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
enum Zigzag {
    static func encode(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }
    static func decode(_ u: UInt64) -> Int64 { Int64(bitPattern: u >> 1) ^ -Int64(bitPattern: u & 1) }
}

/// Lowercase hexadecimal, used for key ids, fingerprints and test vectors.
public enum Hex {
    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes hex digits (either case); whitespace is ignored. Nil for anything else or an odd count.
    public static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var high: UInt8?
        for c in text.utf8 {
            let nibble: UInt8
            switch c {
            case 0x30...0x39: nibble = c - 0x30
            case 0x61...0x66: nibble = c - 0x61 + 10
            case 0x41...0x46: nibble = c - 0x41 + 10
            case 0x20, 0x0A, 0x0D, 0x09: continue
            default: return nil
            }
            if let h = high {
                out.append(h << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return high == nil ? out : nil
    }
}
