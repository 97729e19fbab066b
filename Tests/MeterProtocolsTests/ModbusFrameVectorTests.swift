import Testing
import ConcentratorCore
@testable import MeterProtocols

/// Byte vectors for the Modbus RTU CRC and frame codec.
///
/// Sources:
/// - [SL] "MODBUS over Serial Line, Specification and Implementation Guide V1.02" (modbus.org, 2006),
///   §2.5.1 RTU framing and §6.2.2 CRC generation.
/// - [AP] "MODBUS Application Protocol Specification V1.1b3" (modbus.org, 2012): §6.3 Read Holding
///   Registers, §6.4 Read Input Registers, §6.5 Write Single Coil, §6.6 Write Single Register,
///   §6.12 Write Multiple Registers, §7 exception responses. [AP] gives PDUs only; where a test wraps
///   them in an RTU frame, the CRC bytes written below were computed independently with the bitwise
///   (shift and XOR 0xA001) algorithm of [SL] §6.2.2, not with the table implementation under test.
/// - [PI] Modicon "Modbus Protocol Reference Guide" PI-MBUS-300 Rev. J (1996), Appendix C CRC example.
/// - [SDM] Eastron SDM320Y user manual V1.0 (2018), §4.3 "For example: Read input register":
///   "Send: 01 04 01 56 00 02 90 27".
/// - [7M] Finder 7M user's manual, "Request-response cycle example" (slave 21, function 04, start
///   006Bh, 2 registers; answer data FE 00 59 96).
@Suite struct ModbusFrameVectorTests {
    static func bytes(_ hex: String) -> [UInt8] {
        hex.split(separator: " ").map { UInt8($0, radix: 16)! }
    }

    @Test(arguments: [
        // [SL]: the request 01 03 00 6B 00 03 carries CRC 74 17 (low byte first).
        ("01 03 00 6B 00 03", "74 17"),
        // [PI] Appendix C: message 02 07 → CRC 0x1241, sent 41 12.
        ("02 07", "41 12"),
        // [AP] §6.3 request PDU 03 00 6B 00 03 to slave 0x11 (the PI-MBUS-300 example slave).
        ("11 03 00 6B 00 03", "76 87"),
        // [SDM] §4.3 vendor example.
        ("01 04 01 56 00 02", "90 27"),
        // [AP] §6.5 write single coil 173 (0x00AC) ON, to slave 1.
        ("01 05 00 AC FF 00", "4C 1B"),
    ])
    func crcVectors(message: String, crc: String) {
        let m = Self.bytes(message)
        #expect(ModbusCRC.appending(to: m) == m + Self.bytes(crc))
        #expect(ModbusCRC.isValid(m + Self.bytes(crc)))
        var corrupted = m + Self.bytes(crc)
        corrupted[0] ^= 0x01
        #expect(!ModbusCRC.isValid(corrupted))
    }

    @Test func encodesRequestsAsInTheDocuments() {
        #expect(ModbusRTUFrame.encode(ModbusRequest(slave: 1, pdu: .readHoldingRegisters(start: 0x6B, count: 3)))
                == Self.bytes("01 03 00 6B 00 03 74 17"))
        #expect(ModbusRTUFrame.encode(ModbusRequest(slave: 1, pdu: .readInputRegisters(start: 0x0156, count: 2)))
                == Self.bytes("01 04 01 56 00 02 90 27"))
        #expect(ModbusRTUFrame.encode(ModbusRequest(slave: 1, pdu: .readInputRegisters(start: 0x0008, count: 1)))
                == Self.bytes("01 04 00 08 00 01 B0 08"))
        #expect(ModbusRTUFrame.encode(ModbusRequest(slave: 1, pdu: .writeSingleCoil(address: 0xAC, on: true)))
                == Self.bytes("01 05 00 AC FF 00 4C 1B"))
        #expect(ModbusRTUFrame.encode(ModbusRequest(slave: 1, pdu: .writeSingleRegister(address: 1, value: 3)))
                == Self.bytes("01 06 00 01 00 03 98 0B"))
        #expect(ModbusRTUFrame.encode(ModbusRequest(slave: 1, pdu: .writeMultipleRegisters(start: 1, values: [0x000A, 0x0102])))
                == Self.bytes("01 10 00 01 00 02 04 00 0A 01 02 92 30"))
        // [7M]: the request part of the example; CRC 07 77 computed independently.
        #expect(ModbusRTUFrame.encode(ModbusRequest(slave: 0x21, pdu: .readInputRegisters(start: 0x6B, count: 2)))
                == Self.bytes("21 04 00 6B 00 02 07 77"))
    }

    @Test func decodesReadResponses() throws {
        // [AP] §6.3: registers 108–110 hold 555 (0x022B), 0 and 100 (0x0064).
        let holding = ModbusRequest(slave: 0x11, pdu: .readHoldingRegisters(start: 0x6B, count: 3))
        #expect(try ModbusRTUFrame.decodeResponse(Self.bytes("11 03 06 02 2B 00 00 00 64 C8 BA"), to: holding)
                == .registers([555, 0, 100]))
        // [AP] §6.4: input register 9 (address 8) holds 10.
        let input = ModbusRequest(slave: 1, pdu: .readInputRegisters(start: 8, count: 1))
        #expect(try ModbusRTUFrame.decodeResponse(Self.bytes("01 04 02 00 0A 39 37"), to: input) == .registers([10]))
        // [7M]: answer data FE 00 59 96; CRC 51 90 computed independently.
        let finder = ModbusRequest(slave: 0x21, pdu: .readInputRegisters(start: 0x6B, count: 2))
        #expect(try ModbusRTUFrame.decodeResponse(Self.bytes("21 04 04 FE 00 59 96 51 90"), to: finder)
                == .registers([0xFE00, 0x5996]))
    }

    @Test func decodesExceptionResponses() throws {
        // [AP] §7: read coils at 0x04A1 answered with exception 02 (illegal data address): PDU 81 02.
        let coils = ModbusRequest(slave: 0x0A, pdu: .readCoils(start: 0x04A1, count: 1))
        #expect(ModbusRTUFrame.encode(coils) == Self.bytes("0A 01 04 A1 00 01 AC 63"))
        #expect(try ModbusRTUFrame.decodeResponse(Self.bytes("0A 81 02 B0 53"), to: coils) == .exception(function: 1, code: 2))
        // The same exception code to a read-input-registers request: PDU 84 02.
        let input = ModbusRequest(slave: 1, pdu: .readInputRegisters(start: 0, count: 2))
        #expect(try ModbusRTUFrame.decodeResponse(Self.bytes("01 84 02 C2 C1"), to: input) == .exception(function: 4, code: 2))
    }

    @Test func rejectsDamagedResponses() {
        let input = ModbusRequest(slave: 1, pdu: .readInputRegisters(start: 8, count: 1))
        #expect(throws: ModbusFrameError.badCRC(expected: 0x3739, received: 0x3839)) {
            try ModbusRTUFrame.decodeResponse(Self.bytes("01 04 02 00 0A 39 38"), to: input)
        }
        #expect(throws: ModbusFrameError.tooShort(count: 4)) {
            try ModbusRTUFrame.decodeResponse(Self.bytes("01 04 02 00"), to: input)
        }
        // A correct frame from another slave.
        let other = ModbusRequest(slave: 2, pdu: .readInputRegisters(start: 8, count: 1))
        #expect(throws: ModbusFrameError.wrongSlave(expected: 2, received: 1)) {
            try ModbusRTUFrame.decodeResponse(Self.bytes("01 04 02 00 0A 39 37"), to: other)
        }
        // A correct frame that answers one register where two were asked for.
        let two = ModbusRequest(slave: 1, pdu: .readInputRegisters(start: 8, count: 2))
        #expect(throws: ModbusFrameError.lengthMismatch(expected: 9, received: 7)) {
            try ModbusRTUFrame.decodeResponse(Self.bytes("01 04 02 00 0A 39 37"), to: two)
        }
    }

    /// Requests from [AP] §6.3–§6.12 back to back on one byte stream, as a slave receives them.
    static let requestStream: [[UInt8]] = [
        bytes("01 03 00 6B 00 03 74 17"),
        bytes("01 04 00 08 00 01 B0 08"),
        bytes("01 05 00 AC FF 00 4C 1B"),
        bytes("01 06 00 01 00 03 98 0B"),
        bytes("01 10 00 01 00 02 04 00 0A 01 02 92 30"),
        bytes("0A 01 04 A1 00 01 AC 63"),
    ]

    /// Splits the stream into two reads at every offset; `requestLength(prefix:)` must delimit the
    /// same frames each time, and each frame must decode to the request it came from.
    @Test func delimitsRequestsSplitAtEveryOffset() throws {
        let stream = Self.requestStream.flatMap { $0 }
        for split in 0...stream.count {
            var buffer: [UInt8] = []
            var frames: [[UInt8]] = []
            for chunk in [Array(stream[..<split]), Array(stream[split...])] {
                buffer += chunk
                while let length = ModbusRTUFrame.requestLength(prefix: buffer), buffer.count >= length {
                    frames.append(Array(buffer[..<length]))
                    buffer.removeFirst(length)
                }
            }
            #expect(frames == Self.requestStream, "split at \(split)")
            #expect(buffer.isEmpty)
        }
        let decoded = try Self.requestStream.map { try ModbusRTUFrame.decodeRequest($0) }
        #expect(decoded == [
            ModbusRequest(slave: 1, pdu: .readHoldingRegisters(start: 0x6B, count: 3)),
            ModbusRequest(slave: 1, pdu: .readInputRegisters(start: 8, count: 1)),
            ModbusRequest(slave: 1, pdu: .writeSingleCoil(address: 0xAC, on: true)),
            ModbusRequest(slave: 1, pdu: .writeSingleRegister(address: 1, value: 3)),
            ModbusRequest(slave: 1, pdu: .writeMultipleRegisters(start: 1, values: [0x000A, 0x0102])),
            ModbusRequest(slave: 0x0A, pdu: .readCoils(start: 0x04A1, count: 1)),
        ])
    }

    @Test func requestLengthWaitsForEnoughBytes() {
        let write = Self.bytes("01 10 00 01 00 02 04 00 0A 01 02 92 30")
        for n in 0..<7 { #expect(ModbusRTUFrame.requestLength(prefix: Array(write[..<n])) == nil) }
        #expect(ModbusRTUFrame.requestLength(prefix: Array(write[..<7])) == write.count)
        #expect(ModbusRTUFrame.requestLength(prefix: [1]) == nil)
        #expect(ModbusRTUFrame.requestLength(prefix: [1, 4]) == 8)
    }
}
