/// The stable name of a measured quantity, for example `active_energy_import` or `voltage_l1`.
/// Names come from `QuantityCatalog`; profiles and configs refer to quantities by these names.
public struct QuantityID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }
    public var description: String { rawValue }
    public static func < (a: QuantityID, b: QuantityID) -> Bool { a.rawValue < b.rawValue }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// The unit a quantity is stored and reported in. Profiles scale raw register values into it.
public enum MeasurementUnit: String, Hashable, Sendable, Codable, CaseIterable {
    case none = ""
    case volt = "V"
    case ampere = "A"
    case watt = "W"
    case voltAmpereReactive = "var"
    case voltAmpere = "VA"
    case hertz = "Hz"
    case kilowattHour = "kWh"
    case kilovarHour = "kvarh"
    case kilovoltAmpereHour = "kVAh"
    case percent = "%"
    case degreeCelsius = "°C"
    case cubicMetre = "m3"
    case cubicMetrePerHour = "m3/h"
    case second = "s"
}

/// Whether a quantity is a register that only grows (energy, volume) or a momentary value.
public enum QuantityKind: String, Hashable, Sendable, Codable {
    case counter
    case instantaneous
}

/// Everything the concentrator knows about one quantity.
public struct QuantityDefinition: Hashable, Sendable {
    public let id: QuantityID
    /// A stable small number used on the wire and in the archive. Never reused.
    public let code: UInt16
    /// The OBIS code (IEC 62056-61) where one exists, e.g. "1-0:1.8.0".
    public let obis: String?
    public let unit: MeasurementUnit
    public let kind: QuantityKind
    /// The range a healthy installation normally shows; the console flags values outside it.
    public let plausible: ClosedRange<Double>
    public let summary: String
}

/// The fixed list of quantities the concentrator can archive and transmit.
public enum QuantityCatalog {
    /// All known quantities, in code order.
    public static let all: [QuantityDefinition] = {
        var list: [QuantityDefinition] = []
        func add(_ id: String, _ code: UInt16, _ obis: String?, _ unit: MeasurementUnit, _ kind: QuantityKind,
                 _ range: ClosedRange<Double>, _ summary: String) {
            list.append(QuantityDefinition(id: QuantityID(id), code: code, obis: obis, unit: unit, kind: kind,
                                           plausible: range, summary: summary))
        }
        let v = 207.0...253.0 // EN 50160: 230 V ±10 %
        let vll = 358.0...438.0 // 400 V ±10 %
        add("voltage_l1", 1, "1-0:32.7.0", .volt, .instantaneous, v, "Voltage L1-N")
        add("voltage_l2", 2, "1-0:52.7.0", .volt, .instantaneous, v, "Voltage L2-N")
        add("voltage_l3", 3, "1-0:72.7.0", .volt, .instantaneous, v, "Voltage L3-N")
        add("voltage_l1_l2", 4, nil, .volt, .instantaneous, vll, "Voltage L1-L2")
        add("voltage_l2_l3", 5, nil, .volt, .instantaneous, vll, "Voltage L2-L3")
        add("voltage_l3_l1", 6, nil, .volt, .instantaneous, vll, "Voltage L3-L1")
        add("current_l1", 10, "1-0:31.7.0", .ampere, .instantaneous, 0...100, "Current L1")
        add("current_l2", 11, "1-0:51.7.0", .ampere, .instantaneous, 0...100, "Current L2")
        add("current_l3", 12, "1-0:71.7.0", .ampere, .instantaneous, 0...100, "Current L3")
        add("current_neutral", 13, "1-0:91.7.0", .ampere, .instantaneous, 0...100, "Current N")
        let p = -69_000.0...69_000.0
        let pl = -23_000.0...23_000.0
        add("active_power_total", 20, "1-0:16.7.0", .watt, .instantaneous, p, "Active power, total (signed)")
        add("active_power_l1", 21, "1-0:36.7.0", .watt, .instantaneous, pl, "Active power L1 (signed)")
        add("active_power_l2", 22, "1-0:56.7.0", .watt, .instantaneous, pl, "Active power L2 (signed)")
        add("active_power_l3", 23, "1-0:76.7.0", .watt, .instantaneous, pl, "Active power L3 (signed)")
        add("reactive_power_total", 24, nil, .voltAmpereReactive, .instantaneous, p, "Reactive power, total")
        add("reactive_power_l1", 25, nil, .voltAmpereReactive, .instantaneous, pl, "Reactive power L1")
        add("reactive_power_l2", 26, nil, .voltAmpereReactive, .instantaneous, pl, "Reactive power L2")
        add("reactive_power_l3", 27, nil, .voltAmpereReactive, .instantaneous, pl, "Reactive power L3")
        add("apparent_power_total", 28, "1-0:9.7.0", .voltAmpere, .instantaneous, 0...69_000, "Apparent power, total")
        add("apparent_power_l1", 29, "1-0:29.7.0", .voltAmpere, .instantaneous, 0...23_000, "Apparent power L1")
        add("apparent_power_l2", 30, "1-0:49.7.0", .voltAmpere, .instantaneous, 0...23_000, "Apparent power L2")
        add("apparent_power_l3", 31, "1-0:69.7.0", .voltAmpere, .instantaneous, 0...23_000, "Apparent power L3")
        add("power_factor_total", 32, "1-0:13.7.0", .none, .instantaneous, -1...1, "Power factor, total")
        add("power_factor_l1", 33, "1-0:33.7.0", .none, .instantaneous, -1...1, "Power factor L1")
        add("power_factor_l2", 34, "1-0:53.7.0", .none, .instantaneous, -1...1, "Power factor L2")
        add("power_factor_l3", 35, "1-0:73.7.0", .none, .instantaneous, -1...1, "Power factor L3")
        add("frequency", 36, "1-0:14.7.0", .hertz, .instantaneous, 49.5...50.5, "Supply frequency")
        add("active_power_demand", 37, "1-0:1.4.0", .watt, .instantaneous, 0...69_000, "Active power demand")
        add("thd_voltage_l1", 38, nil, .percent, .instantaneous, 0...8, "Voltage THD L1")
        add("thd_voltage_l2", 39, nil, .percent, .instantaneous, 0...8, "Voltage THD L2")
        add("thd_voltage_l3", 40, nil, .percent, .instantaneous, 0...8, "Voltage THD L3")
        let e = 0.0...99_999_999.0
        add("active_energy_import", 50, "1-0:1.8.0", .kilowattHour, .counter, e, "Active energy import (+A)")
        add("active_energy_export", 51, "1-0:2.8.0", .kilowattHour, .counter, e, "Active energy export (-A)")
        add("active_energy_import_t1", 52, "1-0:1.8.1", .kilowattHour, .counter, e, "Active energy import, tariff 1")
        add("active_energy_import_t2", 53, "1-0:1.8.2", .kilowattHour, .counter, e, "Active energy import, tariff 2")
        add("active_energy_export_t1", 54, "1-0:2.8.1", .kilowattHour, .counter, e, "Active energy export, tariff 1")
        add("active_energy_export_t2", 55, "1-0:2.8.2", .kilowattHour, .counter, e, "Active energy export, tariff 2")
        add("active_energy_total", 56, "1-0:15.8.0", .kilowattHour, .counter, e, "Active energy, absolute total")
        add("active_energy_import_l1", 57, "1-0:21.8.0", .kilowattHour, .counter, e, "Active energy import L1")
        add("active_energy_import_l2", 58, "1-0:41.8.0", .kilowattHour, .counter, e, "Active energy import L2")
        add("active_energy_import_l3", 59, "1-0:61.8.0", .kilowattHour, .counter, e, "Active energy import L3")
        add("active_energy_export_l1", 60, "1-0:22.8.0", .kilowattHour, .counter, e, "Active energy export L1")
        add("active_energy_export_l2", 61, "1-0:42.8.0", .kilowattHour, .counter, e, "Active energy export L2")
        add("active_energy_export_l3", 62, "1-0:62.8.0", .kilowattHour, .counter, e, "Active energy export L3")
        add("reactive_energy_import", 63, "1-0:3.8.0", .kilovarHour, .counter, e, "Reactive energy import (+R)")
        add("reactive_energy_export", 64, "1-0:4.8.0", .kilovarHour, .counter, e, "Reactive energy export (-R)")
        add("reactive_energy_total", 65, nil, .kilovarHour, .counter, e, "Reactive energy, absolute total")
        add("apparent_energy_total", 66, "1-0:9.8.0", .kilovoltAmpereHour, .counter, e, "Apparent energy import")
        add("water_volume", 80, "8-0:1.0.0", .cubicMetre, .counter, 0...99_999_999, "Water volume")
        add("water_flow", 81, "8-0:2.0.0", .cubicMetrePerHour, .instantaneous, 0...100, "Water flow rate")
        add("heat_energy", 90, "6-0:1.0.0", .kilowattHour, .counter, e, "Heat energy")
        add("heat_flow_temperature", 91, "6-0:10.0.0", .degreeCelsius, .instantaneous, 0...130, "Flow temperature")
        add("heat_return_temperature", 92, "6-0:11.0.0", .degreeCelsius, .instantaneous, 0...130, "Return temperature")
        add("meter_uptime", 100, nil, .second, .counter, 0...4_000_000_000, "Meter running time")
        // M-Bus heat meters, water meters and heat-cost allocators (EN 13757-3 records; Docs/mbus.md).
        add("heat_volume", 110, "6-0:2.0.0", .cubicMetre, .counter, 0...99_999_999, "Heat meter volume")
        add("heat_power", 111, "6-0:8.0.0", .watt, .instantaneous, 0...10_000_000, "Heat power")
        add("heat_volume_flow", 112, "6-0:9.0.0", .cubicMetrePerHour, .instantaneous, 0...1000, "Heat meter volume flow")
        add("heat_energy_previous_period", 113, nil, .kilowattHour, .counter, e, "Heat energy at the last billing date")
        add("water_volume_previous_period", 114, nil, .cubicMetre, .counter, 0...99_999_999, "Water volume at the last billing date")
        add("water_temperature", 115, nil, .degreeCelsius, .instantaneous, 0...100, "Water temperature")
        add("hca_units", 116, "4-0:1.0.0", .none, .counter, 0...999_999, "Heat-cost allocator units")
        add("hca_units_previous_period", 117, nil, .none, .counter, 0...999_999, "Heat-cost allocator units at the last billing date")
        add("hca_radiator_temperature", 118, nil, .degreeCelsius, .instantaneous, 0...130, "Heat-cost allocator radiator temperature")
        add("hca_room_temperature", 119, nil, .degreeCelsius, .instantaneous, -20...50, "Heat-cost allocator room temperature")
        return list
    }()

    private static let byID: [QuantityID: QuantityDefinition] =
        Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0) })
    private static let byCode: [UInt16: QuantityDefinition] =
        Dictionary(uniqueKeysWithValues: all.map { ($0.code, $0) })

    public static func definition(of id: QuantityID) -> QuantityDefinition? { byID[id] }
    public static func definition(code: UInt16) -> QuantityDefinition? { byCode[code] }
}
