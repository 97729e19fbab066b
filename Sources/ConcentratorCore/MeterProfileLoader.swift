/// Turns one meter profile document (a `Profiles/*.json` file) into a `MeterProfile`.
///
/// Pure: text in, profile or `ValidationFailure` out. Every problem in the document is reported at
/// once, each with its JSON path and line: unknown keys, unknown quantities, units that differ from
/// the quantity catalog, duplicate quantities, overlapping registers, values that run past the
/// address space or sit inside a declared gap, and limits outside what Modbus allows.
/// The format is described field by field in `Docs/profiles.md`.
public enum MeterProfileLoader {
    /// Parses a profile document. `source` names the document in the failure (usually its path).
    public static func parse(_ text: String, source: String) throws(ValidationFailure) -> MeterProfile {
        try parse(bytes: Array(text.utf8), source: source)
    }

    /// Parses a profile document given as UTF-8 bytes.
    public static func parse(bytes: [UInt8], source: String) throws(ValidationFailure) -> MeterProfile {
        let document: JSONValue
        do {
            document = try JSONParser.parse(bytes)
        } catch {
            throw ValidationFailure(source: source, issues: [
                ValidationIssue(path: "$", line: error.line, problem: "not valid JSON (column \(error.column)): \(error.message)"),
            ])
        }
        let reader = ProfileDocumentReader()
        let profile = reader.read(document)
        guard let profile, reader.issues.issues.isEmpty else {
            let issues = reader.issues.issues
            throw ValidationFailure(source: source, issues: issues.isEmpty ? [ValidationIssue(path: "$", problem: "incomplete profile")] : issues)
        }
        return profile
    }

    /// Largest register count one read request may ask for (Modbus Application Protocol V1.1b3, §6.3/§6.4).
    public static let modbusRegisterLimit = 125
}

/// One register entry as read, with where it was found, for the cross-entry checks.
private struct LocatedRegister {
    let spec: ModbusRegisterSpec
    let path: String
    let line: Int?
}

/// One gap as read, with where it was found.
private struct LocatedGap {
    let gap: ModbusRegisterGap
    let path: String
}

/// Reads the document tree; collects every issue instead of stopping at the first.
final class ProfileDocumentReader {
    let issues = IssueCollector()

    func read(_ document: JSONValue) -> MeterProfile? {
        guard let root = issues.object(document, at: "$") else { return nil }
        let id = root.string("id", required: true, maxLength: 64)
        if let id, !Self.isValidID(id) {
            issues.add(path: "$.id", line: root.member("id")?.line, problem: "not a valid profile id", value: .string(id),
                       expected: "lower-case letters, digits and '-', starting with a letter or digit")
        }
        let name = root.string("name", required: true)
        let manufacturer = root.string("manufacturer", required: true)
        let source = root.string("source", required: true, maxLength: 4000)
        let protocolName = root.string("protocol", required: true, allowed: MeterProtocolKind.allCases.map(\.rawValue))
        let protocolKind = protocolName.flatMap(MeterProtocolKind.init(rawValue:))
        var modbus: ModbusRegisterMap?
        var dlms: DLMSProfileSection?
        var iec: IECProfile?
        var mbus: MBusRecordMap?
        switch protocolKind {
        case .modbus?:
            if let section = root.object("modbus", required: true) { modbus = readModbus(section) }
        case .dlms?:
            if let section = root.object("dlms", required: true) { dlms = readDLMS(section) } // MeterProfileLoader+DLMS.swift
        case .iec62056_21?:
            if let section = root.object("iec", required: true) { iec = IECProfileSectionReader(issues: issues).read(section) }
        case .mbus?, .wmbus?:
            mbus = readMBusSection(root, kind: protocolKind!)
        case .some(let other):
            issues.add(path: "$.protocol", line: root.member("protocol")?.line,
                       problem: "profiles for this protocol are not supported yet", value: .string(other.rawValue),
                       expected: "modbus, dlms, iec62056-21")
        case nil:
            break
        }
        root.finish()
        guard let id, let name, let manufacturer, let source, let protocolKind,
              modbus != nil || dlms != nil || iec != nil || mbus != nil else {
            return nil
        }
        var profile = MeterProfile(id: id, name: name, manufacturer: manufacturer, source: source, protocolKind: protocolKind,
                                   modbus: modbus, iec: iec, mbus: mbus)
        profile.dlms = dlms
        return profile
    }

    static func isValidID(_ id: String) -> Bool {
        guard let first = id.unicodeScalars.first, first != "-" else { return false }
        return id.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    // MARK: - The modbus section

    private func readModbus(_ r: JSONObjectReader) -> ModbusRegisterMap? {
        let limit = r.int("maxRegistersPerRequest", required: true, in: 1...MeterProfileLoader.modbusRegisterLimit)
        let marker = r.string("notAvailableMarker", allowed: ModbusNotAvailableMarker.allCases.map(\.rawValue))
            .flatMap(ModbusNotAvailableMarker.init(rawValue:)) ?? .noMarker
        let gaps = (r.array("gaps") ?? []).compactMap { readGap($0.value, path: $0.path, line: $0.line) }
        var identification: ModbusIdentification?
        if let section = r.object("identification") { identification = readIdentification(section) }
        var relay: ModbusRelaySpec?
        if let section = r.object("relay") { relay = readRelay(section) }
        var clock: ModbusClockSpec?
        if let section = r.object("clock") { clock = readClock(section) }
        var status: ModbusStatusSpec?
        if let section = r.object("status") { status = readStatus(section) }
        let items = r.array("registers", required: true)
        if let items, items.isEmpty {
            issues.add(path: r.path + ".registers", line: r.member("registers")?.line, problem: "must list at least one register")
        }
        let registers = (items ?? []).compactMap { readRegister($0.value, path: $0.path, line: $0.line) }
        r.finish()
        checkRegisters(registers, gaps: gaps, limit: limit)
        if let clock { checkClock(clock, path: r.path + ".clock", line: r.member("clock")?.line, registers: registers, gaps: gaps) }
        guard let limit, let items, registers.count == items.count, !items.isEmpty else { return nil }
        return ModbusRegisterMap(maxRegistersPerRequest: limit, gaps: gaps.map(\.gap), registers: registers.map(\.spec),
                                 identification: identification, relay: relay, clock: clock, notAvailableMarker: marker,
                                 status: status)
    }

    private func readRegister(_ value: JSONValue, path: String, line: Int) -> LocatedRegister? {
        let line = value.members?.first?.line ?? line
        guard let o = issues.object(value, at: path, line: line) else { return nil }
        let definition = readQuantity(o, path: path)
        let function = readFunction(o)
        let type = readType(o)
        let address = readAddress(o, "address", required: true)
        let byteOrder = o.string("byteOrder", allowed: ["big", "little"]).flatMap(RegisterByteOrder.init(rawValue:)) ?? .big
        let wordOrder = o.string("wordOrder", allowed: ["big", "little"]).flatMap(RegisterWordOrder.init(rawValue:)) ?? .big
        let scale = readScale(o)
        let unit = readUnit(o, definition: definition)
        let inProfile = o.bool("profile") ?? false
        _ = o.string("note", maxLength: 1000)
        o.finish()
        if let address, let type, Int(address) + type.registerCount - 1 > Int(UInt16.max) {
            issues.add(path: path + ".address", line: o.member("address")?.line,
                       problem: "the \(type.rawValue) value runs past the last register address 65535",
                       value: .number(Double(address), text: String(address)),
                       expected: "at most \(Int(UInt16.max) - type.registerCount + 1) for \(type.rawValue)")
        }
        guard let definition, let function, let type, let address, let scale, let unit else { return nil }
        let spec = ModbusRegisterSpec(quantity: definition.id, function: function, address: address, type: type,
                                      byteOrder: byteOrder, wordOrder: wordOrder, scale: scale, unit: unit,
                                      inLoadProfile: inProfile)
        return LocatedRegister(spec: spec, path: path, line: o.member("address")?.line ?? line)
    }

    private func readGap(_ value: JSONValue, path: String, line: Int) -> LocatedGap? {
        guard let o = issues.object(value, at: path, line: value.members?.first?.line ?? line) else { return nil }
        let function = readFunction(o)
        let first = readAddress(o, "first", required: true)
        let last = readAddress(o, "last", required: true)
        _ = o.string("note", maxLength: 1000)
        o.finish()
        if let first, let last, first > last {
            issues.add(path: path + ".last", line: o.member("last")?.line, problem: "gap ends before it starts",
                       value: .number(Double(last), text: String(last)), expected: "at least \(first)")
            return nil
        }
        guard let function, let first, let last else { return nil }
        return LocatedGap(gap: ModbusRegisterGap(function: function, first: first, last: last), path: path)
    }

    private func readIdentification(_ o: JSONObjectReader) -> ModbusIdentification? {
        let function = readFunction(o)
        let address = readAddress(o, "address", required: true)
        let type = readType(o)
        let byteOrder = o.string("byteOrder", allowed: ["big", "little"]).flatMap(RegisterByteOrder.init(rawValue:)) ?? .big
        let wordOrder = o.string("wordOrder", allowed: ["big", "little"]).flatMap(RegisterWordOrder.init(rawValue:)) ?? .big
        var values: [Double] = []
        if let items = o.array("values") {
            for item in items {
                if let d = item.value.doubleValue {
                    values.append(d)
                } else {
                    issues.add(path: item.path, line: item.line, problem: "wrong type", value: item.value, expected: "a number")
                }
            }
            if items.isEmpty {
                issues.add(path: o.path + ".values", line: o.member("values")?.line, problem: "must list at least one value")
            }
        }
        var range: ClosedRange<Double>?
        if let r = o.object("plausibleRange") {
            let low = r.double("min", required: true)
            let high = r.double("max", required: true)
            r.finish()
            if let low, let high {
                if low <= high {
                    range = low...high
                } else {
                    issues.add(path: r.path + ".max", line: r.member("max")?.line, problem: "range ends below its start",
                               value: .number(high, text: String(high)), expected: "at least \(low)")
                }
            }
        }
        if o.has("values") == o.has("plausibleRange") {
            issues.add(path: o.path, line: o.line, problem: "needs exactly one of \"values\" and \"plausibleRange\"")
        }
        _ = o.string("note", maxLength: 1000)
        o.finish()
        guard let function, let address, let type, !values.isEmpty || range != nil else { return nil }
        return ModbusIdentification(function: function, address: address, type: type, byteOrder: byteOrder,
                                    wordOrder: wordOrder, expectedValues: values, plausibleRange: range)
    }

    private func readRelay(_ o: JSONObjectReader) -> ModbusRelaySpec? {
        let coil = readAddress(o, "coil", required: true)
        _ = o.string("note", maxLength: 1000)
        o.finish()
        return coil.map(ModbusRelaySpec.init(coil:))
    }

    private func readClock(_ o: JSONObjectReader) -> ModbusClockSpec? {
        let address = readAddress(o, "address", required: true)
        let format = o.string("format", required: true, allowed: ModbusClockSpec.Format.allCases.map(\.rawValue))
            .flatMap(ModbusClockSpec.Format.init(rawValue:))
        _ = o.string("note", maxLength: 1000)
        o.finish()
        guard let address, let format else { return nil }
        if Int(address) + format.registerCount - 1 > Int(UInt16.max) {
            issues.add(path: o.path + ".address", line: o.member("address")?.line, problem: "the clock runs past the last register address 65535",
                       value: .number(Double(address), text: String(address)), expected: "at most \(Int(UInt16.max) - format.registerCount + 1)")
            return nil
        }
        return ModbusClockSpec(address: address, format: format)
    }

    /// The status register: function, address, `u16` or `u32`, and 1–32 named bits (names of
    /// `[a-z0-9_]`, unique; bits unique and inside the type).
    private func readStatus(_ o: JSONObjectReader) -> ModbusStatusSpec? {
        let function = readFunction(o)
        let address = readAddress(o, "address", required: true)
        let type = o.string("type", allowed: ["u16", "u32"]).flatMap(RegisterValueType.init(rawValue:)) ?? .u16
        let bits = readStatusFlagBits(o, issues: issues, highestBit: type.registerCount * 16 - 1)
        _ = o.string("note", maxLength: 1000)
        o.finish()
        guard let bits, let function, let address else { return nil }
        if Int(address) + type.registerCount - 1 > Int(UInt16.max) {
            issues.add(path: o.path + ".address", line: o.member("address")?.line, problem: "the status register runs past the last register address 65535",
                       value: .number(Double(address), text: String(address)))
            return nil
        }
        return ModbusStatusSpec(function: function, address: address, type: type, bits: bits)
    }

    /// The clock's holding registers must not overlap a register entry or lie in a gap of function 3.
    private func checkClock(_ clock: ModbusClockSpec, path: String, line: Int?, registers: [LocatedRegister], gaps: [LocatedGap]) {
        for entry in registers where entry.spec.function == .readHoldingRegisters
            && Int(entry.spec.address) <= clock.lastAddress && entry.spec.lastAddress >= Int(clock.address) {
            issues.add(path: path + ".address", line: line,
                       problem: "the clock registers \(clock.address)–\(clock.lastAddress) overlap \(entry.path) (\(entry.spec.address)–\(entry.spec.lastAddress))")
        }
        for gap in gaps where gap.gap.function == .readHoldingRegisters
            && Int(clock.address) <= Int(gap.gap.last) && clock.lastAddress >= Int(gap.gap.first) {
            issues.add(path: path + ".address", line: line,
                       problem: "the clock registers \(clock.address)–\(clock.lastAddress) lie inside the declared gap \(gap.gap.first)–\(gap.gap.last) (\(gap.path))")
        }
    }

    // MARK: - Field readers

    /// The `quantity` member's catalog entry, or nil with an issue.
    func readQuantity(_ o: JSONObjectReader, path: String) -> QuantityDefinition? {
        guard let name = o.string("quantity", required: true) else { return nil }
        guard let definition = QuantityCatalog.definition(of: QuantityID(name)) else {
            issues.add(path: path + ".quantity", line: o.member("quantity")?.line, problem: "unknown quantity",
                       value: .string(name), expected: "a name from QuantityCatalog (see Docs/profiles.md)")
            return nil
        }
        return definition
    }

    private func readFunction(_ o: JSONObjectReader) -> ModbusFunction? {
        o.int("function", required: true, oneOf: [3, 4]).flatMap { ModbusFunction(rawValue: UInt8($0)) }
    }

    private func readType(_ o: JSONObjectReader) -> RegisterValueType? {
        o.string("type", required: true, allowed: RegisterValueType.allCases.map(\.rawValue))
            .flatMap(RegisterValueType.init(rawValue:))
    }

    /// A register address: an integer 0–65535, or a string in hex ("0x5B00") as vendor tables print them.
    private func readAddress(_ o: JSONObjectReader, _ key: String, required: Bool) -> UInt16? {
        guard let m = o.member(key, required: required) else { return nil }
        let expected = "an integer 0–65535 or a hex string such as \"0x5B00\""
        var number: Int?
        switch m.value {
        case .number:
            number = m.value.intValue
        case .string(let s):
            let lower = s.lowercased()
            if lower.hasPrefix("0x"), lower.count > 2, lower.count <= 6 { number = Int(lower.dropFirst(2), radix: 16) }
        default:
            break
        }
        guard let number else {
            issues.add(path: o.path + "." + key, line: m.line, problem: "not a register address", value: m.value, expected: expected)
            return nil
        }
        guard (0...Int(UInt16.max)).contains(number) else {
            issues.add(path: o.path + "." + key, line: m.line, problem: "out of range", value: m.value, expected: expected)
            return nil
        }
        return UInt16(number)
    }

    private func readScale(_ o: JSONObjectReader) -> Double? {
        guard o.member("scale") != nil else { return 1 }
        guard let scale = o.double("scale") else { return nil }
        guard scale != 0 else {
            issues.add(path: o.path + ".scale", line: o.member("scale")?.line, problem: "must not be zero",
                       value: .number(0, text: "0"), expected: "the factor from the raw number to the catalog unit")
            return nil
        }
        return scale
    }

    func readUnit(_ o: JSONObjectReader, definition: QuantityDefinition?) -> MeasurementUnit? {
        guard let text = o.string("unit", required: true, allowEmpty: true) else { return nil }
        let allowed = MeasurementUnit.allCases.map { JSONWriter.quote($0.rawValue) }.joined(separator: ", ")
        guard let unit = MeasurementUnit(rawValue: text) else {
            issues.add(path: o.path + ".unit", line: o.member("unit")?.line, problem: "unknown unit", value: .string(text),
                       expected: allowed)
            return nil
        }
        if let definition, definition.unit != unit {
            issues.add(path: o.path + ".unit", line: o.member("unit")?.line,
                       problem: "unit differs from the catalog unit of \(definition.id) (adjust \"scale\" to convert)",
                       value: .string(text), expected: JSONWriter.quote(definition.unit.rawValue))
        }
        return unit
    }

    // MARK: - Checks across entries

    private func checkRegisters(_ registers: [LocatedRegister], gaps: [LocatedGap], limit: Int?) {
        var firstByQuantity: [QuantityID: LocatedRegister] = [:]
        for entry in registers {
            if let earlier = firstByQuantity[entry.spec.quantity] {
                issues.add(path: entry.path + ".quantity", line: entry.line, problem: "duplicate quantity",
                           value: .string(entry.spec.quantity.rawValue), expected: "each quantity once (already at \(earlier.path))")
            } else {
                firstByQuantity[entry.spec.quantity] = entry
            }
            if let limit, entry.spec.registerCount > limit {
                issues.add(path: entry.path + ".type", line: entry.line,
                           problem: "the value needs \(entry.spec.registerCount) registers, more than maxRegistersPerRequest (\(limit))")
            }
            for gap in gaps where gap.gap.function == entry.spec.function {
                if Int(entry.spec.address) <= Int(gap.gap.last), entry.spec.lastAddress >= Int(gap.gap.first) {
                    issues.add(path: entry.path + ".address", line: entry.line,
                               problem: "register \(entry.spec.address)–\(entry.spec.lastAddress) lies inside the declared gap \(gap.gap.first)–\(gap.gap.last) (\(gap.path))")
                }
            }
        }
        let sorted = registers.sorted { ($0.spec.function.rawValue, $0.spec.address) < ($1.spec.function.rawValue, $1.spec.address) }
        var previous: LocatedRegister?
        for entry in sorted {
            if let p = previous, p.spec.function == entry.spec.function, Int(entry.spec.address) <= p.spec.lastAddress {
                issues.add(path: entry.path + ".address", line: entry.line,
                           problem: "registers \(entry.spec.address)–\(entry.spec.lastAddress) overlap \(p.path) (\(p.spec.address)–\(p.spec.lastAddress))")
            }
            if previous == nil || previous!.spec.function != entry.spec.function || entry.spec.lastAddress > previous!.spec.lastAddress {
                previous = entry
            }
        }
    }
}
