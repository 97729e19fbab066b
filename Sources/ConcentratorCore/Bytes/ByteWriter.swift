/// Appends the project's byte primitives: big- and little-endian fixed-width integers, LEB128
/// varints, zigzag varints, length-prefixed UTF-8 and LSB-first bit packing. The one byte writer
/// (wire batches, archive snapshots, meter protocols). See Docs/mqtt-api.md, "Primitives".
public struct ByteWriter {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }

    public mutating func bigEndian<T: FixedWidthInteger>(_ v: T) {
        var be = v.bigEndian
        withUnsafeBytes(of: &be) { bytes.append(contentsOf: $0) }
    }

    public mutating func littleEndian<T: FixedWidthInteger>(_ v: T) {
        var le = v.littleEndian
        withUnsafeBytes(of: &le) { bytes.append(contentsOf: $0) }
    }

    public mutating func raw<C: Collection>(_ data: C) where C.Element == UInt8 { bytes.append(contentsOf: data) }

    /// Unsigned LEB128: seven bits per byte, least significant group first, high bit = more follows.
    public mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    public mutating func varint(_ value: Int) { varint(UInt64(value)) }

    /// Zigzag then LEB128: 0, -1, 1, -2, … become 0, 1, 2, 3, …
    public mutating func svarint(_ value: Int64) { varint(Zigzag.encode(value)) }

    /// A UTF-8 string prefixed by its byte length as a varint.
    public mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        varint(utf8.count)
        raw(utf8)
    }

    /// `values` packed at `width` bits each (0…64), value i at bits [i·width, (i+1)·width) of a
    /// little-endian bit stream; the last byte is padded with zero bits.
    public mutating func packed(_ values: [UInt64], width: Int) {
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
