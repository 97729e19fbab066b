import ConcentratorCore
import MeterProtocols

/// `--mbus FIRST-LAST:PROFILE[:IDBASE]`: wired slaves at primary addresses FIRST…LAST, or with
/// `--mbus secondary:COUNT:PROFILE[:IDBASE]` slaves reachable by secondary address only. Ids count
/// up in decimal from IDBASE (8 digits; default 20000000 + the first address).
public struct MBusSlaveArgument: Hashable, Sendable {
    public var primaryAddresses: ClosedRange<UInt8>?
    public var count: Int
    public var profileID: String
    public var idBase: UInt32

    public static func parse(_ text: String) throws(SimulatorArgumentError) -> MBusSlaveArgument {
        let expected = "FIRST-LAST:PROFILE[:IDBASE] or secondary:COUNT:PROFILE[:IDBASE], e.g. 1-20:kamstrup-multical-403"
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 2 else { throw .invalid(what: "mbus slaves", value: text, expected: expected) }
        var rest = parts[...]
        var primary: ClosedRange<UInt8>?
        var count: Int
        if parts[0] == "secondary" {
            guard parts.count >= 3, let n = Int(parts[1]), (1...250).contains(n) else {
                throw .invalid(what: "mbus slaves", value: text, expected: expected)
            }
            count = n
            rest = parts[2...]
        } else {
            let range = try parseRange(parts[0], what: "M-Bus primary addresses", within: 1...250)
            primary = UInt8(range.lowerBound)...UInt8(range.upperBound)
            count = range.count
            rest = parts[1...]
        }
        guard let profile = rest.first, !profile.isEmpty, rest.count <= 2 else {
            throw .invalid(what: "mbus slaves", value: text, expected: expected)
        }
        var base = 20_000_000 + Int(primary?.lowerBound ?? 0)
        if rest.count == 2 {
            guard rest.last!.count == 8, let b = Int(rest.last!), b + count <= 99_999_999 else {
                throw .invalid(what: "M-Bus id base", value: rest.last!, expected: "8 decimal digits")
            }
            base = b
        }
        return MBusSlaveArgument(primaryAddresses: primary, count: count, profileID: profile, idBase: UInt32(base))
    }

    /// The slaves, with `profile` (an mbus profile) giving the manufacturer, version and medium.
    public func slaves(profile: MeterProfile, telegrams: Int, seed: UInt64) throws(SimulatorArgumentError) -> [MBusSlaveSetup] {
        guard profile.protocolKind == .mbus, let map = profile.mbus else {
            throw .invalid(what: "mbus profile", value: profile.id, expected: "a profile of protocol mbus")
        }
        return (0..<count).map { i in
            let number = UInt32(idBase) + UInt32(i)
            let identity = Self.identity(decimal: number, map: map)
            var random = SeededRandom(seed: SeededRandom.mix(seed ^ UInt64(number)))
            return MBusSlaveSetup(primaryAddress: primaryAddresses.map { $0.lowerBound + UInt8(i) }, identity: identity, map: map,
                                  telegrams: telegrams, turnaroundCharacters: 2 + Int(random.next() % 12))
        }
    }

    /// The identity for decimal id `number` (written as BCD digits) of a profile's first model.
    static func identity(decimal number: UInt32, map: MBusRecordMap) -> MBusIdentity {
        var bcd: UInt32 = 0
        var n = number
        for i in 0..<8 { bcd |= (n % 10) << UInt32(4 * i); n /= 10 }
        let model = map.identifications[0]
        return MBusIdentity(number: bcd, manufacturer: model.manufacturer, version: model.versions.first ?? 1,
                            medium: model.media.first ?? 0)
    }
}

/// `--wmbus COUNT:PROFILE:SECURITY:INTERVAL[:KEY]`: COUNT wireless meters of one profile, with
/// security none, mode5 or mode7, sending every INTERVAL seconds (each at its own phase), all with
/// KEY (the console's key text: 32 hex digits and 8 check digits; required for mode5/mode7).
public struct WirelessGroupArgument: Hashable, Sendable {
    public var count: Int
    public var profileID: String
    public var security: SimulatedWirelessSecurity
    public var intervalSeconds: Double
    public var key: MeterKey?

    public static func parse(_ text: String) throws(SimulatorArgumentError) -> WirelessGroupArgument {
        let expected = "COUNT:PROFILE:SECURITY:INTERVAL[:KEY] (SECURITY none, mode5 or mode7), e.g. 25:sensus-iperl:mode5:30:<key>"
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard (4...5).contains(parts.count), let count = Int(parts[0]), (1...1000).contains(count), !parts[1].isEmpty,
              let security = SimulatedWirelessSecurity(rawValue: parts[2]), let interval = Double(parts[3]),
              interval >= 0.1, interval <= 86_400 else {
            throw .invalid(what: "wmbus meters", value: text.split(separator: ":").prefix(4).joined(separator: ":"), expected: expected)
        }
        var key: MeterKey?
        if parts.count == 5 {
            switch MeterKey.parse(parts[4]) {
            case .success(let k): key = k
            case .failure(let problem): throw .invalid(what: "wmbus key", value: "(hidden)", expected: problem.description)
            }
        }
        if security != .none, key == nil {
            throw .invalid(what: "wmbus meters", value: parts.prefix(4).joined(separator: ":"), expected: "a key for \(security.rawValue)")
        }
        return WirelessGroupArgument(count: count, profileID: parts[1], security: security, intervalSeconds: interval, key: key)
    }

    /// The meters, ids counting up in decimal from `firstID`, phases and RSSI from the seed.
    public func meters(profile: MeterProfile, firstID: UInt32, linkMode: WirelessLinkMode,
                       seed: UInt64) throws(SimulatorArgumentError) -> [WirelessMeterSetup] {
        guard profile.protocolKind == .wmbus, let map = profile.mbus else {
            throw .invalid(what: "wmbus profile", value: profile.id, expected: "a profile of protocol wmbus")
        }
        return (0..<count).map { i in
            let number = firstID + UInt32(i)
            var random = SeededRandom(seed: SeededRandom.mix(seed ^ UInt64(number) ^ 0xAB))
            return WirelessMeterSetup(identity: MBusSlaveArgument.identity(decimal: number, map: map), map: map, security: security,
                                      key: key, intervalSeconds: intervalSeconds, phaseSeconds: random.uniform(0...intervalSeconds),
                                      linkMode: linkMode, rssiDBm: Int(random.uniform(-95 ... -40)))
        }
    }
}
