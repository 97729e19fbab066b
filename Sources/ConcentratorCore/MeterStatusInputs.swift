/// The status inputs of alarm rules beyond Modbus (Docs/profiles.md, "status inputs"): a DLMS
/// meter's alarm register and an IEC 62056-21 meter's error code. Like the Modbus status register
/// (`ModbusStatusSpec`), each is a raw bit field whose bits the profile names; `flag` and
/// `mains-absence` rules name those flags whatever the protocol.

/// A DLMS alarm register: a data object (class 1) whose value (attribute 2) is a bit field,
/// double-long-unsigned, e.g. the Blue Book's "Alarm register 1" 0-0:97.98.0.255.
public struct DLMSAlarmRegisterSpec: Hashable, Sendable {
    /// The logical name, six bytes.
    public var logicalName: [UInt8]
    /// The named bits (0–31, bit 0 the least significant).
    public var bits: [ModbusStatusSpec.Bit]

    /// The logical name of "Alarm register 1" (DLMS UA Blue Book, abstract objects, 0-0:97.98.0.255).
    public static let alarmRegister1: [UInt8] = [0, 0, 97, 98, 0, 255]

    public init(logicalName: [UInt8] = alarmRegister1, bits: [ModbusStatusSpec.Bit]) {
        self.logicalName = logicalName
        self.bits = bits
    }
}

/// An IEC 62056-21 meter's error code: a readout line such as `F.F(00000000)` (the "fatal error"
/// register most meters print) whose value is 1–8 hexadecimal digits, a bit field.
public struct IECErrorCodeSpec: Hashable, Sendable {
    /// The line's code as the meter prints it: `F.F`, `F.F.0`, `0.0.97.97.0` …
    public var obis: String
    /// The named bits (0–31, bit 0 the least significant).
    public var bits: [ModbusStatusSpec.Bit]

    public init(obis: String = "F.F", bits: [ModbusStatusSpec.Bit]) {
        self.obis = obis
        self.bits = bits
    }

    /// The raw value of an error-code line's text (`00000000`, `0000A001`):
    /// 1–8 hexadecimal digits; nil for anything else.
    public static func raw(fromValueText text: String) -> UInt64? {
        guard (1...8).contains(text.utf8.count), text.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x46).contains($0) || (0x61...0x66).contains($0) }) else { return nil }
        return UInt64(text, radix: 16)
    }
}

extension [ModbusStatusSpec.Bit] {
    /// The flags a raw status value holds, by name (bit 0 the least significant).
    public func flags(fromRaw raw: UInt64) -> [String: Bool] {
        var out: [String: Bool] = [:]
        for b in self { out[b.name] = (raw >> UInt64(b.bit)) & 1 == 1 }
        return out
    }
}

extension MeterProfile {
    /// The named bits of the profile's status input, whichever protocol reads it: the Modbus status
    /// register, the DLMS alarm register or the IEC error code (empty without one).
    public var statusBits: [ModbusStatusSpec.Bit] {
        modbus?.status?.bits ?? dlms?.alarmRegister?.bits ?? iec?.errorCode?.bits ?? []
    }
}

/// Reads a status input's `bits` object (`{"tamper": 0, "cover_open": 3}`): 1–32 flag names of
/// `[a-z0-9_]`, each bit named once and within `0...highestBit`. Problems go to `issues`.
func readStatusFlagBits(_ o: JSONObjectReader, issues: IssueCollector, highestBit: Int) -> [ModbusStatusSpec.Bit]? {
    guard let members = o.object("bits", required: true) else { return nil }
    var bits: [ModbusStatusSpec.Bit] = []
    var valid = true
    let names = (o.member("bits")?.value.members ?? []).map(\.key)
    if names.isEmpty || names.count > 32 {
        issues.add(path: members.path, line: members.line, problem: "must name 1–32 bits")
        valid = false
    }
    var seenBits: [Int: String] = [:]
    for name in names {
        let isName = !name.isEmpty && name.count <= 32
            && name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
        guard let bit = members.int(name, required: true, in: 0...highestBit) else { valid = false; continue }
        if !isName {
            issues.add(path: members.path + "." + name, line: members.member(name)?.line, problem: "not a flag name",
                       expected: "1–32 characters from a–z, 0–9, '_'")
            valid = false
        } else if let other = seenBits[bit] {
            issues.add(path: members.path + "." + name, line: members.member(name)?.line,
                       problem: "bit \(bit) is already named \"\(other)\"", expected: "each bit named once")
            valid = false
        } else {
            seenBits[bit] = name
            bits.append(ModbusStatusSpec.Bit(name: name, bit: bit))
        }
    }
    members.finish()
    return valid ? bits : nil
}
