#if canImport(Glibc)
import Glibc
#endif
import CModbus
import ConcentratorCore
import Platform

/// Why one Modbus transaction failed.
public enum ModbusTransactionError: Error, Hashable, Sendable, CustomStringConvertible {
    /// No answer within the response timeout.
    case timeout
    /// An answer with a bad CRC.
    case badCRC
    /// The meter answered with a Modbus exception.
    case exception(UInt8)
    /// An answer that is not a valid response to the request (length, slave, function).
    case malformed(String)
    /// The port failed (the device vanished, an I/O error).
    case io(Int32)

    public var meterError: MeterErrorCode {
        switch self {
        case .timeout: return .noResponse
        case .badCRC: return .badChecksum
        case .exception(let code): return .modbusException(code)
        case .malformed: return .malformedResponse
        case .io: return .ioError
        }
    }

    public var description: String {
        switch self {
        case .io(let code): return "I/O error: \(String(cString: strerror(code)))"
        case .malformed(let what): return "malformed response (\(what))"
        default: return meterError.description
        }
    }

    /// Whether the port itself should be reopened.
    public var portFailed: Bool {
        if case .io = self { return true }
        return false
    }
}

/// A libmodbus RTU context driving a port the bus owner opened (`modbus_set_socket`), so the bus
/// owner stays the only one who opens the device. Not thread-safe: used by its bus thread only.
final class ModbusMaster {
    private let context: OpaquePointer

    init(port: SerialPort) {
        let line = port.line
        let parity: CChar = switch line.parity {
        case .none: CChar(UInt8(ascii: "N"))
        case .even: CChar(UInt8(ascii: "E"))
        case .odd: CChar(UInt8(ascii: "O"))
        }
        // The device name is only used by modbus_connect, which we never call.
        context = modbus_new_rtu(port.path, Int32(line.baud), parity, Int32(line.dataBits), Int32(line.stopBits))!
        modbus_set_socket(context, port.fd)
        modbus_set_error_recovery(context, MODBUS_ERROR_RECOVERY_NONE)
    }

    deinit {
        // modbus_free does not close the descriptor; the SerialPort owns it.
        modbus_free(context)
    }

    /// Reads `count` holding (3) or input (4) registers.
    func readRegisters(slave: UInt8, function: ModbusFunction, start: UInt16, count: Int,
                       timeout: Duration, byteTimeout: Duration) -> Result<[UInt16], ModbusTransactionError> {
        prepare(slave: slave, timeout: timeout, byteTimeout: byteTimeout)
        var registers = [UInt16](repeating: 0, count: count)
        let n: Int32 = registers.withUnsafeMutableBufferPointer { buffer in
            function == .readInputRegisters
                ? modbus_read_input_registers(context, Int32(start), Int32(count), buffer.baseAddress)
                : modbus_read_registers(context, Int32(start), Int32(count), buffer.baseAddress)
        }
        if n == Int32(count) { return .success(registers) }
        return .failure(n < 0 ? lastError() : .malformed("\(n) of \(count) registers"))
    }

    /// Reads `count` coils starting at `start`.
    func readCoils(slave: UInt8, start: UInt16, count: Int, timeout: Duration,
                   byteTimeout: Duration) -> Result<[Bool], ModbusTransactionError> {
        prepare(slave: slave, timeout: timeout, byteTimeout: byteTimeout)
        var bits = [UInt8](repeating: 0, count: count)
        let n = bits.withUnsafeMutableBufferPointer { modbus_read_bits(context, Int32(start), Int32(count), $0.baseAddress) }
        if n == Int32(count) { return .success(bits.map { $0 != 0 }) }
        return .failure(n < 0 ? lastError() : .malformed("\(n) of \(count) coils"))
    }

    /// Writes one coil (function 5).
    func writeCoil(slave: UInt8, address: UInt16, on: Bool, timeout: Duration,
                   byteTimeout: Duration) -> Result<Void, ModbusTransactionError> {
        prepare(slave: slave, timeout: timeout, byteTimeout: byteTimeout)
        let n = modbus_write_bit(context, Int32(address), on ? 1 : 0)
        return n == 1 ? .success(()) : .failure(lastError())
    }

    /// Writes registers (function 16).
    func writeRegisters(slave: UInt8, start: UInt16, values: [UInt16], timeout: Duration,
                        byteTimeout: Duration) -> Result<Void, ModbusTransactionError> {
        prepare(slave: slave, timeout: timeout, byteTimeout: byteTimeout)
        let n = values.withUnsafeBufferPointer { modbus_write_registers(context, Int32(start), Int32(values.count), $0.baseAddress) }
        return n == Int32(values.count) ? .success(()) : .failure(lastError())
    }

    private func prepare(slave: UInt8, timeout: Duration, byteTimeout: Duration) {
        modbus_set_slave(context, Int32(slave))
        let (ts, tu) = Self.secondsAndMicros(timeout)
        modbus_set_response_timeout(context, ts, tu)
        let (bs, bu) = Self.secondsAndMicros(byteTimeout)
        modbus_set_byte_timeout(context, bs, bu)
        cmodbus_clear_errno()
    }

    private func lastError() -> ModbusTransactionError {
        let code = cmodbus_errno()
        let base = cmodbus_enobase()
        switch code {
        case ETIMEDOUT: return .timeout
        case cmodbus_embbadcrc(): return .badCRC
        case (base + 1)...(base + 11): return .exception(UInt8(code - base))
        case cmodbus_embbaddata(): return .malformed("unexpected data length")
        case cmodbus_embmdata(): return .malformed("too many data")
        case cmodbus_embbadexc(): return .malformed("invalid exception code")
        case cmodbus_embbadslave(): return .malformed("answer from another slave")
        case base...(base + 100): return .malformed("libmodbus error \(code - base)")
        case 0: return .malformed("short answer")
        default: return .io(code)
        }
    }

    private static func secondsAndMicros(_ d: Duration) -> (UInt32, UInt32) {
        let micros = max(1000, Int64(d.inMilliseconds * 1000))
        return (UInt32(micros / 1_000_000), UInt32(micros % 1_000_000))
    }
}
