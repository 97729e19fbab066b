import ConcentratorCore

/// Turns decoded IEC 62056-21 answers into the concentrator's values through a profile's `iec`
/// section: readout lines into `QuantityValue`s, the readout's clock lines into a meter time, P.01
/// entries into per-period values.
public enum IECValueMapping {
    /// One value per register of the profile, in profile order:
    /// - the first data set whose OBIS code matches, its first value, × the register's scale;
    /// - `malformedResponse` when the readout has no such line;
    /// - `undecodableValue` when the value is not a number, or the meter sent a unit other than the
    ///   profile's (a meter set to MWh read as kWh would be off by 1000).
    public static func values(_ data: IECDataBlock, registers: [IECRegisterSpec]) -> [QuantityValue] {
        let parsed = data.sets.map { (set: $0, code: $0.obis) }
        return registers.map { spec in
            guard let code = try? OBISCode.parse(spec.obis),
                  let set = parsed.first(where: { $0.code.map(code.matches) ?? false })?.set, let value = set.values.first else {
                return QuantityValue(quantity: spec.quantity, error: .malformedResponse)
            }
            guard let number = value.number, value.unit == nil || value.unit == spec.unit || unitsAgree(value.unit!, spec.unit) else {
                return QuantityValue(quantity: spec.quantity, error: .undecodableValue)
            }
            let v = spec.value(fromMeter: number)
            guard v.isFinite else { return QuantityValue(quantity: spec.quantity, error: .undecodableValue) }
            return QuantityValue(quantity: spec.quantity, value: v)
        }
    }

    /// Reactive units differ only in case between meters (kvarh, kVArh).
    static func unitsAgree(_ sent: String, _ expected: String) -> Bool {
        sent.lowercased().contains("var") && sent.lowercased() == expected.lowercased()
    }

    /// The meter clock the readout carries (time and date lines), nil when either is missing.
    public static func meterClock(_ data: IECDataBlock, clock: IECClockSpec) -> IECMeterTime? {
        guard let timeCode = try? OBISCode.parse(clock.timeOBIS), let dateCode = try? OBISCode.parse(clock.dateOBIS),
              let time = data.first(timeCode)?.values.first?.text, let date = data.first(dateCode)?.values.first?.text else { return nil }
        return IECTimeText.meterTime(time: time, clock.timeFormat, date: date, clock.dateFormat)
    }

    /// The raw bit field of the readout's error-code line (`F.F(00000000)`, the profile's
    /// `errorCode`); nil when the readout has no such line or its value is not 1–8 hex digits.
    public static func errorCode(_ data: IECDataBlock, spec: IECErrorCodeSpec) -> UInt64? {
        guard let code = try? OBISCode.parse(spec.obis), let text = data.first(code)?.values.first?.text else { return nil }
        return IECErrorCodeSpec.raw(fromValueText: text)
    }

    /// One period of a load profile in catalog terms.
    public struct ProfileSample: Hashable, Sendable {
        /// The end of the period (the entry's time stamp) as an instant.
        public var time: Timestamp
        public var status: String
        public var values: [QuantityValue]
    }

    /// The profile's entries as samples, one value per channel of `spec` (matched by code; a
    /// channel the answer lacks or whose unit differs gives `malformedResponse`/`undecodableValue`).
    public static func samples(_ profile: IECLoadProfile, spec: IECLoadProfileSpec, zone: IECMeterClockZone) -> [ProfileSample] {
        let columns: [Int?] = spec.channels.map { channel in
            guard let code = try? OBISCode.parse(channel.obis) else { return nil }
            return profile.channels.firstIndex { (try? OBISCode.parse($0.code)).map(code.matches) ?? false }
        }
        return profile.entries.map { entry in
            let values = spec.channels.enumerated().map { (i, channel) -> QuantityValue in
                guard let column = columns[i] else { return QuantityValue(quantity: channel.quantity, error: .malformedResponse) }
                let unit = profile.channels[column].unit
                guard unit.isEmpty || unit == channel.unit || unitsAgree(unit, channel.unit),
                      let number = entry.values[column] else {
                    return QuantityValue(quantity: channel.quantity, error: .undecodableValue)
                }
                return QuantityValue(quantity: channel.quantity, value: IECUnitConversion.apply(channel.scale, to: number))
            }
            return ProfileSample(time: zone.timestamp(of: entry.time), status: entry.status, values: values)
        }
    }

    /// Whether an identification is the one a profile expects (manufacturer exact, ident prefix).
    public static func matches(_ identification: IECIdentification, _ pattern: IECIdentificationPattern) -> Bool {
        identification.manufacturer == pattern.manufacturer && identification.ident.hasPrefix(pattern.identPrefix)
    }
}
