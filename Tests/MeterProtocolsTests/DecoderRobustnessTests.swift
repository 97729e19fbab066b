import Testing
import ConcentratorCore
@testable import MeterProtocols

/// Decoders meet line noise, truncated frames and hostile meters: on any input they return a value
/// or a typed error, never trap. Seeded, so a failure repeats exactly.
@Suite struct DecoderRobustnessTests {
    static func randomBytes(_ rng: inout SplitMix64, maxCount: Int) -> [UInt8] {
        (0..<Int.random(in: 0...maxCount, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    static func randomRequest(_ rng: inout SplitMix64) -> ModbusRequest {
        let slave = UInt8.random(in: 0...255, using: &rng)
        let a = UInt16.random(in: 0...UInt16.max, using: &rng)
        let n = UInt16.random(in: 0...200, using: &rng)
        switch Int.random(in: 0..<6, using: &rng) {
        case 0: return ModbusRequest(slave: slave, pdu: .readCoils(start: a, count: n))
        case 1: return ModbusRequest(slave: slave, pdu: .readHoldingRegisters(start: a, count: n))
        case 2: return ModbusRequest(slave: slave, pdu: .readInputRegisters(start: a, count: n))
        case 3: return ModbusRequest(slave: slave, pdu: .writeSingleCoil(address: a, on: n % 2 == 0))
        case 4: return ModbusRequest(slave: slave, pdu: .writeSingleRegister(address: a, value: n))
        default: return ModbusRequest(slave: slave, pdu: .writeMultipleRegisters(start: a, values: (0..<Int(n % 5)).map(UInt16.init)))
        }
    }

    @Test func frameDecodersSurviveRandomBytes() {
        var rng = SplitMix64(seed: 0x5EED)
        var accepted = 0
        for i in 0..<20_000 {
            var bytes = Self.randomBytes(&rng, maxCount: 300)
            // Every other case gets a valid CRC, so the decoders reach their length and field checks.
            if i % 2 == 0, bytes.count >= 1 { bytes = ModbusCRC.appending(to: bytes) }
            let request = Self.randomRequest(&rng)
            if (try? ModbusRTUFrame.decodeResponse(bytes, to: request)) != nil { accepted += 1 }
            _ = try? ModbusRTUFrame.decodeRequest(bytes)
            if let length = ModbusRTUFrame.requestLength(prefix: bytes) { #expect(length >= 4 && length <= 264) }
        }
        #expect(accepted < 20_000)
    }

    @Test func validFramesWithOneFlippedBitAreRejected() throws {
        var rng = SplitMix64(seed: 99)
        for _ in 0..<2_000 {
            let count = Int.random(in: 1...125, using: &rng)
            let words = (0..<count).map { _ in UInt16.random(in: 0...UInt16.max, using: &rng) }
            let request = ModbusRequest(slave: 1, pdu: .readInputRegisters(start: 0, count: UInt16(count)))
            var frame = ModbusRTUFrame.encode(response: .registers(words), slave: 1, function: 4)
            #expect(try ModbusRTUFrame.decodeResponse(frame, to: request) == .registers(words))
            let bit = Int.random(in: 0..<(frame.count * 8), using: &rng)
            frame[bit / 8] ^= UInt8(1 << (bit % 8))
            // CRC-16 detects every single-bit error ([SL] §6.2.2).
            #expect(throws: ModbusFrameError.self) { try ModbusRTUFrame.decodeResponse(frame, to: request) }
        }
    }

    @Test func valueCodecAndBlockDecoderSurviveRandomWords() {
        var rng = SplitMix64(seed: 42)
        for _ in 0..<10_000 {
            let words = (0..<Int.random(in: 0...6, using: &rng)).map { _ in UInt16.random(in: 0...UInt16.max, using: &rng) }
            for type in RegisterValueType.allCases {
                for byteOrder in [RegisterByteOrder.big, .little] {
                    for wordOrder in [RegisterWordOrder.big, .little] {
                        if let value = try? ModbusValueCodec.decode(words, type: type, byteOrder: byteOrder, wordOrder: wordOrder) {
                            #expect(value.isFinite)
                            #expect(words.count == type.registerCount)
                        }
                    }
                }
            }
            let type = RegisterValueType.allCases.randomElement(using: &rng)!
            let spec = ModbusRegisterSpec(quantity: "voltage_l1", function: .readInputRegisters,
                                          address: UInt16.random(in: 0...3, using: &rng), type: type,
                                          scale: [1, 0.001, 1e300, -1e-300].randomElement(using: &rng)!, unit: .volt)
            let block = ModbusReadBlock(function: .readInputRegisters, start: 0, count: Int.random(in: 1...8, using: &rng),
                                        registers: [spec])
            for value in block.decode(words) {
                #expect((value.value == nil) != (value.error == nil))
                if let v = value.value { #expect(v.isFinite) }
            }
        }
    }
}
