/// The `meters` section: which meter answers where, and which profile reads it.
extension ConfigurationLoader {
    /// The design limit per bus (DESIGN.md); the polling budget of one bus owner is sized for it.
    static let maxMetersPerBus = 64
    public static let modbusAddressRange = 1...247
    /// HDLC lower (physical) server addresses with two-byte addressing: 0x10–0x3FFD
    /// (0x00–0x0F are reserved, 0x3FFE is the calling address and 0x3FFF is broadcast).
    public static let hdlcAddressRange = 16...16_381
    public static let iecAddressMaxLength = 32

    /// What earlier meter entries used, to find duplicates and full buses.
    private struct MetersSeen {
        /// The configured bus names; empty when the buses section is broken (its issue says so, and
        /// repeating "unknown bus" for every meter would only add noise).
        let busNames: [BusName]
        /// How many meters name each bus, over the whole section.
        let totalByBus: [BusName: Int]
        var pathByID: [String: String] = [:]
        var countByBus: [BusName: Int] = [:]
        var firstBySlot: [MeterSlot: (path: String, id: String)] = [:]
    }

    /// A bus and an address on it; two meters may not share one.
    private struct MeterSlot: Hashable {
        let bus: BusName
        let address: MeterAddress
    }

    static func readMeters(_ input: ConfigurationSectionInput, into draft: inout ConfigurationDraft) {
        let maxMeters = maxMetersPerBus * busCountRange.upperBound
        guard let elements = input.elements(allowed: 0...maxMeters, noun: "meters") else { return }
        var totals: [BusName: Int] = [:]
        for element in elements {
            if let name = element.value["bus"]?.stringValue { totals[BusName(name), default: 0] += 1 }
        }
        var seen = MetersSeen(busNames: draft.busNames, totalByBus: totals)
        for element in elements {
            guard let r = input.collector.object(element.value, at: element.path, line: element.line) else { continue }
            if let meter = readMeter(r, seen: &seen, draft: &draft, context: input.context) { draft.meters.append(meter) }
        }
    }

    /// Reads one meter entry, checking it against earlier entries as it goes (so issues come in
    /// field order). Returns nil when any field is wrong.
    private static func readMeter(_ r: JSONObjectReader, seen: inout MetersSeen, draft: inout ConfigurationDraft,
                                  context: ConfigurationContext) -> MeterSettings? {
        let issuesBefore = r.collector.issues.count
        let id = identifier(r, "id", required: true)
        if let id {
            if let first = seen.pathByID[id] {
                r.collector.add(path: r.path + ".id", line: r.member("id")?.line, problem: "duplicate meter id",
                                value: .string(id), expected: "an id not used by another meter (\(first) has it)")
            } else {
                seen.pathByID[id] = r.path
            }
        }
        let bus = identifier(r, "bus", required: true).map { BusName($0) }
        if let bus { checkBus(bus, reader: r, seen: &seen) }
        let protocolKind = readProtocol(r, context: context)
        var address: MeterAddress?
        if let member = r.member("address", required: true), let protocolKind {
            address = meterAddress(member.value, protocolKind: protocolKind, path: r.path + ".address", line: member.line,
                                   collector: r.collector)
        }
        if let bus, let address {
            let slot = MeterSlot(bus: bus, address: address)
            if let first = seen.firstBySlot[slot] {
                r.collector.add(path: r.path + ".address", line: r.member("address")?.line,
                                problem: "address already used on bus \"\(bus)\" by meter \"\(first.id)\" (\(first.path))",
                                value: r.member("address")?.value, expected: "a unique address on each bus")
            } else {
                seen.firstBySlot[slot] = (r.path, id ?? "?")
            }
        }
        var profile: String?
        if let name = r.string("profile", required: true, maxLength: 128) {
            if context.profiles[name] != nil { draft.meterProfiles.append(name) }
            profile = checkedProfile(name, protocolKind: protocolKind, reader: r, context: context)
        }
        if let id {
            let known = r.member("profile")?.value.stringValue.flatMap { context.profiles[$0] != nil ? $0 : nil }
            draft.meterIDs.append((id, known))
        }
        let pod = text(r, "pod", maxLength: 64)
        let serialNumber = text(r, "serialNumber", maxLength: 64)
        let label = text(r, "label", maxLength: 128)
        r.finish()
        guard r.collector.issues.count == issuesBefore, let id, let bus, let protocolKind, let address, let profile else {
            return nil
        }
        return MeterSettings(id: MeterID(id), bus: bus, protocolKind: protocolKind, address: address, profile: profile,
                             pod: pod, serialNumber: serialNumber, label: label)
    }

    /// The bus must be configured and must not carry more than `maxMetersPerBus` meters.
    private static func checkBus(_ bus: BusName, reader r: JSONObjectReader, seen: inout MetersSeen) {
        let line = r.member("bus")?.line
        if !seen.busNames.isEmpty, !seen.busNames.contains(bus) {
            r.collector.add(path: r.path + ".bus", line: line, problem: "unknown bus", value: .string(bus.rawValue),
                            expected: "one of the configured buses: " + seen.busNames.map(\.rawValue).joined(separator: ", "))
        }
        let count = seen.countByBus[bus, default: 0] + 1
        seen.countByBus[bus] = count
        if count == maxMetersPerBus + 1 {
            let total = seen.totalByBus[bus] ?? count
            r.collector.add(path: r.path + ".bus", line: line,
                            problem: "too many meters on bus \"\(bus)\" (\(total) configured; this is meter \(count))",
                            value: .string(bus.rawValue), expected: "at most \(maxMetersPerBus) meters per bus")
        }
    }

    /// The protocol (modbus when absent), with an issue when this build cannot drive it.
    private static func readProtocol(_ r: JSONObjectReader, context: ConfigurationContext) -> MeterProtocolKind? {
        let kind: MeterProtocolKind?
        if r.member("protocol") == nil {
            kind = .modbus
        } else {
            let names = MeterProtocolKind.allCases.map(\.rawValue)
            kind = r.string("protocol", allowed: names).flatMap(MeterProtocolKind.init(rawValue:))
        }
        if let kind, !context.supportedProtocols.contains(kind) {
            let supported = MeterProtocolKind.allCases.filter(context.supportedProtocols.contains).map(\.rawValue)
            r.collector.add(path: r.path + ".protocol", line: r.member("protocol")?.line,
                            problem: "protocol not supported by this build yet", value: .string(kind.rawValue),
                            expected: list(supported, none: "no meter protocol"))
        }
        return kind
    }

    /// The address in the form `protocolKind` uses, or nil with an issue.
    private static func meterAddress(_ value: JSONValue, protocolKind: MeterProtocolKind, path: String, line: Int,
                                     collector: IssueCollector) -> MeterAddress? {
        switch protocolKind {
        case .modbus:
            let rule = "an integer \(modbusAddressRange.lowerBound)–\(modbusAddressRange.upperBound) (Modbus slave address)"
            guard let a = value.intValue else {
                collector.add(path: path, line: line, problem: "wrong type", value: value, expected: rule)
                return nil
            }
            guard modbusAddressRange.contains(a) else {
                collector.add(path: path, line: line, problem: "out of range", value: value, expected: rule)
                return nil
            }
            return .modbus(UInt8(a))
        case .iec62056_21:
            let rule = "a string of at most \(iecAddressMaxLength) printable ASCII characters other than '/', '?', '!'"
                + " (IEC 62056-21 device address; empty = any meter)"
            guard let s = value.stringValue else {
                collector.add(path: path, line: line, problem: "wrong type", value: value, expected: rule)
                return nil
            }
            let printable = s.unicodeScalars.allSatisfy { (0x20...0x7E).contains($0.value) && !"/?!".unicodeScalars.contains($0) }
            guard printable, s.unicodeScalars.count <= iecAddressMaxLength else {
                collector.add(path: path, line: line, problem: "not a valid IEC 62056-21 device address", value: value,
                              expected: rule)
                return nil
            }
            return .iecDevice(s)
        case .dlms:
            let rule = "an integer \(hdlcAddressRange.lowerBound)–\(hdlcAddressRange.upperBound) (HDLC physical server address)"
            guard let a = value.intValue else {
                collector.add(path: path, line: line, problem: "wrong type", value: value, expected: rule)
                return nil
            }
            guard hdlcAddressRange.contains(a) else {
                collector.add(path: path, line: line, problem: "out of range", value: value, expected: rule)
                return nil
            }
            return .hdlc(UInt16(a))
        case .mbus, .wmbus:
            return mbusAddress(value, protocolKind: protocolKind, path: path, line: line, collector: collector)
        }
    }

    /// The profile id when it is installed and speaks the meter's protocol; nil with an issue otherwise.
    private static func checkedProfile(_ profile: String, protocolKind: MeterProtocolKind?, reader r: JSONObjectReader,
                                       context: ConfigurationContext) -> String? {
        let line = r.member("profile")?.line
        guard let facts = context.profiles[profile] else {
            r.collector.add(path: r.path + ".profile", line: line, problem: "unknown profile", value: .string(profile),
                            expected: "one of the installed profiles: "
                                + list(context.knownProfileIDs, none: "(none installed; check device.profileDirectories)"))
            return nil
        }
        if let protocolKind, facts.protocolKind != protocolKind {
            r.collector.add(path: r.path + ".profile", line: line,
                            problem: "profile is for protocol \(facts.protocolKind.rawValue),"
                                + " but the meter's protocol is \(protocolKind.rawValue)",
                            value: .string(profile),
                            expected: "a \(protocolKind.rawValue) profile: "
                                + list(context.profileIDs(for: protocolKind), none: "(none installed)"))
            return nil
        }
        return profile
    }
}
