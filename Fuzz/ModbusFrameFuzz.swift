// libFuzzer entry for the Modbus codecs: RTU frame decoders, request delimiting, the register value
// codec and the block decoder. Built and run by scripts/fuzz.sh (swiftc -sanitize=fuzzer,address),
// against the ConcentratorCore and MeterProtocols modules.
// Besides "never crash", it checks that every accepted frame encodes back to the same bytes.
import ConcentratorCore
@testable import MeterProtocols

/// The request a fuzz input answers: its first six bytes choose the function, slave, start and count.
private func request(from b: [UInt8]) -> ModbusRequest {
    let slave = b[1]
    let start = UInt16(b[2]) << 8 | UInt16(b[3])
    let count = UInt16(b[4]) << 8 | UInt16(b[5])
    switch b[0] % 6 {
    case 0: return ModbusRequest(slave: slave, pdu: .readCoils(start: start, count: count))
    case 1: return ModbusRequest(slave: slave, pdu: .readHoldingRegisters(start: start, count: count))
    case 2: return ModbusRequest(slave: slave, pdu: .readInputRegisters(start: start, count: count))
    case 3: return ModbusRequest(slave: slave, pdu: .writeSingleCoil(address: start, on: count & 1 == 1))
    case 4: return ModbusRequest(slave: slave, pdu: .writeSingleRegister(address: start, value: count))
    default: return ModbusRequest(slave: slave, pdu: .writeMultipleRegisters(start: start, values: [count]))
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func modbusFrameFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []

    // Request side: delimiting and decoding a frame a slave receives.
    if let length = ModbusRTUFrame.requestLength(prefix: bytes) {
        precondition(length >= 4 && length <= 264, "request length out of range")
    }
    // Half the inputs get a correct CRC appended, so the fuzzer reaches the checks behind the CRC.
    let sealed = bytes.first.map { $0 & 0x40 != 0 } ?? false
    let requestFrame = sealed ? ModbusCRC.appending(to: bytes) : bytes
    if let decoded = try? ModbusRTUFrame.decodeRequest(requestFrame) {
        precondition(ModbusRTUFrame.encode(decoded) == requestFrame, "decoded request does not encode back")
    }

    // Response side: the rest of the input answers the request its first six bytes describe.
    if bytes.count >= 6 {
        let req = request(from: bytes)
        let frame = sealed ? ModbusCRC.appending(to: Array(bytes[6...])) : Array(bytes[6...])
        if let response = try? ModbusRTUFrame.decodeResponse(frame, to: req) {
            switch response {
            case .registers(let words):
                precondition(frame.count == 5 + 2 * words.count)
                precondition(ModbusRTUFrame.encode(response: response, slave: req.slave, function: req.pdu.function) == frame,
                             "register response does not encode back")
            case .exception, .writeAcknowledged:
                precondition(ModbusRTUFrame.encode(response: response, slave: req.slave, function: req.pdu.function) == frame,
                             "response does not encode back")
            case .coils(let bits):
                precondition(frame.count == 5 + (bits.count + 7) / 8)
            }
        }
    }

    // Value codec and block decoder on the input taken as big-endian registers.
    var words: [UInt16] = []
    var i = 0
    while i + 1 < bytes.count {
        words.append(UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1]))
        i += 2
    }
    for type in RegisterValueType.allCases {
        for byteOrder in [RegisterByteOrder.big, .little] {
            for wordOrder in [RegisterWordOrder.big, .little] {
                let n = min(words.count, type.registerCount)
                if let value = try? ModbusValueCodec.decode(words.prefix(n), type: type, byteOrder: byteOrder, wordOrder: wordOrder) {
                    precondition(value.isFinite, "codec returned a non-finite value")
                }
            }
        }
    }
    if let first = bytes.first {
        let type = RegisterValueType.allCases[Int(first) % RegisterValueType.allCases.count]
        let spec = ModbusRegisterSpec(quantity: "voltage_l1", function: .readInputRegisters, address: UInt16(first % 8),
                                      type: type, scale: first & 0x80 == 0 ? 0.1 : 1e308, unit: .volt)
        let block = ModbusReadBlock(function: .readInputRegisters, start: 0, count: max(1, words.count), registers: [spec])
        for value in block.decode(words) {
            precondition((value.value == nil) != (value.error == nil), "value and error both set or both missing")
            if let v = value.value { precondition(v.isFinite) }
        }
    }
    return 0
}
