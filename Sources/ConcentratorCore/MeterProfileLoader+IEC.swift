/// Reads the `iec` section of a profile (protocol `iec62056-21`), collecting every problem with its
/// JSON path and line. The format is in Docs/profiles.md ("`iec`") and Docs/iec62056-21.md.
struct IECProfileSectionReader {
    let issues: IssueCollector

    /// Rates with a mode C baud character (IEC 62056-21: `0`–`6`).
    static let rates = [300, 600, 1200, 2400, 4800, 9600, 19_200]

    func read(_ r: JSONObjectReader) -> IECProfile? {
        let modeNames = IECProfileMode.allCases.map(\.rawValue)
        let mode = r.string("mode", allowed: modeNames).flatMap(IECProfileMode.init(rawValue:)) ?? .c
        var fallbacks: [IECProfileMode] = []
        for item in r.array("fallbackModes") ?? [] {
            guard let s = item.value.stringValue, let m = IECProfileMode(rawValue: s) else {
                issues.add(path: item.path, line: item.line, problem: "not a protocol mode", value: item.value, expected: modeNames.joined(separator: ", "))
                continue
            }
            fallbacks.append(m)
        }
        let signOnBaud = r.int("signOnBaud", oneOf: Self.rates) ?? 300
        let maximumBaud = r.int("maximumBaud", oneOf: Self.rates) ?? 9600
        var address = IECDeviceAddressRule()
        if let a = r.object("deviceAddress") {
            address.maximumLength = a.int("maximumLength", in: 1...32) ?? 32
            address.answersAnyAddress = a.bool("answersAnyAddress") ?? false
            _ = a.string("note", maxLength: 1000)
            a.finish()
        }
        var identification: IECIdentificationPattern?
        if let i = r.object("identification") {
            let manufacturer = i.string("manufacturer", required: true)
            if let manufacturer, manufacturer.utf8.count != 3 {
                issues.add(path: i.path + ".manufacturer", line: i.member("manufacturer")?.line, problem: "not three characters",
                           value: .string(manufacturer), expected: "the three-letter manufacturer code, e.g. \"ISK\"")
            }
            let prefix = i.string("identPrefix", maxLength: 32, allowEmpty: true) ?? ""
            i.finish()
            if let manufacturer, manufacturer.utf8.count == 3 { identification = IECIdentificationPattern(manufacturer: manufacturer, identPrefix: prefix) }
        }
        let passwordID = r.string("passwordId", maxLength: 64)
        if let passwordID, !passwordID.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0) }) {
            issues.add(path: r.path + ".passwordId", line: r.member("passwordId")?.line, problem: "not a key id", value: .string(passwordID),
                       expected: "letters, digits, '-', '_' and '.' (the id of the password in the meter's key file, never the password)")
        }
        let registerItems = r.array("registers", required: true)
        let registers = (registerItems ?? []).compactMap { readRegister($0.value, path: $0.path, line: $0.line) }
        if registerItems?.isEmpty == true {
            issues.add(path: r.path + ".registers", line: r.member("registers")?.line, problem: "must list at least one register")
        }
        checkDuplicates(registers)
        let clock = r.object("clock").flatMap(readClock)
        let loadProfile = r.object("loadProfile").flatMap(readLoadProfile)
        var errorCode: IECErrorCodeSpec?
        let errorSection = r.object("errorCode")
        if let e = errorSection {
            let obis = e.member("obis") == nil ? "F.F" : readOBIS(e, "obis")
            let bits = readStatusFlagBits(e, issues: issues, highestBit: 31)
            _ = e.string("note", maxLength: 1000)
            e.finish()
            if let obis, let bits { errorCode = IECErrorCodeSpec(obis: obis, bits: bits) }
        }
        let vectors = (r.array("testVectors") ?? []).compactMap { readVector($0.value, path: $0.path, line: $0.line) }
        _ = r.string("note", maxLength: 4000)
        r.finish()
        guard !registers.isEmpty, errorSection == nil || errorCode != nil else { return nil }
        return IECProfile(mode: mode, fallbackModes: fallbacks, signOnBaud: signOnBaud, maximumBaud: maximumBaud, deviceAddress: address,
                          identification: identification, passwordID: passwordID, registers: registers.map(\.spec), clock: clock,
                          loadProfile: loadProfile, errorCode: errorCode, testVectors: vectors)
    }

    private struct Located {
        let spec: IECRegisterSpec
        let path: String
        let line: Int?
    }

    /// An OBIS code as a meter prints it: `1.8.0`, `1-0:1.8.0*255`, `C.1.0`, `F.F`, `P.01`.
    private func readOBIS(_ o: JSONObjectReader, _ key: String) -> String? {
        guard let text = o.string(key, required: true, maxLength: 32) else { return nil }
        if !Self.isOBIS(text) {
            issues.add(path: o.path + "." + key, line: o.member(key)?.line, problem: "not an OBIS code", value: .string(text),
                       expected: "A-B:C.D.E*F or a short form such as 1.8.0, C.1.0, F.F, P.01")
            return nil
        }
        return text
    }

    /// The shape check of `OBISCode.parse` (MeterProtocols), repeated here where the loader runs.
    static func isOBIS(_ text: String) -> Bool {
        var rest = Substring(text)
        func group(letters: Bool) -> Bool {
            if letters, let c = rest.first, "CFLP".contains(c) { rest = rest.dropFirst(); return true }
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard (1...3).contains(digits.count), let v = Int(digits), v <= 255 else { return false }
            rest = rest.dropFirst(digits.count)
            return true
        }
        func take(_ c: Character) -> Bool { if rest.first == c { rest = rest.dropFirst(); return true } else { return false } }
        if text.contains(":") {
            if text.contains("-") { guard group(letters: false), take("-") else { return false } }
            guard group(letters: false), take(":") else { return false }
        }
        guard group(letters: true), take("."), group(letters: true) else { return false }
        if take(".") { guard group(letters: false) else { return false } }
        if take("*") || take("&") { guard group(letters: false) else { return false } }
        return rest.isEmpty
    }

    /// Quantity, unit and scale shared by registers and profile channels; checks that the unit the
    /// meter sends converts to the quantity's catalog unit by the scale.
    private func readQuantity(_ o: JSONObjectReader) -> (QuantityID, String, Double)? {
        let name = o.string("quantity", required: true)
        let definition = name.flatMap { QuantityCatalog.definition(of: QuantityID($0)) }
        if let name, definition == nil {
            issues.add(path: o.path + ".quantity", line: o.member("quantity")?.line, problem: "unknown quantity", value: .string(name),
                       expected: "a name from QuantityCatalog (see Docs/profiles.md)")
        }
        let unit = o.string("unit", required: true, maxLength: 16, allowEmpty: true)
        var scale = o.double("scale")
        if scale == 0 {
            issues.add(path: o.path + ".scale", line: o.member("scale")?.line, problem: "must not be zero", value: .number(0, text: "0"))
            return nil
        }
        guard let definition, let unit else { return nil }
        let factor = IECUnitConversion.factor(from: unit, to: definition.unit)
        switch (factor, scale) {
        case (nil, nil):
            issues.add(path: o.path + ".unit", line: o.member("unit")?.line,
                       problem: "the meter unit does not convert to \(definition.unit.rawValue.isEmpty ? "no unit" : definition.unit.rawValue) (catalog unit of \(definition.id)); give \"scale\"",
                       value: .string(unit))
            return nil
        case (let f?, let s?) where abs(f - s) > 1e-9 * max(1, abs(f)):
            issues.add(path: o.path + ".scale", line: o.member("scale")?.line,
                       problem: "scale does not convert \(unit) to \(definition.unit.rawValue)", value: .number(s, text: String(s)), expected: "\(f)")
            return nil
        case (let f?, nil):
            scale = f
        default:
            break
        }
        return (definition.id, unit, scale ?? 1)
    }

    private func readRegister(_ value: JSONValue, path: String, line: Int) -> Located? {
        guard let o = issues.object(value, at: path, line: value.members?.first?.line ?? line) else { return nil }
        let obis = readOBIS(o, "obis")
        let q = readQuantity(o)
        _ = o.string("note", maxLength: 1000)
        o.finish()
        guard let obis, let q else { return nil }
        let (quantity, unit, scale) = q
        return Located(spec: IECRegisterSpec(obis: obis, quantity: quantity, unit: unit, scale: scale), path: path, line: o.member("obis")?.line ?? line)
    }

    private func checkDuplicates(_ registers: [Located]) {
        var quantities: [QuantityID: String] = [:]
        var codes: [String: String] = [:]
        for r in registers {
            if let earlier = quantities[r.spec.quantity] {
                issues.add(path: r.path + ".quantity", line: r.line, problem: "duplicate quantity", value: .string(r.spec.quantity.rawValue),
                           expected: "each quantity once (already at \(earlier))")
            } else {
                quantities[r.spec.quantity] = r.path
            }
            if let earlier = codes[r.spec.obis] {
                issues.add(path: r.path + ".obis", line: r.line, problem: "duplicate OBIS code", value: .string(r.spec.obis),
                           expected: "each code once (already at \(earlier))")
            } else {
                codes[r.spec.obis] = r.path
            }
        }
    }

    private func readClock(_ o: JSONObjectReader) -> IECClockSpec? {
        let time = o.member("timeObis") == nil ? "0.9.1" : readOBIS(o, "timeObis")
        let date = o.member("dateObis") == nil ? "0.9.2" : readOBIS(o, "dateObis")
        let timeFormat = o.string("timeFormat", allowed: IECTimeFormat.allCases.map(\.rawValue)).flatMap(IECTimeFormat.init(rawValue:)) ?? .hhmmss
        let dateFormat = o.string("dateFormat", allowed: IECDateFormat.allCases.map(\.rawValue)).flatMap(IECDateFormat.init(rawValue:)) ?? .yymmdd
        let write = o.string("write", allowed: ["W1", "W2", "W5"]).flatMap(IECCommandType.init(rawValue:))
        _ = o.string("note", maxLength: 1000)
        o.finish()
        guard let time, let date else { return nil }
        return IECClockSpec(timeOBIS: time, dateOBIS: date, timeFormat: timeFormat, dateFormat: dateFormat, writeCommand: write)
    }

    private func readLoadProfile(_ o: JSONObjectReader) -> IECLoadProfileSpec? {
        let code = o.member("obis") == nil ? "P.01" : readOBIS(o, "obis")
        let read = o.string("read", allowed: ["R1", "R2", "R5", "R6"]).flatMap(IECCommandType.init(rawValue:)) ?? .r5
        let range = o.string("rangeFormat", allowed: IECRangeFormat.allCases.map(\.rawValue)).flatMap(IECRangeFormat.init(rawValue:)) ?? .seasonYYMMDDhhmm
        let period = o.int("periodMinutes", required: true, in: 1...1440)
        var channels: [IECProfileChannelSpec] = []
        let channelItems = o.array("channels", required: true)
        for item in channelItems ?? [] {
            guard let c = issues.object(item.value, at: item.path, line: item.value.members?.first?.line ?? item.line) else { continue }
            let obis = readOBIS(c, "obis")
            let q = readQuantity(c)
            let kind = c.string("kind", required: true, allowed: IECProfileValueKind.allCases.map(\.rawValue)).flatMap(IECProfileValueKind.init(rawValue:))
            _ = c.string("note", maxLength: 1000)
            c.finish()
            if let obis, let q, let kind {
                channels.append(IECProfileChannelSpec(obis: obis, quantity: q.0, unit: q.1, scale: q.2, kind: kind))
            }
        }
        if channelItems?.isEmpty == true {
            issues.add(path: o.path + ".channels", line: o.member("channels")?.line, problem: "must list at least one channel")
        }
        _ = o.string("note", maxLength: 1000)
        o.finish()
        guard let code, let period, !channels.isEmpty else { return nil }
        return IECLoadProfileSpec(obis: code, readCommand: read, rangeFormat: range, periodMinutes: period, channels: channels)
    }

    private func readValues(_ o: JSONObjectReader, _ key: String) -> [QuantityID: Double] {
        guard let member = o.member(key) else { return [:] }
        let path = o.path + "." + key
        guard let members = member.value.members else {
            issues.add(path: path, line: member.line, problem: "wrong type", value: member.value, expected: "an object of quantity: value")
            return [:]
        }
        var out: [QuantityID: Double] = [:]
        for m in members {
            if QuantityCatalog.definition(of: QuantityID(m.key)) == nil {
                issues.add(path: path + "." + m.key, line: m.line, problem: "unknown quantity", expected: "a name from QuantityCatalog")
            } else if let d = m.value.doubleValue {
                out[QuantityID(m.key)] = d
            } else {
                issues.add(path: path + "." + m.key, line: m.line, problem: "wrong type", value: m.value, expected: "a number")
            }
        }
        return out
    }

    private func readVector(_ value: JSONValue, path: String, line: Int) -> IECTestVector? {
        guard let o = issues.object(value, at: path, line: value.members?.first?.line ?? line) else { return nil }
        let source = o.string("source", required: true, maxLength: 2000)
        let identification = o.string("identification", maxLength: 128)
        let readout = o.string("readout", maxLength: 1_000_000)
        let loadProfile = o.string("loadProfile", maxLength: 1_000_000)
        let values = readValues(o, "values")
        let clock = o.string("meterClock", maxLength: 19)
        if let clock, clock.utf8.count != 19 {
            issues.add(path: path + ".meterClock", line: o.member("meterClock")?.line, problem: "not a civil time", value: .string(clock),
                       expected: "YYYY-MM-DD hh:mm:ss")
        }
        let entries = o.int("profileEntries", in: 0...100_000)
        let first = readValues(o, "firstEntry")
        o.finish()
        if readout == nil && loadProfile == nil {
            issues.add(path: path, line: line, problem: "a test vector needs \"readout\" or \"loadProfile\"")
        }
        guard let source else { return nil }
        return IECTestVector(source: source, identification: identification, readout: readout, loadProfile: loadProfile,
                             values: values, meterClock: clock, profileEntries: entries, firstEntry: first)
    }
}
