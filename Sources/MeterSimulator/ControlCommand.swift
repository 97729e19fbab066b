import ConcentratorCore

/// A command on the simulator's control channel: one text line in, one line out (`ok …` or `error …`).
///
///     fault ADDR|* FAULT     set a meter's fault (FAULT as in `MeterFault`; `fault * none` clears all)
///     vanish SECONDS         the port disappears now and comes back after SECONDS (a new PTY; the link follows)
///     status                 line state, PTY, link, meter count, requests answered, faults, open relays
///     coil ADDR [on|off]     show or switch a meter's breaking relay (on = connected)
///     clock ADDR [SECONDS]   show a meter's clock offset, or set it (seconds ahead; negative: behind)
///     iec-fault ADDR FAULT   set an IEC 62056-21 meter's fault (`IECMeterFault`: none, silence, bad-bcc, …)
///     iec-clock ADDR SECONDS set how far an IEC meter's clock runs ahead (negative: behind)
///     set ADDR QUANTITY VALUE|auto  hold a quantity at VALUE (catalog unit), or let the model drive it again
///     status-bits ADDR RAW   the value of the meter's status register (the profile's `status`), e.g. 0x21,
///                            or of a DLMS meter's alarm register (the profile's `alarmRegister`)
///     iec-error ADDR RAW     the value of an IEC meter's error-code line (`F.F`, the profile's `errorCode`)
public enum ControlCommand: Hashable, Sendable {
    case fault(FaultTarget, MeterFault)
    case vanish(seconds: Double)
    case status
    case coil(UInt8, set: Bool?)
    case clock(UInt8, offsetSeconds: Int64?)
    case iecFault(String, IECMeterFault)
    case iecClock(String, offsetSeconds: Int64)
    /// Holds a quantity at a value (nil: the model's value again).
    case setValue(UInt8, QuantityID, Double?)
    case statusBits(UInt8, UInt64)
    case iecError(String, UInt32)

    /// The commands and their arguments, for error replies and `--help`.
    public static let usage = "fault ADDR|* FAULT, vanish SECONDS, status, coil ADDR [on|off], clock ADDR [SECONDS], iec-fault ADDR FAULT, iec-clock ADDR SECONDS, set ADDR QUANTITY VALUE|auto, status-bits ADDR RAW, iec-error ADDR RAW"

    /// Parses one line (surrounding spaces ignored).
    public static func parse(_ line: String) throws(SimulatorArgumentError) -> ControlCommand {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
        guard let verb = words.first else { throw .invalid(what: "command", value: "", expected: usage) }
        let args = Array(words.dropFirst())
        func arity(_ n: ClosedRange<Int>, _ form: String) throws(SimulatorArgumentError) {
            guard n.contains(args.count) else { throw .invalid(what: "arguments to \(verb)", value: args.joined(separator: " "), expected: form) }
        }
        switch verb {
        case "fault":
            try arity(2...2, "fault ADDR|* FAULT")
            return .fault(try FaultTarget.parse(args[0]), try MeterFault.parse(args[1]))
        case "vanish":
            try arity(1...1, "vanish SECONDS")
            return .vanish(seconds: try FaultAssignment.parseVanishSeconds(args[0]))
        case "status":
            try arity(0...0, "status")
            return .status
        case "coil":
            try arity(1...2, "coil ADDR [on|off]")
            guard case .slave(let a) = try FaultTarget.parse(args[0]) else {
                throw .invalid(what: "slave address", value: args[0], expected: "1-247")
            }
            guard args.count == 2 else { return .coil(a, set: nil) }
            switch args[1] {
            case "on": return .coil(a, set: true)
            case "off": return .coil(a, set: false)
            default: throw .invalid(what: "relay state", value: args[1], expected: "on or off")
            }
        case "clock":
            try arity(1...2, "clock ADDR [SECONDS]")
            guard case .slave(let a) = try FaultTarget.parse(args[0]) else {
                throw .invalid(what: "slave address", value: args[0], expected: "1-247")
            }
            guard args.count == 2 else { return .clock(a, offsetSeconds: nil) }
            guard let offset = Int64(args[1]), abs(offset) <= 100 * 365 * 86_400 else {
                throw .invalid(what: "clock offset", value: args[1], expected: "whole seconds, e.g. -300 (within ±100 years)")
            }
            return .clock(a, offsetSeconds: offset)
        case "iec-fault":
            try arity(2...2, "iec-fault ADDR FAULT")
            return .iecFault(args[0], try IECMeterFault.parse(args[1]))
        case "iec-clock":
            try arity(2...2, "iec-clock ADDR SECONDS")
            guard let offset = Int64(args[1]), abs(offset) <= 100 * 365 * 86_400 else {
                throw .invalid(what: "clock offset", value: args[1], expected: "whole seconds, e.g. -300 (within ±100 years)")
            }
            return .iecClock(args[0], offsetSeconds: offset)
        case "set":
            try arity(3...3, "set ADDR QUANTITY VALUE|auto")
            guard case .slave(let a) = try FaultTarget.parse(args[0]) else {
                throw .invalid(what: "slave address", value: args[0], expected: "1-247")
            }
            if args[2] == "auto" { return .setValue(a, QuantityID(args[1]), nil) }
            guard let value = Double(args[2]), value.isFinite else {
                throw .invalid(what: "value", value: args[2], expected: "a number in the quantity's catalog unit, or auto")
            }
            return .setValue(a, QuantityID(args[1]), value)
        case "status-bits":
            try arity(2...2, "status-bits ADDR RAW")
            guard case .slave(let a) = try FaultTarget.parse(args[0]) else {
                throw .invalid(what: "slave address", value: args[0], expected: "1-247")
            }
            return .statusBits(a, UInt64(try parseRaw(args[1])))
        case "iec-error":
            try arity(2...2, "iec-error ADDR RAW")
            return .iecError(args[0], try parseRaw(args[1]))
        default:
            throw .invalid(what: "command", value: verb, expected: usage)
        }
    }

    /// A 32-bit raw status value, decimal or `0x` hex.
    private static func parseRaw(_ word: String) throws(SimulatorArgumentError) -> UInt32 {
        let text = word.lowercased()
        guard let raw = text.hasPrefix("0x") ? UInt32(text.dropFirst(2), radix: 16) : UInt32(text) else {
            throw .invalid(what: "status value", value: word, expected: "0–4294967295, decimal or 0x hex")
        }
        return raw
    }
}
