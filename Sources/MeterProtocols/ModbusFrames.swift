/// A Modbus request PDU: what the master asks of one slave.
public enum ModbusRequestPDU: Hashable, Sendable {
    case readCoils(start: UInt16, count: UInt16)
    case readHoldingRegisters(start: UInt16, count: UInt16)
    case readInputRegisters(start: UInt16, count: UInt16)
    case writeSingleCoil(address: UInt16, on: Bool)
    case writeSingleRegister(address: UInt16, value: UInt16)
    case writeMultipleRegisters(start: UInt16, values: [UInt16])

    public var function: UInt8 {
        switch self {
        case .readCoils: return 1
        case .readHoldingRegisters: return 3
        case .readInputRegisters: return 4
        case .writeSingleCoil: return 5
        case .writeSingleRegister: return 6
        case .writeMultipleRegisters: return 16
        }
    }
}

/// A Modbus response PDU.
public enum ModbusResponsePDU: Hashable, Sendable {
    case coils([Bool])
    case registers([UInt16])
    /// Echo of a write: address (or start) and value (or count).
    case writeAcknowledged(address: UInt16, value: UInt16)
    case exception(function: UInt8, code: UInt8)
}

/// A request addressed to one slave on the line.
public struct ModbusRequest: Hashable, Sendable {
    public var slave: UInt8
    public var pdu: ModbusRequestPDU

    public init(slave: UInt8, pdu: ModbusRequestPDU) {
        self.slave = slave
        self.pdu = pdu
    }
}

/// Why bytes do not form a valid Modbus RTU frame.
public enum ModbusFrameError: Error, Hashable, Sendable, CustomStringConvertible {
    case tooShort(count: Int)
    case badCRC(expected: UInt16, received: UInt16)
    case unsupportedFunction(UInt8)
    case lengthMismatch(expected: Int, received: Int)
    case wrongSlave(expected: UInt8, received: UInt8)
    case wrongFunction(expected: UInt8, received: UInt8)
    case invalidQuantity(UInt16)
    case invalidCoilValue(UInt16)

    public var description: String {
        switch self {
        case .tooShort(let n): return "frame too short (\(n) bytes)"
        case .badCRC(let e, let r): return "bad CRC (expected \(hex16(e)), received \(hex16(r)))"
        case .unsupportedFunction(let f): return "unsupported function code \(f)"
        case .lengthMismatch(let e, let r): return "length mismatch (expected \(e) bytes, received \(r))"
        case .wrongSlave(let e, let r): return "answer from slave \(r), expected \(e)"
        case .wrongFunction(let e, let r): return "answer to function \(r), expected \(e)"
        case .invalidQuantity(let q): return "invalid quantity \(q)"
        case .invalidCoilValue(let v): return "invalid coil value \(hex16(v))"
        }
    }
}

func hex16(_ v: UInt16) -> String {
    let s = String(v, radix: 16, uppercase: true)
    return "0x" + String(repeating: "0", count: 4 - s.count) + s
}

/// Encodes and decodes Modbus RTU frames (slave address, PDU, CRC). Pure.
/// Reference: Modbus Application Protocol Specification V1.1b3 (PDUs) and Modbus over Serial Line V1.02 (RTU).
public enum ModbusRTUFrame {
    /// The request as bytes on the wire, CRC included.
    public static func encode(_ request: ModbusRequest) -> [UInt8] {
        var b: [UInt8] = [request.slave, request.pdu.function]
        func put16(_ v: UInt16) { b.append(UInt8(v >> 8)); b.append(UInt8(v & 0xFF)) }
        switch request.pdu {
        case .readCoils(let s, let c), .readHoldingRegisters(let s, let c), .readInputRegisters(let s, let c):
            put16(s); put16(c)
        case .writeSingleCoil(let a, let on):
            put16(a); put16(on ? 0xFF00 : 0x0000)
        case .writeSingleRegister(let a, let v):
            put16(a); put16(v)
        case .writeMultipleRegisters(let s, let values):
            put16(s); put16(UInt16(values.count)); b.append(UInt8(values.count * 2))
            for v in values { put16(v) }
        }
        return ModbusCRC.appending(to: b)
    }

    /// The length of a complete request frame, judged from its first bytes, or nil if more bytes
    /// are needed to tell. Used by slaves (the simulator) to delimit frames on a byte stream.
    public static func requestLength(prefix: [UInt8]) -> Int? {
        guard prefix.count >= 2 else { return nil }
        switch prefix[1] {
        case 1, 2, 3, 4, 5, 6: return 8
        case 15, 16:
            guard prefix.count >= 7 else { return nil }
            return 9 + Int(prefix[6])
        default: return 4 // unknown function: address, function, CRC; the slave answers "illegal function"
        }
    }

    /// Parses a complete request frame (slave side).
    public static func decodeRequest(_ frame: [UInt8]) throws(ModbusFrameError) -> ModbusRequest {
        guard frame.count >= 4 else { throw .tooShort(count: frame.count) }
        try checkCRC(frame)
        let slave = frame[0], function = frame[1]
        func u16(_ i: Int) -> UInt16 { UInt16(frame[i]) << 8 | UInt16(frame[i + 1]) }
        switch function {
        case 1, 3, 4, 5, 6:
            guard frame.count == 8 else { throw .lengthMismatch(expected: 8, received: frame.count) }
            let a = u16(2), v = u16(4)
            switch function {
            case 1:
                guard (1...2000).contains(v) else { throw .invalidQuantity(v) }
                return ModbusRequest(slave: slave, pdu: .readCoils(start: a, count: v))
            case 3, 4:
                guard (1...125).contains(v) else { throw .invalidQuantity(v) }
                return ModbusRequest(slave: slave, pdu: function == 3 ? .readHoldingRegisters(start: a, count: v)
                                                                      : .readInputRegisters(start: a, count: v))
            case 5:
                guard v == 0xFF00 || v == 0 else { throw .invalidCoilValue(v) }
                return ModbusRequest(slave: slave, pdu: .writeSingleCoil(address: a, on: v == 0xFF00))
            default:
                return ModbusRequest(slave: slave, pdu: .writeSingleRegister(address: a, value: v))
            }
        case 16:
            guard frame.count >= 9 else { throw .tooShort(count: frame.count) }
            let count = u16(4)
            guard (1...123).contains(count), Int(frame[6]) == Int(count) * 2 else { throw .invalidQuantity(count) }
            guard frame.count == 9 + Int(frame[6]) else { throw .lengthMismatch(expected: 9 + Int(frame[6]), received: frame.count) }
            let values = (0..<Int(count)).map { u16(7 + 2 * $0) }
            return ModbusRequest(slave: slave, pdu: .writeMultipleRegisters(start: u16(2), values: values))
        default:
            throw .unsupportedFunction(function)
        }
    }

    /// The response as bytes on the wire, CRC included (slave side).
    public static func encode(response: ModbusResponsePDU, slave: UInt8, function: UInt8) -> [UInt8] {
        var b: [UInt8] = [slave]
        switch response {
        case .coils(let bits):
            b.append(function)
            let byteCount = (bits.count + 7) / 8
            b.append(UInt8(byteCount))
            var packed = [UInt8](repeating: 0, count: byteCount)
            for (i, bit) in bits.enumerated() where bit { packed[i / 8] |= 1 << (i % 8) }
            b += packed
        case .registers(let regs):
            b.append(function)
            b.append(UInt8(regs.count * 2))
            for r in regs { b.append(UInt8(r >> 8)); b.append(UInt8(r & 0xFF)) }
        case .writeAcknowledged(let a, let v):
            b += [function, UInt8(a >> 8), UInt8(a & 0xFF), UInt8(v >> 8), UInt8(v & 0xFF)]
        case .exception(let f, let code):
            b += [f | 0x80, code]
        }
        return ModbusCRC.appending(to: b)
    }

    /// Parses a complete response frame to `request` (master side).
    public static func decodeResponse(_ frame: [UInt8], to request: ModbusRequest) throws(ModbusFrameError) -> ModbusResponsePDU {
        guard frame.count >= 5 else { throw .tooShort(count: frame.count) }
        try checkCRC(frame)
        guard frame[0] == request.slave else { throw .wrongSlave(expected: request.slave, received: frame[0]) }
        let function = request.pdu.function
        if frame[1] == function | 0x80 {
            guard frame.count == 5 else { throw .lengthMismatch(expected: 5, received: frame.count) }
            return .exception(function: function, code: frame[2])
        }
        guard frame[1] == function else { throw .wrongFunction(expected: function, received: frame[1]) }
        func u16(_ i: Int) -> UInt16 { UInt16(frame[i]) << 8 | UInt16(frame[i + 1]) }
        switch request.pdu {
        case .readCoils(_, let count):
            let n = (Int(count) + 7) / 8
            guard Int(frame[2]) == n, frame.count == 5 + n else { throw .lengthMismatch(expected: 5 + n, received: frame.count) }
            return .coils((0..<Int(count)).map { frame[3 + $0 / 8] & (1 << ($0 % 8)) != 0 })
        case .readHoldingRegisters(_, let count), .readInputRegisters(_, let count):
            let n = Int(count) * 2
            guard Int(frame[2]) == n, frame.count == 5 + n else { throw .lengthMismatch(expected: 5 + n, received: frame.count) }
            return .registers((0..<Int(count)).map { u16(3 + 2 * $0) })
        case .writeSingleCoil, .writeSingleRegister, .writeMultipleRegisters:
            guard frame.count == 8 else { throw .lengthMismatch(expected: 8, received: frame.count) }
            return .writeAcknowledged(address: u16(2), value: u16(4))
        }
    }

    /// Length of a complete response to `request` without errors, in bytes (for wire-time sums).
    public static func expectedResponseLength(to request: ModbusRequest) -> Int {
        switch request.pdu {
        case .readCoils(_, let c): return 5 + (Int(c) + 7) / 8
        case .readHoldingRegisters(_, let c), .readInputRegisters(_, let c): return 5 + 2 * Int(c)
        case .writeSingleCoil, .writeSingleRegister, .writeMultipleRegisters: return 8
        }
    }

    private static func checkCRC(_ frame: [UInt8]) throws(ModbusFrameError) {
        let expected = ModbusCRC.compute(frame[0..<(frame.count - 2)])
        let received = UInt16(frame[frame.count - 2]) | UInt16(frame[frame.count - 1]) << 8
        guard expected == received else { throw .badCRC(expected: expected, received: received) }
    }
}
