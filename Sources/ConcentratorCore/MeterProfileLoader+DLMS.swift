/// The `dlms` section of a profile document (format in Docs/dlms.md and Docs/profiles.md).
extension ProfileDocumentReader {
    func readDLMS(_ r: JSONObjectReader) -> DLMSProfileSection? {
        let client = r.int("clientAddress", in: 1...127) ?? 16
        let logical = r.int("logicalDevice", in: 0...0x3FFF) ?? 1
        let size = r.int("serverAddressSize", oneOf: [1, 2, 4])
        let maxInfo = r.int("maxInfoField", in: 32...2030)
        let window = r.int("windowSize", in: 1...7)
        var security: DLMSSecuritySpec?
        if let s = r.object("security", required: true) { security = readSecurity(s) }
        let clock = r.member("clock") == nil ? [0, 0, 1, 0, 0, 255] : readOBIS(r, "clock")
        let disconnect = r.member("disconnectControl") == nil ? nil : readOBIS(r, "disconnectControl")
        var alarmRegister: DLMSAlarmRegisterSpec?
        let alarmSection = r.object("alarmRegister")
        if let a = alarmSection {
            let name = a.member("logicalName") == nil ? DLMSAlarmRegisterSpec.alarmRegister1 : readOBIS(a, "logicalName")
            let bits = readStatusFlagBits(a, issues: issues, highestBit: 31)
            _ = a.string("note", maxLength: 1000)
            a.finish()
            if let name, let bits { alarmRegister = DLMSAlarmRegisterSpec(logicalName: name, bits: bits) }
        }
        let items = r.array("objects", required: true) ?? []
        if r.has("objects"), items.isEmpty {
            issues.add(path: r.path + ".objects", line: r.member("objects")?.line, problem: "must list at least one object")
        }
        let objects = items.compactMap { readObject($0.value, path: $0.path, line: $0.line) }
        let profiles = (r.array("loadProfiles") ?? []).compactMap { readLoadProfile($0.value, path: $0.path, line: $0.line) }
        let vectorItems = r.array("vectors") ?? []
        let vectors = vectorItems.compactMap { readVector($0.value, path: $0.path, line: $0.line) }
        r.finish()
        var seen: [QuantityID: Int] = [:]
        for (i, o) in objects.enumerated() {
            if let first = seen[o.quantity] {
                issues.add(path: r.path + ".objects[\(i)].quantity", line: nil, problem: "duplicate quantity",
                           value: .string(o.quantity.rawValue), expected: "each quantity once (already at objects[\(first)])")
            } else {
                seen[o.quantity] = i
            }
        }
        // Only when every object parsed: a broken object is reported once, not again through its vectors.
        for (i, v) in vectors.enumerated() where objects.count == items.count && seen[v.quantity] == nil {
            issues.add(path: r.path + ".vectors[\(i)].quantity", line: nil, problem: "no object reads this quantity",
                       value: .string(v.quantity.rawValue))
        }
        guard let security, objects.count == items.count, !items.isEmpty, vectors.count == vectorItems.count else { return nil }
        if r.member("clock") != nil, clock == nil { return nil }
        if r.member("disconnectControl") != nil, disconnect == nil { return nil }
        if alarmSection != nil, alarmRegister == nil { return nil }
        return DLMSProfileSection(clientAddress: UInt8(client), logicalDevice: UInt16(logical), serverAddressSize: size,
                                  security: security, maxInfoField: maxInfo, windowSize: window, objects: objects,
                                  loadProfiles: profiles, clock: clock, disconnectControl: disconnect, alarmRegister: alarmRegister,
                                  vectors: vectors)
    }

    private func readSecurity(_ o: JSONObjectReader) -> DLMSSecuritySpec? {
        let level = o.string("level", required: true, allowed: ["none", "lls", "hls-gmac"])
        var spec: DLMSSecuritySpec?
        switch level {
        case "none"?:
            spec = DLMSSecuritySpec.none
        case "lls"?:
            if let key = o.string("passwordKey", required: true, maxLength: 64) { spec = .lowLevel(passwordKey: key) }
        case "hls-gmac"?:
            let ek = o.string("encryptionKey", required: true, maxLength: 64)
            let ak = o.string("authenticationKey", required: true, maxLength: 64)
            if let ek, let ak { spec = .highLevelGMAC(encryptionKey: ek, authenticationKey: ak) }
        default:
            break
        }
        _ = o.string("note", maxLength: 1000)
        o.finish()
        return spec
    }

    private func readObject(_ value: JSONValue, path: String, line: Int) -> DLMSObjectSpec? {
        guard let o = issues.object(value, at: path, line: value.members?.first?.line ?? line) else { return nil }
        let quantity = readQuantity(o)
        let classID = o.int("class", required: true, oneOf: [1, 3, 4])
        let name = readOBIS(o, "logicalName", required: true)
        let attribute = o.int("attribute", in: 2...127) ?? 2
        let scaler = o.int("scaler", in: -128...127)
        let unit = o.int("unit", in: 0...255)
        let inProfile = o.bool("profile") ?? false
        _ = o.string("note", maxLength: 1000)
        o.finish()
        if (scaler == nil) != (unit == nil) {
            issues.add(path: path, line: o.line, problem: "give both \"scaler\" and \"unit\", or neither (then attribute 3 is read)")
            return nil
        }
        if classID == 1, scaler == nil {
            issues.add(path: path, line: o.line, problem: "a data object (class 1) has no scaler_unit: give \"scaler\" and \"unit\"")
            return nil
        }
        if let q = quantity, let u = unit, !checkUnit(u, quantity: q, path: path + ".unit", line: o.member("unit")?.line) { return nil }
        guard let quantity, let classID, let name else { return nil }
        return DLMSObjectSpec(quantity: quantity, classID: UInt16(classID), logicalName: name, attribute: Int8(attribute),
                              scaler: scaler.map(Int8.init), unit: unit.map(UInt8.init), inLoadProfile: inProfile)
    }

    private func readLoadProfile(_ value: JSONValue, path: String, line: Int) -> DLMSLoadProfileSpec? {
        guard let o = issues.object(value, at: path, line: value.members?.first?.line ?? line) else { return nil }
        let name = readOBIS(o, "logicalName", required: true)
        let period = o.int("periodSeconds", required: true, oneOf: [60, 300, 600, 900, 1800, 3600, 86400])
        let series = o.string("series", allowed: SeriesKind.allCases.map(\.rawValue)).flatMap(SeriesKind.init(rawValue:)) ?? .profile
        let items = o.array("captureObjects", required: true) ?? []
        let columns = items.compactMap { readCapture($0.value, path: $0.path, line: $0.line) }
        _ = o.string("note", maxLength: 1000)
        o.finish()
        if !columns.contains(where: \.isClock), o.has("captureObjects") {
            issues.add(path: path + ".captureObjects", line: o.member("captureObjects")?.line,
                       problem: "no clock column (class 8, attribute 2): rows could not be placed in time")
        }
        guard let name, let period, columns.count == items.count, columns.contains(where: \.isClock) else { return nil }
        return DLMSLoadProfileSpec(logicalName: name, periodSeconds: period, series: series, captureObjects: columns)
    }

    private func readCapture(_ value: JSONValue, path: String, line: Int) -> DLMSCaptureObjectSpec? {
        guard let o = issues.object(value, at: path, line: value.members?.first?.line ?? line) else { return nil }
        let classID = o.int("class", required: true, in: 1...0xFFFF)
        let name = readOBIS(o, "logicalName", required: true)
        let attribute = o.int("attribute", required: true, in: 1...127)
        let dataIndex = o.int("dataIndex", in: 0...0xFFFF) ?? 0
        let quantity = o.has("quantity") ? readQuantity(o) : nil
        let scaler = o.int("scaler", in: -128...127)
        let unit = o.int("unit", in: 0...255)
        _ = o.string("note", maxLength: 1000)
        o.finish()
        if o.has("quantity"), scaler == nil || unit == nil {
            issues.add(path: path, line: o.line, problem: "a column with a quantity needs \"scaler\" and \"unit\" (a buffer holds raw values)")
            return nil
        }
        if let q = quantity, let u = unit, !checkUnit(u, quantity: q, path: path + ".unit", line: o.member("unit")?.line) { return nil }
        guard let classID, let name, let attribute, !o.has("quantity") || quantity != nil else { return nil }
        return DLMSCaptureObjectSpec(classID: UInt16(classID), logicalName: name, attribute: Int8(attribute), dataIndex: UInt16(dataIndex),
                                     quantity: quantity, scaler: scaler.map(Int8.init), unit: unit.map(UInt8.init))
    }

    private func readVector(_ value: JSONValue, path: String, line: Int) -> DLMSTestVector? {
        guard let o = issues.object(value, at: path, line: value.members?.first?.line ?? line) else { return nil }
        let quantity = readQuantity(o)
        let data = readHex(o, "value", required: true)
        let scalerUnit = o.has("scalerUnit") ? readHex(o, "scalerUnit", required: true) : nil
        let expected = o.double("expected", required: true)
        let note = o.string("note", maxLength: 1000)
        o.finish()
        guard let quantity, let data, let expected, !o.has("scalerUnit") || scalerUnit != nil else { return nil }
        return DLMSTestVector(quantity: quantity, value: data, scalerUnit: scalerUnit, expected: expected, note: note)
    }

    // MARK: - Fields

    private func readQuantity(_ o: JSONObjectReader) -> QuantityID? {
        guard let name = o.string("quantity", required: true) else { return nil }
        guard let definition = QuantityCatalog.definition(of: QuantityID(name)) else {
            issues.add(path: o.path + ".quantity", line: o.member("quantity")?.line, problem: "unknown quantity",
                       value: .string(name), expected: "a name from QuantityCatalog (see Docs/profiles.md)")
            return nil
        }
        return definition.id
    }

    private func readOBIS(_ o: JSONObjectReader, _ key: String, required: Bool = false) -> [UInt8]? {
        guard let text = o.string(key, required: required, maxLength: 32) else { return nil }
        guard let bytes = (try? OBISCode.parse(text))?.logicalNameBytes else {
            issues.add(path: o.path + "." + key, line: o.member(key)?.line, problem: "not an OBIS code", value: .string(text),
                       expected: "A-B:C.D.E.F with each group 0–255, e.g. \"1-0:1.8.0.255\"")
            return nil
        }
        return bytes
    }

    private func readHex(_ o: JSONObjectReader, _ key: String, required: Bool) -> [UInt8]? {
        guard let text = o.string(key, required: required, maxLength: 8192) else { return nil }
        guard let bytes = Hex.decode(text), !bytes.isEmpty else {
            issues.add(path: o.path + "." + key, line: o.member(key)?.line, problem: "not hexadecimal bytes", value: .string(text),
                       expected: "pairs of hex digits, spaces allowed")
            return nil
        }
        return bytes
    }

    /// The DLMS unit code must convert to the quantity's catalog unit (Wh → kWh and the like).
    private func checkUnit(_ code: Int, quantity: QuantityID, path: String, line: Int?) -> Bool {
        guard let catalog = QuantityCatalog.definition(of: quantity)?.unit else { return false }
        let (expected, _) = DLMSUnitTable.serving(catalog)
        guard DLMSUnitTable.catalogUnit(for: UInt8(code))?.unit == catalog else {
            issues.add(path: path, line: line, problem: "DLMS unit \(code) does not convert to \(quantity)'s catalog unit \"\(catalog.rawValue)\"",
                       value: .number(Double(code), text: String(code)), expected: "\(expected) (see Docs/dlms.md, units)")
            return false
        }
        return true
    }
}

/// The Blue Book unit codes (DLMS UA 1000-1, "unit" enumeration) that map onto catalog units, with
/// the factor from the meter's unit to the catalog unit (a meter counting Wh feeds kWh × 0.001).
public enum DLMSUnitTable {
    public static func catalogUnit(for code: UInt8) -> (unit: MeasurementUnit, factor: Double)? {
        switch code {
        case 7: return (.second, 1)
        case 9: return (.degreeCelsius, 1)
        case 13: return (.cubicMetre, 1)
        case 15: return (.cubicMetrePerHour, 1)
        case 27: return (.watt, 1)
        case 28: return (.voltAmpere, 1)
        case 29: return (.voltAmpereReactive, 1)
        case 30: return (.kilowattHour, 0.001)
        case 31: return (.kilovoltAmpereHour, 0.001)
        case 32: return (.kilovarHour, 0.001)
        case 33: return (.ampere, 1)
        case 35: return (.volt, 1)
        case 44: return (.hertz, 1)
        case 56: return (.percent, 1)
        case 255: return (MeasurementUnit.none, 1)
        default: return nil
        }
    }

    /// The unit code a meter counting in the base unit serves a catalog unit in (kWh as Wh, 30),
    /// and the factor from that unit to the catalog unit.
    public static func serving(_ unit: MeasurementUnit) -> (code: UInt8, factor: Double) {
        switch unit {
        case .second: return (7, 1)
        case .degreeCelsius: return (9, 1)
        case .cubicMetre: return (13, 1)
        case .cubicMetrePerHour: return (15, 1)
        case .watt: return (27, 1)
        case .voltAmpere: return (28, 1)
        case .voltAmpereReactive: return (29, 1)
        case .kilowattHour: return (30, 0.001)
        case .kilovoltAmpereHour: return (31, 0.001)
        case .kilovarHour: return (32, 0.001)
        case .ampere: return (33, 1)
        case .volt: return (35, 1)
        case .hertz: return (44, 1)
        case .percent: return (56, 1)
        case .none: return (255, 1)
        }
    }
}
