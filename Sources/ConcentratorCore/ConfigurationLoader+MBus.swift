/// Meter addresses of the M-Bus protocols: a wired meter by primary address (1–250) or secondary
/// address, a wireless meter by its identity. Docs/mbus.md, "Addresses".
extension ConfigurationLoader {
    /// EN 13757-2: primary addresses 1–250 (0 is unconfigured, 251–255 are reserved or broadcast).
    public static let mbusPrimaryAddressRange = 1...250

    static func mbusAddress(_ value: JSONValue, protocolKind: MeterProtocolKind, path: String, line: Int,
                            collector: IssueCollector) -> MeterAddress? {
        let secondaryRule = "16 hex digits IIIIIIIIMMMMVVDD (id, manufacturer code, version, medium; F = wildcard) or the 8 id digits"
        if protocolKind == .mbus, let a = value.intValue {
            let rule = "an integer \(mbusPrimaryAddressRange.lowerBound)–\(mbusPrimaryAddressRange.upperBound) (M-Bus primary address)"
            guard mbusPrimaryAddressRange.contains(a) else {
                collector.add(path: path, line: line, problem: "out of range", value: value, expected: rule)
                return nil
            }
            return .mbusPrimary(UInt8(a))
        }
        let rule = protocolKind == .mbus ? "an M-Bus primary address 1–250 or a secondary address: " + secondaryRule
            : "the wireless meter's identity: " + secondaryRule
        guard let text = value.stringValue else {
            collector.add(path: path, line: line, problem: "wrong type", value: value, expected: rule)
            return nil
        }
        guard let address = MBusSecondaryAddress(text: text) else {
            collector.add(path: path, line: line, problem: "not a valid M-Bus address", value: value, expected: rule)
            return nil
        }
        if protocolKind == .wmbus, address.digits.contains(where: { $0 == nil }) {
            collector.add(path: path, line: line, problem: "a wireless meter's id must be given in full (no F digits)",
                          value: value, expected: rule)
            return nil
        }
        return protocolKind == .mbus ? .mbusSecondary(address) : .wmbus(address)
    }
}
