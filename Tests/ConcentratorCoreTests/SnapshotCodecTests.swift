@testable import ConcentratorCore
import Testing

/// The row codec against byte vectors worked out by hand from the format in SnapshotCodec.swift and
/// Docs/archive.md (LEB128 varints, zigzag, IEEE 754 bit patterns checked with Python's struct module).
@Suite struct SnapshotCodecTests {
    // gateway offset 1500 ms: zigzag 3000, << 2 = 12000 = LEB128 E0 5D; one tag byte 0x22.
    // 230.1 = 2301 / 10: zigzag 4602 << 4 | recipe 1 = 73633 = A1 BF 04.
    // error 1 (no response): code + 1 = 02.  0.5 = 5 / 10: 10 << 4 | 1 = 161 = A1 01.  missing: 00.
    static let vector1 = SnapshotRowPayload(gatewayOffsetMilliseconds: 1500, meterTimeOffsetMilliseconds: nil,
                                            clockUnsynced: false,
                                            slots: [.value(230.1), .error(.noResponse), .value(0.5), .missing])
    static let bytes1: [UInt8] = [0xE0, 0x5D, 0x22, 0xA1, 0xBF, 0x04, 0x02, 0xA1, 0x01, 0x00]

    // gateway offset -2 ms: zigzag 3 << 2 | meter time 2 | unsynced 1 = 0F; meter offset +1: 02.
    // Float(230.1): recipe 11 (Float of 2301 / 10): 73632 | 11 = 73643 = AB BF 04.
    // 0.1 * 3 (= 0.30000000000000004): recipe 6 (3 × 0.1): 6 << 4 | 6 = 0x66.
    // -0.0 has no decimal form with its sign: binary32 00 00 00 80.
    // 1e300: binary64 9C 75 00 88 3C E4 37 7E.  Tags: 2 | 2<<2 | 1<<4 | 3<<6 = 0xDA.
    static let vector2 = SnapshotRowPayload(gatewayOffsetMilliseconds: -2, meterTimeOffsetMilliseconds: 1,
                                            clockUnsynced: true,
                                            slots: [.value(Double(Float(230.1))), .value(0.1 * 3), .value(-0.0), .value(1e300)])
    static let bytes2: [UInt8] = [0x0F, 0x02, 0xDA, 0xAB, 0xBF, 0x04, 0x66, 0x00, 0x00, 0x00, 0x80,
                                  0x9C, 0x75, 0x00, 0x88, 0x3C, 0xE4, 0x37, 0x7E]

    @Test func encodesTheHandWorkedVectors() {
        #expect(SnapshotCodec.encode(Self.vector1) == Self.bytes1)
        #expect(SnapshotCodec.encode(Self.vector2) == Self.bytes2)
    }

    @Test func decodesTheHandWorkedVectorsBitForBit() throws {
        let one = try SnapshotCodec.decode(Self.bytes1, valueCount: 4)
        #expect(one == Self.vector1)
        let two = try SnapshotCodec.decode(Self.bytes2, valueCount: 4)
        #expect(two.gatewayOffsetMilliseconds == -2)
        #expect(two.meterTimeOffsetMilliseconds == 1)
        #expect(two.clockUnsynced)
        #expect(bits(two.slots) == bits(Self.vector2.slots))
    }

    @Test func everyProperPrefixIsRejectedAsTruncated() {
        for bytes in [Self.bytes1, Self.bytes2] {
            for cut in 0..<bytes.count {
                #expect(throws: SnapshotCodecError.self) { try SnapshotCodec.decode(Array(bytes[0..<cut]), valueCount: 4) }
            }
        }
    }

    @Test func trailingBytesAndWrongCountsAreRejected() {
        #expect(throws: SnapshotCodecError(reason: .trailingBytes, offset: 10)) {
            try SnapshotCodec.decode(Self.bytes1 + [0], valueCount: 4)
        }
        #expect(throws: SnapshotCodecError.self) { try SnapshotCodec.decode(Self.bytes1, valueCount: 5) }
        // Stored code 65538 (varint 82 80 04) would be error 65537: no MeterErrorCode is that large.
        #expect(throws: SnapshotCodecError(reason: .errorCodeOutOfRange, offset: 5)) {
            try SnapshotCodec.decode([0x00, 0x00, 0x82, 0x80, 0x04], valueCount: 1)
        }
        // Eleven continuation bytes: longer than 64 bits.
        #expect(throws: SnapshotCodecError(reason: .badVarint, offset: 10)) {
            try SnapshotCodec.decode(Array(repeating: 0xFF, count: 11), valueCount: 0)
        }
    }

    @Test func randomValuesRoundTripBitForBit() throws {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let slots: [StoredValue] = (0..<Int.random(in: 0...40, using: &random)).map { _ in
                switch Int.random(in: 0..<6, using: &random) {
                case 0: return .value(Double(bitPattern: random.next())) // any bits, NaN payloads included
                case 1: return .value(Double(Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &random))))
                case 2: return .value(Double(Int.random(in: -99_999...99_999, using: &random)) * 0.01)
                case 3: return .value(Double(Int.random(in: -9_999_999...9_999_999, using: &random)) / 1000)
                case 4: return .error(MeterErrorCode(rawValue: UInt16.random(in: 0...UInt16.max, using: &random)))
                default: return .missing
                }
            }
            let row = SnapshotRowPayload(gatewayOffsetMilliseconds: Int64.random(in: -(1 << 60)...(1 << 60), using: &random),
                                         meterTimeOffsetMilliseconds: Bool.random(using: &random) ? Int64.random(in: Int64.min...Int64.max, using: &random) : nil,
                                         clockUnsynced: Bool.random(using: &random), slots: slots)
            let decoded = try SnapshotCodec.decode(SnapshotCodec.encode(row), valueCount: slots.count)
            #expect(bits(decoded.slots) == bits(slots))
            #expect(decoded.gatewayOffsetMilliseconds == row.gatewayOffsetMilliseconds)
            #expect(decoded.meterTimeOffsetMilliseconds == row.meterTimeOffsetMilliseconds)
            #expect(decoded.clockUnsynced == row.clockUnsynced)
        }
    }

    @Test func scaledRegisterValuesTakeAtMostFourBytes() {
        // Values as profiles make them (raw × 0.1, raw × 0.001) and as binary32 meters send them.
        for raw in stride(from: 0, to: 70_000, by: 7) {
            for value in [Double(raw) * 0.1, Double(raw) * 0.001, Double(Float(Double(raw) / 100))] {
                var out = ByteWriter()
                _ = SnapshotCodec.appendValue(value, to: &out)
                #expect(out.bytes.count <= 4, "\(value) took \(out.bytes.count) bytes")
            }
        }
    }

    private func bits(_ slots: [StoredValue]) -> [String] {
        slots.map { slot in
            switch slot {
            case .value(let v): return "v\(v.bitPattern)"
            case .error(let e): return "e\(e.rawValue)"
            case .missing: return "-"
            }
        }
    }
}
