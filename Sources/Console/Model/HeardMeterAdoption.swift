import ConcentratorCore

/// Commissioning by listening: the wireless M-Bus meters a receiver bus hears that are not
/// configured (the agent's bus status, `heard`), as a table, and the configuration entry that
/// adopts one. Pure.
public enum HeardMeterAdoption {
    /// One heard meter with the receiver bus that hears it.
    public struct Row: Hashable, Sendable {
        public var bus: String
        public var meter: HeardMeterStatus
        public init(bus: String, meter: HeardMeterStatus) {
            self.bus = bus
            self.meter = meter
        }
    }

    /// Every heard meter of every bus in the status, strongest first within each bus, without the
    /// ones the working copy configures by now (by secondary address or by 8-digit id).
    public static func rows(_ status: AgentStatus, configuredAddresses: Set<String>) -> [Row] {
        status.buses.flatMap { bus in
            (bus.heard ?? []).filter { !configuredAddresses.contains($0.address.uppercased()) && !configuredAddresses.contains($0.id.uppercased()) }
                .sorted { ($0.lastRSSI ?? -999, $0.count, $1.address) > ($1.lastRSSI ?? -999, $1.count, $0.address) }
                .map { Row(bus: bus.name.rawValue, meter: $0) }
        }
    }

    /// The addresses (16-digit secondary address or 8-digit id) of the working copy's wireless meters, upper case.
    public static func configuredAddresses(_ meters: [JSONValue]) -> Set<String> {
        Set(meters.filter { $0["protocol"]?.stringValue == MeterProtocolKind.wmbus.rawValue }
            .compactMap { $0["address"]?.stringValue?.uppercased() })
    }

    /// The table: id, manufacturer, medium, last RSSI, telegrams, security, bus.
    public static func lines(_ rows: [Row], now: Timestamp) -> [String] {
        var out = TextLayout.wrappedRow([("id", 9, false), ("mfr", 4, false), ("medium", 16, false), ("RSSI", 8, true), ("count", 6, true),
                                         ("heard", 8, true), ("sec", 4, false), ("bus", 0, false)])
        for row in rows {
            let m = row.meter
            let age = Duration.milliseconds(max(0, now.milliseconds - m.lastHeard.milliseconds))
            out += TextLayout.wrappedRow([(m.id, 9, false), (m.manufacturer, 4, false), (MBusMedium.name(m.medium), 16, false),
                                          (m.lastRSSI.map { "\($0) dBm" } ?? "?", 8, true), (String(m.count), 6, true),
                                          (ProgressText.clock(age) + " ago", 8, true), (security(m.securityMode), 4, false), (row.bus, 0, false)])
        }
        return out
    }

    /// `none`, `5`, `7` or `?`.
    public static func security(_ mode: UInt8?) -> String {
        guard let mode else { return "?" }
        return mode == 0 ? "none" : String(mode)
    }

    /// Whether the meter's telegrams are encrypted (a key is needed to read them).
    public static func needsKey(_ meter: HeardMeterStatus) -> Bool { (meter.securityMode ?? 0) != 0 }

    /// The heard meter the installer names: its 8-digit id or its 16-digit secondary address.
    public static func find(_ text: String, in rows: [Row]) -> Result<Row, InputProblem> {
        let wanted = text.trimmingSpaces.uppercased()
        let matches = rows.filter { $0.meter.id.uppercased() == wanted || $0.meter.address.uppercased() == wanted }
        switch matches.count {
        case 1: return .success(matches[0])
        case 0: return .failure(InputProblem("no heard meter \"\(TextLayout.cut(text, to: 20))\": type an id from the list"))
        default: return .failure(InputProblem("\(matches.count) heard meters have id \(wanted): type the 16-digit address instead"))
        }
    }

    /// The meter's identity from its 16-digit secondary address (nil when the address is partial).
    public static func identity(_ meter: HeardMeterStatus) -> MBusIdentity? {
        guard let a = MBusSecondaryAddress(text: meter.address), let manufacturer = a.manufacturer, let version = a.version,
              let medium = a.medium, a.digits.allSatisfy({ $0 != nil }) else { return nil }
        let number = a.digits.reduce(UInt32(0)) { $0 << 4 | UInt32($1 ?? 0xF) }
        return MBusIdentity(number: number, manufacturer: manufacturer, version: version, medium: medium)
    }

    /// The ids of the wireless profiles whose identification fits the heard meter, sorted.
    public static func fittingProfiles(_ meter: HeardMeterStatus, in profiles: [MeterProfile]) -> [String] {
        guard let identity = identity(meter) else { return [] }
        return profiles.filter { $0.protocolKind == .wmbus && $0.mbus?.matches(identity) == true }.map(\.id).sorted()
    }

    /// The configuration entry that adopts `row`'s meter as `id` with `profile`.
    public static func entry(_ row: Row, id: String, profile: String) -> JSONValue {
        MeterEntry(id: id, bus: row.bus, address: .string(row.meter.address), profile: profile).json()
            .setting("protocol", .string(MeterProtocolKind.wmbus.rawValue))
    }
}
