import ConcentratorCore

/// The quantities a profile reads from one telegram's records.
public struct MBusProfileReading: Hashable, Sendable {
    /// One entry per profile quantity found in the telegram (a value, or an error when the record
    /// was there but its value could not be used).
    public var values: [QuantityValue]
    /// Profile quantities this telegram does not carry (wireless meters alternate telegram kinds).
    public var missing: [QuantityID]
}

/// Applies an `MBusRecordMap` (a profile's `mbus`/`wmbus` section) to decoded records: the first
/// record matching each rule gives the rule's quantity, converted to the catalog unit. Pure.
public enum MBusProfileDecoder {
    public static func read(_ records: [MBusDataRecord], map: MBusRecordMap) -> MBusProfileReading {
        var found: [QuantityID: QuantityValue] = [:]
        for rule in map.records where found[rule.quantity] == nil {
            guard let record = records.first(where: { matches(rule, $0) }) else { continue }
            found[rule.quantity] = value(of: record, rule: rule)
        }
        let quantities = map.quantities
        return MBusProfileReading(values: quantities.compactMap { found[$0] }, missing: quantities.filter { found[$0] == nil })
    }

    public static func matches(_ rule: MBusRecordRule, _ record: MBusDataRecord) -> Bool {
        guard record.storage == UInt64(rule.storage), record.tariff == UInt32(rule.tariff), record.subunit == UInt32(rule.subunit),
              record.function == rule.function else { return false }
        switch rule.selector {
        case .kind(let kind): return record.description.kind == kind && record.description.isPlain
        case .vifBytes(let bytes): return record.vib == bytes
        }
    }

    static func value(of record: MBusDataRecord, rule: MBusRecordRule) -> QuantityValue {
        guard let raw = record.scaledValue,
              let converted = convert(raw, from: record.description.unit, to: rule.unit) else {
            return QuantityValue(quantity: rule.quantity, error: .undecodableValue)
        }
        let v = rule.scale == 1 ? converted : scaled(converted, by: rule.scale)
        guard v.isFinite else { return QuantityValue(quantity: rule.quantity, error: .undecodableValue) }
        return QuantityValue(quantity: rule.quantity, value: clean(v))
    }

    /// A value in `from` expressed in `to`; nil when the units do not convert. A record without a
    /// unit (manufacturer specific, HCA units) takes the rule's unit as it is.
    public static func convert(_ value: Double, from: MBusUnit, to: MeasurementUnit) -> Double? {
        switch (from, to) {
        case (.none, _): return value
        case (.wattHour, .kilowattHour): return value / 1000
        case (.joule, .kilowattHour): return value / 3_600_000
        case (.watt, .watt): return value
        case (.joulePerHour, .watt): return value / 3600
        case (.cubicMetre, .cubicMetre): return value
        case (.cubicMetrePerHour, .cubicMetrePerHour): return value
        case (.degreeCelsius, .degreeCelsius): return value
        case (.second, .second): return value
        case (.volt, .volt): return value
        case (.ampere, .ampere): return value
        default: return nil
        }
    }

    /// `value × scale`, dividing by 1/scale when scale is a power of ten below 1 (0.001 gives
    /// 12.345, not 12.345000000000001), as `ModbusRegisterSpec.value(fromRaw:)` does.
    static func scaled(_ value: Double, by scale: Double) -> Double {
        if scale < 1, scale > 0 {
            let inverse = (1 / scale).rounded()
            if abs(inverse * scale - 1) < 1e-12 { return value / inverse }
        }
        return value * scale
    }

    /// Rounds away binary noise below 12 significant digits (0.1 × 3 = 0.30000000000000004 → 0.3),
    /// so archived and exported values are the decimals the meter sent.
    static func clean(_ v: Double) -> Double {
        guard v != 0, v.isFinite else { return v }
        var magnitude = 1.0
        var a = abs(v)
        while a >= 10 { a /= 10; magnitude *= 10 }
        while a < 1 { a *= 10; magnitude /= 10 }
        let unit = magnitude / 1e11
        let rounded = (v / unit).rounded() * unit
        return abs(rounded - v) <= abs(v) * 1e-12 ? rounded : v
    }
}
