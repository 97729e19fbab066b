#if canImport(Glibc)
import Glibc
#endif
import ConcentratorCore
import Platform

/// One thing a meter did on the line, as recorded in the served log.
public struct ServedRecord: Hashable, Sendable {
    /// The simulator-clock time the answer was computed.
    public var time: Timestamp
    public var slave: UInt8
    public var function: UInt8
    /// Register or coil address of the request, and the register or coil count for reads.
    public var start: UInt16?
    public var count: UInt16?
    /// Register answers: every quantity exactly as a client decodes it.
    public var values: [ServedValue]?
    /// Read-coils answers.
    public var coils: [Bool]?
    /// Write-single-coil: the state written.
    public var coilWritten: Bool?
    /// A Modbus exception the meter answered with (a real one, or an injected `exception:N`).
    public var exception: UInt8?
    /// The injected fault that shaped this answer (`silence`, `bad-crc`, `garbage`, `slow:MS`,
    /// `exception:N`); or, for an answer cut short, `collision` (the client talked over it) or
    /// `port-closed` (the port vanished or the simulator stopped). A cut answer has no values.
    public var fault: String?
    /// DLMS meters: the object and attribute (`1-0:1.8.0.255/2`) or method (`…/m1`) served.
    public var object: String?
    /// DLMS meters: the client's invocation counter on a ciphered request (every one is logged).
    public var invocationCounter: UInt32?
    /// DLMS meters: the client's invocation counter inside f(StoC) (HLS pass 3), a GMAC input that
    /// must never repeat either.
    public var authenticationCounter: UInt32?
    /// The device address of an IEC 62056-21 meter (its records carry no slave and function).
    public var device: String?

    public init(time: Timestamp, slave: UInt8, function: UInt8, start: UInt16? = nil, count: UInt16? = nil,
                values: [ServedValue]? = nil, coils: [Bool]? = nil, coilWritten: Bool? = nil, exception: UInt8? = nil,
                fault: String? = nil) {
        self.time = time
        self.slave = slave
        self.function = function
        self.start = start
        self.count = count
        self.values = values
        self.coils = coils
        self.coilWritten = coilWritten
        self.exception = exception
        self.fault = fault
    }

    /// The JSON line (without the newline):
    /// `{"t":"2026-11-21T10:00:00.123Z","t_ms":1795255200123,"slave":5,"function":4,"start":0,"count":6,
    ///   "values":{"voltage_l1":229.8000030517578,...}}`. Numbers are printed so they parse back to the
    /// same Double. `values` is present only when the client received a valid answer carrying them.
    public var jsonLine: String {
        func number(_ d: Double) -> JSONValue { .number(d, text: "\(d)") }
        func integer<T: BinaryInteger>(_ i: T) -> JSONValue { .number(Double(i), text: "\(i)") }
        var m: [JSONMember] = [
            JSONMember(key: "t", value: .string(ISO8601.format(time))),
            JSONMember(key: "t_ms", value: integer(time.milliseconds)),
        ]
        if let device {
            m.append(JSONMember(key: "device", value: .string(device)))
        } else {
            m += [JSONMember(key: "slave", value: integer(slave)), JSONMember(key: "function", value: integer(function))]
        }
        if let start { m.append(JSONMember(key: "start", value: integer(start))) }
        if let count { m.append(JSONMember(key: "count", value: integer(count))) }
        if let values {
            m.append(JSONMember(key: "values", value: .object(values.map { JSONMember(key: $0.quantity.rawValue, value: number($0.value)) })))
        }
        if let coils { m.append(JSONMember(key: "coils", value: .array(coils.map { .bool($0) }))) }
        if let coilWritten { m.append(JSONMember(key: "on", value: .bool(coilWritten))) }
        if let exception { m.append(JSONMember(key: "exception", value: integer(exception))) }
        if let fault { m.append(JSONMember(key: "fault", value: .string(fault))) }
        if let object { m.append(JSONMember(key: "object", value: .string(object))) }
        if let invocationCounter { m.append(JSONMember(key: "ic", value: integer(invocationCounter))) }
        if let authenticationCounter { m.append(JSONMember(key: "ic_auth", value: integer(authenticationCounter))) }
        return JSONWriter.render(.object(m), pretty: false)
    }
}

/// The served log: JSON lines appended to a file, one `write` per record (no buffering), written
/// just before the answer's last byte goes out, so a client that has the answer finds it logged.
/// Used by the line thread only; closed when the simulator stops or is released.
final class ServedLog: @unchecked Sendable {
    private var fd: Int32

    init(path: String) throws(SimulatorError) {
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .servedLogFailed(path: path, errnoCode: errno) }
    }

    deinit { close() }

    func append(_ record: ServedRecord) {
        guard fd >= 0 else { return }
        try? FileDescriptor.writeAll(fd, record.jsonLine + "\n")
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}
