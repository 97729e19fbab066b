/// The `mbus` and `wmbus` sections of a profile (Docs/profiles.md, "M-Bus and wireless M-Bus
/// profiles"): identification, record rules and test vectors, every problem reported at once.
extension ProfileDocumentReader {
    /// Largest test telegram: a wired long frame is at most 261 bytes, a wireless frame with CRCs 290.
    static let maxVectorBytes = 300

    func readMBusSection(_ root: JSONObjectReader, kind: MeterProtocolKind) -> MBusRecordMap? {
        let key = kind == .mbus ? "mbus" : "wmbus"
        guard let r = root.object(key, required: true) else { return nil }
        let idItems = r.array("identification", required: true) ?? []
        if r.has("identification"), idItems.isEmpty {
            issues.add(path: r.path + ".identification", line: r.member("identification")?.line, problem: "must list at least one model")
        }
        let identifications = idItems.compactMap { readIdentification($0.value, path: $0.path, line: $0.line) }
        let ruleItems = r.array("records", required: true) ?? []
        if r.has("records"), ruleItems.isEmpty {
            issues.add(path: r.path + ".records", line: r.member("records")?.line, problem: "must list at least one record")
        }
        let rules = ruleItems.compactMap { readRule($0.value, path: $0.path, line: $0.line) }
        let vectorItems = r.array("vectors") ?? []
        let vectors = vectorItems.compactMap { readVector($0.value, path: $0.path, line: $0.line, rules: rules) }
        r.finish()
        guard identifications.count == idItems.count, !idItems.isEmpty, rules.count == ruleItems.count, !ruleItems.isEmpty,
              vectors.count == vectorItems.count else { return nil }
        return MBusRecordMap(identifications: identifications, records: rules, vectors: vectors)
    }

    private func readIdentification(_ value: JSONValue, path: String, line: Int) -> MBusModelIdentification? {
        guard let o = issues.object(value, at: path, line: value.members?.first?.line ?? line) else { return nil }
        let letters = o.string("manufacturer", required: true, maxLength: 3)
        let code = letters.flatMap(MBusManufacturer.code)
        if let letters, code == nil {
            issues.add(path: path + ".manufacturer", line: o.member("manufacturer")?.line, problem: "not a manufacturer code",
                       value: .string(letters), expected: "three upper-case letters (the FLAG code, e.g. KAM)")
        }
        let versions = byteList(o, "version", path: path)
        let media = byteList(o, "medium", path: path)
        _ = o.string("note", maxLength: 1000)
        o.finish()
        guard let code, let versions, let media else { return nil }
        return MBusModelIdentification(manufacturer: code, versions: versions, media: media)
    }

    /// A byte 0–255 or an array of them; absent = any.
    private func byteList(_ o: JSONObjectReader, _ key: String, path: String) -> [UInt8]? {
        guard let m = o.member(key) else { return [] }
        let items = m.value.arrayValue ?? [m.value]
        var out: [UInt8] = []
        for item in items {
            guard let v = item.intValue, (0...255).contains(v) else {
                issues.add(path: path + "." + key, line: m.line, problem: "not a byte", value: item,
                           expected: "an integer 0–255 or an array of them")
                return nil
            }
            out.append(UInt8(v))
        }
        return out
    }

    private func readRule(_ value: JSONValue, path: String, line: Int) -> MBusRecordRule? {
        let line = value.members?.first?.line ?? line
        guard let o = issues.object(value, at: path, line: line) else { return nil }
        let definition = readQuantity(o, path: path)
        var selector: MBusRecordRule.Selector?
        let kindName = o.string("vif", allowed: MBusValueKind.allCases.map(\.rawValue))
        if let kindName, let kind = MBusValueKind(rawValue: kindName) { selector = .kind(kind) }
        if let text = o.string("vifBytes", maxLength: 24) {
            if let bytes = Hex.decode(text), !bytes.isEmpty { selector = .vifBytes(bytes) } else {
                issues.add(path: path + ".vifBytes", line: o.member("vifBytes")?.line, problem: "not hex bytes", value: .string(text),
                           expected: "the VIF and VIFE bytes in hex, e.g. \"FF07\"")
            }
        }
        if o.has("vif") == o.has("vifBytes") {
            issues.add(path: path, line: line, problem: "needs exactly one of \"vif\" and \"vifBytes\"")
        }
        let storage = o.int("storage", in: 0...0x1_FFFF_FFFF) ?? 0
        let tariff = o.int("tariff", in: 0...0xFFFF_FFFF) ?? 0
        let subunit = o.int("subunit", in: 0...0x3FF) ?? 0
        let function = o.string("function", allowed: MBusFunctionField.allCases.map(\.rawValue))
            .flatMap(MBusFunctionField.init(rawValue:)) ?? .instantaneous
        let scale = o.double("scale") ?? 1
        if scale == 0 || !scale.isFinite {
            issues.add(path: path + ".scale", line: o.member("scale")?.line, problem: "must be a non-zero finite number")
        }
        let unit = readUnit(o, definition: definition)
        let inProfile = o.bool("profile") ?? false
        _ = o.string("note", maxLength: 1000)
        o.finish()
        guard let definition, let selector, let unit, scale != 0, scale.isFinite, o.has("vif") != o.has("vifBytes") else { return nil }
        return MBusRecordRule(quantity: definition.id, selector: selector, storage: storage, tariff: tariff, subunit: subunit,
                              function: function, scale: scale, unit: unit, inLoadProfile: inProfile)
    }

    private func readVector(_ value: JSONValue, path: String, line: Int, rules: [MBusRecordRule]) -> MBusProfileVector? {
        guard let o = issues.object(value, at: path, line: value.members?.first?.line ?? line) else { return nil }
        let source = o.string("source", required: true, maxLength: 1000)
        let telegram = hexBytes(o, "telegram", required: true, path: path, limit: Self.maxVectorBytes)
        let key = hexBytes(o, "key", required: false, path: path, limit: 16)
        if let key, key.count != 16 {
            issues.add(path: path + ".key", line: o.member("key")?.line, problem: "not a 16-byte AES key",
                       expected: "32 hex digits")
        }
        let decrypted = o.bool("decrypted") ?? false
        if decrypted, key != nil {
            issues.add(path: path + ".decrypted", line: o.member("decrypted")?.line, problem: "a decrypted telegram needs no key")
        }
        var values: [QuantityID: Double] = [:]
        var valuesOK = true
        if let m = o.member("values", required: true) {
            if let members = m.value.members, !members.isEmpty {
                for member in members {
                    let q = QuantityID(member.key)
                    guard let number = member.value.doubleValue else {
                        issues.add(path: path + ".values." + member.key, line: member.line, problem: "wrong type", value: member.value,
                                   expected: "a number")
                        valuesOK = false
                        continue
                    }
                    if !rules.contains(where: { $0.quantity == q }) {
                        issues.add(path: path + ".values." + member.key, line: member.line,
                                   problem: "no record rule gives this quantity", expected: "a quantity of this profile's records")
                        valuesOK = false
                    }
                    values[q] = number
                }
            } else {
                issues.add(path: path + ".values", line: m.line, problem: "must be an object with at least one quantity")
                valuesOK = false
            }
        }
        _ = o.string("note", maxLength: 1000)
        o.finish()
        guard let source, let telegram, valuesOK, !values.isEmpty, key == nil || key!.count == 16, !(decrypted && key != nil) else { return nil }
        return MBusProfileVector(source: source, telegram: telegram, key: key, decrypted: decrypted, values: values)
    }

    private func hexBytes(_ o: JSONObjectReader, _ key: String, required: Bool, path: String, limit: Int) -> [UInt8]? {
        guard let text = o.string(key, required: required, maxLength: limit * 3) else { return nil }
        guard let bytes = Hex.decode(text), !bytes.isEmpty, bytes.count <= limit else {
            issues.add(path: path + "." + key, line: o.member(key)?.line, problem: "not hex bytes",
                       expected: "hex digits (spaces allowed), at most \(limit) bytes")
            return nil
        }
        return bytes
    }
}
