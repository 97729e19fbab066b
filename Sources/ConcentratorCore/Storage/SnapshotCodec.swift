/// One value slot of a stored snapshot: a number, an error code, or nothing.
public enum StoredValue: Hashable, Sendable {
    case value(Double)
    case error(MeterErrorCode)
    /// Neither a value nor an error (a `QuantityValue` with both fields nil).
    case missing

    public init(_ q: QuantityValue) {
        if let v = q.value { self = .value(v) } else if let e = q.error { self = .error(e) } else { self = .missing }
    }
}

/// What the archive stores for one snapshot besides its key (meter, interval, series) and its layout
/// (the ordered quantity list): times relative to the interval, the clock flag and the value slots.
public struct SnapshotRowPayload: Hashable, Sendable {
    /// `gatewayTime - intervalStart`, in milliseconds; within ±2^60 (the header keeps two flag bits).
    public var gatewayOffsetMilliseconds: Int64
    /// `meterTime - gatewayTime`, in milliseconds; nil when the meter gave no time.
    public var meterTimeOffsetMilliseconds: Int64?
    public var clockUnsynced: Bool
    /// One slot per quantity of the layout, in layout order.
    public var slots: [StoredValue]

    public init(gatewayOffsetMilliseconds: Int64, meterTimeOffsetMilliseconds: Int64?, clockUnsynced: Bool,
                slots: [StoredValue]) {
        self.gatewayOffsetMilliseconds = gatewayOffsetMilliseconds
        self.meterTimeOffsetMilliseconds = meterTimeOffsetMilliseconds
        self.clockUnsynced = clockUnsynced
        self.slots = slots
    }
}

/// Why stored snapshot bytes could not be decoded.
public struct SnapshotCodecError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was wrong with the bytes.
    public enum Reason: String, Hashable, Sendable {
        case truncated = "ends in the middle of a field"
        case badVarint = "holds a variable-length integer longer than 64 bits"
        case trailingBytes = "has bytes after the last value"
        case errorCodeOutOfRange = "holds an error code above 65535"
    }

    public let reason: Reason
    /// Byte offset where decoding stopped.
    public let offset: Int

    public var description: String { "stored snapshot \(reason.rawValue) (byte \(offset))" }
}

/// The compact, lossless encoding of a snapshot row (pure: bytes in, values out).
///
/// Layout (all integers LEB128 varints, little-endian floats):
/// ```
/// header  varint  zigzag(gatewayOffset ms) << 2 | meterTimePresent << 1 | clockUnsynced
/// [meter] varint  zigzag(meterTime - gatewayTime ms)         (only when meterTimePresent)
/// tags    ceil(n/4) bytes, 2 bits per slot, slot i at bits 2*(i%4) of byte i/4
/// values  per slot, by tag:
///         0  varint  0 = missing, c + 1 = error code c
///         1  4 bytes binary32 (the value is exactly a Float)
///         2  varint  zigzag(m) << 4 | recipe   (a short decimal, see `DecimalRecipe`)
///         3  8 bytes binary64
/// ```
/// Every value decodes to the identical bit pattern it was encoded from (NaN payloads and -0 too).
public enum SnapshotCodec {
    public static func encode(_ row: SnapshotRowPayload) -> [UInt8] {
        var out = ByteWriter(capacity: 8 + row.slots.count * 4)
        let flags: UInt64 = (row.meterTimeOffsetMilliseconds != nil ? 2 : 0) | (row.clockUnsynced ? 1 : 0)
        out.varint(Zigzag.encode(row.gatewayOffsetMilliseconds) << 2 | flags)
        if let m = row.meterTimeOffsetMilliseconds { out.svarint(m) }
        var tags = [UInt8](repeating: 0, count: (row.slots.count + 3) / 4)
        var values = ByteWriter(capacity: row.slots.count * 4)
        for (i, slot) in row.slots.enumerated() {
            let tag: UInt8
            switch slot {
            case .missing:
                tag = 0
                values.u8(0)
            case .error(let code):
                tag = 0
                values.varint(UInt64(code.rawValue) + 1)
            case .value(let v):
                tag = appendValue(v, to: &values)
            }
            tags[i / 4] |= tag << (2 * UInt8(i % 4))
        }
        out.raw(tags)
        out.raw(values.bytes)
        return out.bytes
    }

    /// Decodes a stored row of `valueCount` slots, reading through the project's one `ByteReader`.
    public static func decode(_ bytes: [UInt8], valueCount: Int) throws(SnapshotCodecError) -> SnapshotRowPayload {
        var reader = ByteReader(bytes)
        let header = try varint(&reader)
        let gatewayOffset = Zigzag.decode(header >> 2)
        let meterOffset: Int64? = header & 2 != 0 ? Zigzag.decode(try varint(&reader)) : nil
        let tagStart = reader.offset
        let tagCount = (valueCount + 3) / 4
        do { try reader.skip(tagCount, "slot tags") } catch { throw SnapshotCodecError(reason: .truncated, offset: reader.offset) }
        var slots: [StoredValue] = []
        slots.reserveCapacity(valueCount)
        for i in 0..<valueCount {
            switch (bytes[tagStart + i / 4] >> (2 * UInt8(i % 4))) & 3 {
            case 0:
                let code = try varint(&reader)
                if code == 0 {
                    slots.append(.missing)
                } else {
                    guard code <= UInt64(UInt16.max) + 1 else {
                        throw SnapshotCodecError(reason: .errorCodeOutOfRange, offset: reader.offset)
                    }
                    slots.append(.error(MeterErrorCode(rawValue: UInt16(code - 1))))
                }
            case 1:
                slots.append(.value(Double(Float(bitPattern: try littleEndian(UInt32.self, &reader)))))
            case 2:
                let packed = try varint(&reader)
                let recipe = DecimalRecipe(rawValue: UInt8(packed & 15))!
                slots.append(.value(recipe.value(of: Zigzag.decode(packed >> 4))))
            default:
                slots.append(.value(Double(bitPattern: try littleEndian(UInt64.self, &reader))))
            }
        }
        guard reader.isAtEnd else { throw SnapshotCodecError(reason: .trailingBytes, offset: reader.offset) }
        return SnapshotRowPayload(gatewayOffsetMilliseconds: gatewayOffset, meterTimeOffsetMilliseconds: meterOffset,
                                  clockUnsynced: header & 1 != 0, slots: slots)
    }

    /// A varint through the shared reader, its failure as this codec's error: a varint fails as too
    /// long at its tenth byte (more than 64 bits), anything shorter ran out of input.
    private static func varint(_ reader: inout ByteReader) throws(SnapshotCodecError) -> UInt64 {
        let start = reader.offset
        do { return try reader.varint("snapshot field") } catch {
            throw SnapshotCodecError(reason: reader.offset - start >= 10 ? .badVarint : .truncated, offset: reader.offset)
        }
    }

    private static func littleEndian<T: FixedWidthInteger>(_ type: T.Type, _ reader: inout ByteReader) throws(SnapshotCodecError) -> T {
        do { return try reader.littleEndian(type, "snapshot value") } catch {
            throw SnapshotCodecError(reason: .truncated, offset: reader.offset)
        }
    }

    /// Appends the shortest lossless form of `v`; returns its tag.
    static func appendValue(_ v: Double, to out: inout ByteWriter) -> UInt8 {
        let isFloat = Double(Float(v)).bitPattern == v.bitPattern
        if let (mantissa, recipe) = DecimalRecipe.shortest(for: v) {
            let packed = Zigzag.encode(mantissa) << 4 | UInt64(recipe.rawValue)
            // Below 2^21 the varint takes at most 3 bytes, shorter than a binary32.
            if !isFloat || packed < 1 << 21 {
                out.varint(packed)
                return 2
            }
        }
        if isFloat {
            out.littleEndian(Float(v).bitPattern)
            return 1
        }
        out.littleEndian(v.bitPattern)
        return 3
    }
}

/// How a short decimal mantissa `m` becomes the stored Double. Meters produce numbers in three ways,
/// and each gives different bits for "the same" decimal: parsed text (`m / 10^k`, correctly rounded),
/// an integer register times a scale (`m * 0.1`, as profiles do), and a binary32 register holding a
/// decimal (`Float(m / 10^k)`). Storing which one lets 230.1, 2301 × 0.1 and Float(230.1) all fit in
/// about 3 bytes and decode to their exact original bits.
enum DecimalRecipe: UInt8, CaseIterable {
    case divide0 = 0, divide1, divide2, divide3, divide4, divide5
    case multiply1 = 6, multiply2, multiply3, multiply4, multiply5
    case float1 = 11, float2, float3, float4, float5

    static let powers: [Double] = [1, 10, 100, 1000, 10_000, 100_000]
    /// The scale factors as written in profiles (the nearest Doubles to 0.1, 0.01, …).
    static let reciprocals: [Double] = [1, 0.1, 0.01, 0.001, 0.0001, 0.00001]
    private static let limit = 9_007_199_254_740_992.0 // 2^53: every smaller integer is exact

    var digits: Int {
        switch rawValue {
        case 0...5: return Int(rawValue)
        case 6...10: return Int(rawValue) - 5
        default: return Int(rawValue) - 10
        }
    }

    func value(of m: Int64) -> Double {
        let k = digits
        switch rawValue {
        case 0...5: return Double(m) / Self.powers[k]
        case 6...10: return Double(m) * Self.reciprocals[k]
        default: return Double(Float(Double(m) / Self.powers[k]))
        }
    }

    /// The smallest mantissa and a recipe that reproduce `v` bit for bit, if any.
    static func shortest(for v: Double) -> (Int64, DecimalRecipe)? {
        guard v.isFinite, abs(v) < limit else { return nil }
        for k in 0..<powers.count {
            let scaled = (v * powers[k]).rounded()
            guard abs(scaled) < limit else { return nil }
            let m = Int64(scaled)
            for recipe in candidates[k] where recipe.value(of: m).bitPattern == v.bitPattern { return (m, recipe) }
        }
        return nil
    }

    private static let candidates: [[DecimalRecipe]] = (0..<powers.count).map { k in
        allCases.filter { $0.digits == k }
    }
}
