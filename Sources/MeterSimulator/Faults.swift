/// What a simulated meter does wrong on request. Text form (flags, control channel, served log):
/// `none`, `silence`, `bad-crc`, `exception:N`, `garbage`, `slow:MS`, `drop-association`,
/// `holes:A,B…` (register addresses the meter does not have, though its profile lists them).
/// On a DLMS meter `bad-crc` corrupts the HDLC frame check, `exception:N` answers every xDLMS
/// request with an exception-response of service error N.
public enum MeterFault: Hashable, Sendable, CustomStringConvertible {
    /// Answers correctly.
    case none
    /// Never answers, as a meter that is off or disconnected.
    case silence
    /// Answers with the right data and a corrupted CRC.
    case badCRC
    /// Answers every request with Modbus exception `code`.
    case exception(UInt8)
    /// Answers with random bytes of the length a correct answer would have.
    case garbage
    /// Answers correctly after this many extra milliseconds.
    case slow(milliseconds: Int)
    /// DLMS meters: after the first block of a profile transfer, answers with DM and forgets the
    /// association (a meter that drops the association mid-profile). Modbus meters ignore it.
    case dropAssociation
    /// Modbus meters: a read that covers any of these register addresses is answered with
    /// exception 2 (illegal data address); everything else is answered correctly. A meter whose
    /// register map has holes its profile does not know (issue 10 §5).
    case holes([UInt16])

    public var description: String {
        switch self {
        case .none: return "none"
        case .silence: return "silence"
        case .badCRC: return "bad-crc"
        case .exception(let code): return "exception:\(code)"
        case .garbage: return "garbage"
        case .slow(let ms): return "slow:\(ms)"
        case .dropAssociation: return "drop-association"
        case .holes(let addresses): return "holes:" + addresses.map(String.init).joined(separator: ",")
        }
    }

    /// Whether a read of `count` registers from `start` touches a hole.
    func refusesRead(start: UInt16, count: UInt16) -> Bool {
        guard case .holes(let addresses) = self else { return false }
        return addresses.contains { Int($0) >= Int(start) && Int($0) < Int(start) + Int(count) }
    }

    /// Parses the text form; the error says what is accepted.
    public static func parse(_ text: String) throws(SimulatorArgumentError) -> MeterFault {
        switch text {
        case "none": return .none
        case "silence": return .silence
        case "bad-crc": return .badCRC
        case "garbage": return .garbage
        case "drop-association": return .dropAssociation
        default: break
        }
        if let code = text.value(after: "exception:") {
            guard let n = UInt8(code), n > 0 else {
                throw .invalid(what: "exception code", value: code, expected: "1-255 (e.g. exception:2)")
            }
            return .exception(n)
        }
        if let list = text.value(after: "holes:") {
            let addresses = list.split(separator: ",").map { UInt16($0) }
            guard !addresses.isEmpty, addresses.allSatisfy({ $0 != nil }) else {
                throw .invalid(what: "holes", value: list, expected: "register addresses 0-65535, comma-separated (e.g. holes:30,32)")
            }
            return .holes(addresses.map { $0! })
        }
        if let ms = text.value(after: "slow:") {
            guard let n = Int(ms), (1...60_000).contains(n) else {
                throw .invalid(what: "slow delay", value: ms, expected: "1-60000 milliseconds (e.g. slow:300)")
            }
            return .slow(milliseconds: n)
        }
        throw .invalid(what: "fault", value: text, expected: "none, silence, bad-crc, exception:N, garbage, slow:MS, drop-association, holes:A,B")
    }
}

/// Which meters a fault applies to: one slave address, or every meter on the line (`*`).
public enum FaultTarget: Hashable, Sendable, CustomStringConvertible {
    case all
    case slave(UInt8)

    public var description: String {
        switch self {
        case .all: return "*"
        case .slave(let a): return String(a)
        }
    }

    public static func parse(_ text: String) throws(SimulatorArgumentError) -> FaultTarget {
        if text == "*" { return .all }
        guard let a = UInt8(text), (1...247).contains(a) else {
            throw .invalid(what: "slave address", value: text, expected: "1-247 or *")
        }
        return .slave(a)
    }
}

/// A fault given on the command line or the control channel.
public enum FaultAssignment: Hashable, Sendable {
    /// `ADDR=FAULT` or `*=FAULT`.
    case meter(FaultTarget, MeterFault)
    /// `vanish:SECONDS`: the port disappears (now, or at start) and comes back after that long.
    case vanish(seconds: Double)

    /// Parses `7=silence`, `*=none`, `9=exception:2`, `vanish:5`.
    public static func parse(_ text: String) throws(SimulatorArgumentError) -> FaultAssignment {
        if let s = text.value(after: "vanish:") { return .vanish(seconds: try parseVanishSeconds(s)) }
        guard let eq = text.firstIndex(of: "=") else {
            throw .invalid(what: "fault", value: text, expected: "ADDR=FAULT, *=FAULT or vanish:SECONDS")
        }
        return .meter(try FaultTarget.parse(String(text[..<eq])), try MeterFault.parse(String(text[text.index(after: eq)...])))
    }

    static func parseVanishSeconds(_ text: String) throws(SimulatorArgumentError) -> Double {
        guard let s = Double(text), s > 0, s <= 3600 else {
            throw .invalid(what: "vanish time", value: text, expected: "seconds, more than 0 and at most 3600")
        }
        return s
    }
}

/// The faults in force: one per meter, with a default for all the others. Not thread-safe by itself;
/// the bus keeps it under its lock.
public struct FaultTable: Hashable, Sendable {
    public private(set) var defaultFault: MeterFault = .none
    public private(set) var perMeter: [UInt8: MeterFault] = [:]

    public init() {}

    /// `*` replaces every per-meter fault; an address sets that meter's fault.
    public mutating func set(_ fault: MeterFault, for target: FaultTarget) {
        switch target {
        case .all:
            defaultFault = fault
            perMeter = [:]
        case .slave(let a):
            perMeter[a] = fault == defaultFault ? nil : fault
        }
    }

    public func fault(for slave: UInt8) -> MeterFault { perMeter[slave] ?? defaultFault }

    /// `*:garbage 7:silence` style summary; `none` when nothing is set.
    public var summary: String {
        var parts: [String] = []
        if defaultFault != .none { parts.append("*:\(defaultFault)") }
        for a in perMeter.keys.sorted() { parts.append("\(a):\(perMeter[a]!)") }
        return parts.isEmpty ? "none" : parts.joined(separator: ",")
    }
}

/// A bad command-line or control-channel argument: what it was, the value, and what is accepted.
public enum SimulatorArgumentError: Error, Hashable, Sendable, CustomStringConvertible {
    case invalid(what: String, value: String, expected: String)

    public var description: String {
        switch self {
        case .invalid(let what, let value, let expected): return "invalid \(what) \"\(value)\" (expected \(expected))"
        }
    }
}

extension String {
    /// The rest of the string after `prefix`, or nil if it does not start with it.
    func value(after prefix: String) -> String? {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : nil
    }
}
