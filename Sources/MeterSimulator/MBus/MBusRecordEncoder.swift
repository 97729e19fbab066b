import ConcentratorCore
import MeterProtocols

/// Values for the quantities of a simulated M-Bus meter: counters that only grow from a seeded
/// start, momentary values around a seeded level, billing-date values frozen at the start of each
/// 30-day period. Deterministic in (seed, quantity, time).
public struct MBusValueModel: Sendable, Hashable {
    public let seed: UInt64
    /// 30-day billing periods from the epoch.
    static let billingPeriodSeconds: Int64 = 30 * 86_400

    public init(seed: UInt64) { self.seed = seed }

    /// The value of `quantity` (catalog unit) at `time`.
    public func value(_ quantity: QuantityID, at time: Timestamp) -> Double {
        let key = SeededRandom.key(quantity.rawValue)
        var random = SeededRandom(seed: SeededRandom.mix(seed ^ key))
        let level = random.unitInterval()
        let hours = max(0, Double(time.seconds) / 3600 - 480_000) // growth from 2024-10-04
        let hourOfYear = (Double(time.seconds) / 3600).truncatingRemainder(dividingBy: 8760)
        switch quantity.rawValue {
        case "heat_energy": return 1000 + 40_000 * level + (0.5 + 2 * level) * hours
        case "heat_energy_previous_period": return value("heat_energy", at: billingStart(time))
        case "heat_volume": return 50 + 1000 * level + (0.02 + 0.05 * level) * hours
        case "water_volume": return 10 + 500 * level + (0.005 + 0.02 * level) * hours
        case "water_volume_previous_period": return value("water_volume", at: billingStart(time))
        case "hca_units": return 10 + 300 * level + (0.01 + 0.05 * level) * max(0, hourOfYear)
        case "hca_units_previous_period": return value("hca_units", at: billingStart(time))
        case "heat_power": return 2000 + 8000 * level
        case "heat_volume_flow", "water_flow": return 0.1 + 0.5 * level
        case "heat_flow_temperature": return 45 + 20 * level
        case "heat_return_temperature": return 25 + 15 * level
        case "water_temperature": return 10 + 8 * level
        case "hca_radiator_temperature": return 28 + 20 * level
        case "hca_room_temperature": return 18 + 4 * level
        case "meter_uptime": return Double(max(0, time.seconds - 1_500_000_000))
        default:
            let range = QuantityCatalog.definition(of: quantity)?.plausible ?? 0...1000
            let span = range.upperBound - range.lowerBound
            return range.lowerBound + span * (0.2 + 0.3 * level)
        }
    }

    private func billingStart(_ time: Timestamp) -> Timestamp {
        let s = time.seconds
        return Timestamp(seconds: s - ((s % Self.billingPeriodSeconds) + Self.billingPeriodSeconds) % Self.billingPeriodSeconds)
    }
}

/// Writes data records for a profile's rules (the simulator's side of `MBusProfileDecoder`): each
/// value kind gets one canonical coding (kWh in VIF 06, litres in VIF 13, 0.01 °C in VIF 59, …),
/// a byte-selected rule its own VIF bytes with the value divided by the rule's scale.
public enum MBusRecordEncoder {
    /// (VIF bytes, data field code, factor from the catalog value to the raw number).
    static func coding(for rule: MBusRecordRule) -> (vib: [UInt8], dataField: UInt8, rawPerUnit: Double)? {
        switch rule.selector {
        case .vifBytes(let bytes):
            return (bytes, 0x04, 1 / rule.scale)
        case .kind(let kind):
            switch kind {
            case .energy: return ([0x06], 0x04, 1)                  // kWh
            case .volume: return ([0x13], 0x04, 1000)               // litres
            case .power: return ([0x2B], 0x04, 1)                   // W
            case .volumeFlow: return ([0x3B], 0x04, 1000)           // l/h
            case .flowTemperature: return ([0x59], 0x02, 100)       // 0.01 °C
            case .returnTemperature: return ([0x5D], 0x02, 100)
            case .externalTemperature: return ([0x65], 0x02, 100)
            case .hcaUnits: return ([0x6E], 0x04, 1)
            case .operatingTime, .onTime: return ([0x22], 0x04, 1.0 / 3600) // hours
            default: return nil
            }
        }
    }

    /// DIF and DIFEs for a rule's storage number, tariff, subunit and function.
    static func dib(dataField: UInt8, rule: MBusRecordRule) -> [UInt8] {
        let function: UInt8 = [.instantaneous: 0, .maximum: 1, .minimum: 2, .error: 3][rule.function] ?? 0
        var dif = dataField | function << 4 | UInt8(rule.storage & 1) << 6
        var storage = rule.storage >> 1, tariff = rule.tariff, subunit = rule.subunit
        var difes: [UInt8] = []
        while storage > 0 || tariff > 0 || subunit > 0 {
            difes.append(UInt8(storage & 0x0F) | UInt8(tariff & 0x03) << 4 | UInt8(subunit & 1) << 6)
            storage >>= 4; tariff >>= 2; subunit >>= 1
        }
        if !difes.isEmpty { dif |= 0x80 }
        for i in 0..<max(0, difes.count - 1) { difes[i] |= 0x80 }
        return [dif] + difes
    }

    /// The records for every rule of `map` (one per quantity, first rule wins), with values from `model`.
    public static func records(for map: MBusRecordMap, model: MBusValueModel, at time: Timestamp) -> [UInt8] {
        var out: [UInt8] = []
        var done = Set<QuantityID>()
        for rule in map.records where !done.contains(rule.quantity) {
            guard let coding = coding(for: rule) else { continue }
            done.insert(rule.quantity)
            let raw = (model.value(rule.quantity, at: time) * coding.rawPerUnit).rounded()
            let size = coding.dataField == 0x02 ? 2 : 4
            let clamped = Int64(max(-Double(Int32.max), min(Double(Int32.max), raw)))
            out += dib(dataField: coding.dataField, rule: rule) + coding.vib
            for i in 0..<size { out.append(UInt8(truncatingIfNeeded: clamped >> Int64(8 * i))) }
        }
        return out
    }

    /// The values a client decodes from `records(for:model:at:)`: the model's values at the raw
    /// resolution, by the profile's own decoder (so a test compares like with like).
    public static func expectedValues(for map: MBusRecordMap, model: MBusValueModel, at time: Timestamp) -> [QuantityID: Double] {
        let bytes = records(for: map, model: model, at: time)
        guard let block = try? MBusRecordDecoder.decode(bytes) else { return [:] }
        var out: [QuantityID: Double] = [:]
        for v in MBusProfileDecoder.read(block.records, map: map).values { if let x = v.value { out[v.quantity] = x } }
        return out
    }
}
