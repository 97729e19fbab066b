import Testing
import ConcentratorCore
@testable import MeterProtocols

/// Register words for every value type in all four byte/word orders.
///
/// Floating-point bit patterns are IEEE 754-2008 binary32 / binary64 encodings, worked out by hand:
/// 230.0 = 1.796875 × 2^7 → binary32 0x43660000, binary64 0x406CC00000000000;
/// −1.5 = −1.5 × 2^0 → 0xBFC00000 / 0xBFF8000000000000. Integers are two's complement.
/// "ABCD" below names the bytes of the value from most to least significant; Modbus itself sends
/// each register high byte first ("MODBUS Application Protocol V1.1b3", §4.2 big-endian).
@Suite struct ModbusValueCodecTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        let type: RegisterValueType
        let byteOrder: RegisterByteOrder
        let wordOrder: RegisterWordOrder
        let words: [UInt16]
        let value: Double
        var testDescription: String { "\(type.rawValue) \(byteOrder.rawValue)/\(wordOrder.rawValue) \(value)" }
    }

    static let vectors: [Vector] = [
        // u16 / i16: one register; word order does not apply.
        Vector(type: .u16, byteOrder: .big, wordOrder: .big, words: [0x1388], value: 5000),
        Vector(type: .u16, byteOrder: .little, wordOrder: .big, words: [0x8813], value: 5000),
        Vector(type: .u16, byteOrder: .big, wordOrder: .big, words: [0xFFFF], value: 65535),
        Vector(type: .i16, byteOrder: .big, wordOrder: .big, words: [0xFC4A], value: -950),
        Vector(type: .i16, byteOrder: .little, wordOrder: .little, words: [0x4AFC], value: -950),
        Vector(type: .i16, byteOrder: .big, wordOrder: .big, words: [0x8000], value: -32768),
        // u32 65536 = 0x00010000: ABCD, CDAB, BADC, DCBA.
        Vector(type: .u32, byteOrder: .big, wordOrder: .big, words: [0x0001, 0x0000], value: 65536),
        Vector(type: .u32, byteOrder: .big, wordOrder: .little, words: [0x0000, 0x0001], value: 65536),
        Vector(type: .u32, byteOrder: .little, wordOrder: .big, words: [0x0100, 0x0000], value: 65536),
        Vector(type: .u32, byteOrder: .little, wordOrder: .little, words: [0x0000, 0x0100], value: 65536),
        // i32 −150000 = 0xFFFDB610.
        Vector(type: .i32, byteOrder: .big, wordOrder: .big, words: [0xFFFD, 0xB610], value: -150_000),
        Vector(type: .i32, byteOrder: .big, wordOrder: .little, words: [0xB610, 0xFFFD], value: -150_000),
        Vector(type: .i32, byteOrder: .little, wordOrder: .big, words: [0xFDFF, 0x10B6], value: -150_000),
        Vector(type: .i32, byteOrder: .little, wordOrder: .little, words: [0x10B6, 0xFDFF], value: -150_000),
        // u64 123456789 = 0x00000000075BCD15.
        Vector(type: .u64, byteOrder: .big, wordOrder: .big, words: [0, 0, 0x075B, 0xCD15], value: 123_456_789),
        Vector(type: .u64, byteOrder: .big, wordOrder: .little, words: [0xCD15, 0x075B, 0, 0], value: 123_456_789),
        Vector(type: .u64, byteOrder: .little, wordOrder: .big, words: [0, 0, 0x5B07, 0x15CD], value: 123_456_789),
        Vector(type: .u64, byteOrder: .little, wordOrder: .little, words: [0x15CD, 0x5B07, 0, 0], value: 123_456_789),
        // i64 −2 = 0xFFFFFFFFFFFFFFFE.
        Vector(type: .i64, byteOrder: .big, wordOrder: .big, words: [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE], value: -2),
        Vector(type: .i64, byteOrder: .big, wordOrder: .little, words: [0xFFFE, 0xFFFF, 0xFFFF, 0xFFFF], value: -2),
        Vector(type: .i64, byteOrder: .little, wordOrder: .big, words: [0xFFFF, 0xFFFF, 0xFFFF, 0xFEFF], value: -2),
        Vector(type: .i64, byteOrder: .little, wordOrder: .little, words: [0xFEFF, 0xFFFF, 0xFFFF, 0xFFFF], value: -2),
        // f32 230.0 = 0x43660000 and −1.5 = 0xBFC00000.
        Vector(type: .f32, byteOrder: .big, wordOrder: .big, words: [0x4366, 0x0000], value: 230.0),
        Vector(type: .f32, byteOrder: .big, wordOrder: .little, words: [0x0000, 0x4366], value: 230.0),
        Vector(type: .f32, byteOrder: .little, wordOrder: .big, words: [0x6643, 0x0000], value: 230.0),
        Vector(type: .f32, byteOrder: .little, wordOrder: .little, words: [0x0000, 0x6643], value: 230.0),
        Vector(type: .f32, byteOrder: .big, wordOrder: .big, words: [0xBFC0, 0x0000], value: -1.5),
        // f64 230.0 = 0x406CC00000000000 and −1.5 = 0xBFF8000000000000.
        Vector(type: .f64, byteOrder: .big, wordOrder: .big, words: [0x406C, 0xC000, 0, 0], value: 230.0),
        Vector(type: .f64, byteOrder: .big, wordOrder: .little, words: [0, 0, 0xC000, 0x406C], value: 230.0),
        Vector(type: .f64, byteOrder: .little, wordOrder: .big, words: [0x6C40, 0x00C0, 0, 0], value: 230.0),
        Vector(type: .f64, byteOrder: .little, wordOrder: .little, words: [0, 0, 0x00C0, 0x6C40], value: 230.0),
        Vector(type: .f64, byteOrder: .big, wordOrder: .big, words: [0xBFF8, 0, 0, 0], value: -1.5),
    ]

    @Test(arguments: vectors)
    func decodes(_ v: Vector) throws {
        #expect(try ModbusValueCodec.decode(v.words, type: v.type, byteOrder: v.byteOrder, wordOrder: v.wordOrder) == v.value)
    }

    @Test(arguments: vectors)
    func encodes(_ v: Vector) {
        #expect(ModbusValueCodec.encode(v.value, type: v.type, byteOrder: v.byteOrder, wordOrder: v.wordOrder) == v.words)
    }

    @Test(arguments: RegisterValueType.allCases)
    func rejectsWrongRegisterCount(_ type: RegisterValueType) {
        let words = [UInt16](repeating: 0, count: type.registerCount + 1)
        #expect(throws: ModbusValueError.wrongRegisterCount(type: type, expected: type.registerCount, received: words.count)) {
            try ModbusValueCodec.decode(words, type: type)
        }
    }

    @Test func rejectsNaNAndInfinity() {
        // binary32 quiet NaN 0x7FC00000, +∞ 0x7F800000; binary64 −∞ 0xFFF0000000000000.
        #expect(throws: ModbusValueError.notANumber(type: .f32)) { try ModbusValueCodec.decode([0x7FC0, 0x0000], type: .f32) }
        #expect(throws: ModbusValueError.notANumber(type: .f32)) { try ModbusValueCodec.decode([0x7F80, 0x0000], type: .f32) }
        #expect(throws: ModbusValueError.notANumber(type: .f64)) { try ModbusValueCodec.decode([0xFFF0, 0, 0, 0], type: .f64) }
    }
}
