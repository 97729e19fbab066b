import ConcentratorCore
import MeterProtocols

/// The COSEM objects of one simulated DLMS meter, built from its profile's `dlms` section and fed
/// by the meter's value model (`SimulatedMeter`): registers (classes 1, 3, 4) with scaler_unit,
/// the clock (class 8), profile generic buffers (class 7) with selective access by range, and the
/// disconnect control (class 70) and the alarm register (class 1) when the profile declares them. Pure: time comes with each call.
struct DLMSMeterObjects {
    var meter: SimulatedMeter
    let section: DLMSProfileSection
    /// How far back the meter's load profiles reach.
    let historyDays: Int

    init(meter: SimulatedMeter, section: DLMSProfileSection, historyDays: Int = 60) {
        self.meter = meter
        self.section = section
        self.historyDays = historyDays
    }

    /// The scaler and unit the meter serves a quantity with: the profile's override, or the meter's
    /// own choice by catalog unit (energy in Wh, voltage in 0.1 V, current in 0.01 A, …).
    static func scalerUnit(for spec: DLMSObjectSpec) -> COSEMScalerUnit {
        if let s = spec.scaler, let u = spec.unit { return COSEMScalerUnit(scaler: s, unit: u) }
        let unit = QuantityCatalog.definition(of: spec.quantity)?.unit ?? .none
        let code = DLMSUnitTable.serving(unit).code
        let scaler: Int8
        switch unit {
        case .volt, .degreeCelsius: scaler = -1
        case .ampere, .hertz, .percent: scaler = -2
        case .none, .cubicMetre, .cubicMetrePerHour: scaler = -3
        default: scaler = 0
        }
        return COSEMScalerUnit(scaler: scaler, unit: code)
    }

    /// The A-XDR value of `value` (catalog unit) in the meter's unit and scaler, and what a client
    /// decodes from it.
    static func encode(_ value: Double, quantity: QuantityID, scalerUnit su: COSEMScalerUnit) -> (data: DLMSData, served: Double) {
        let factor = DLMSUnitTable.catalogUnit(for: su.unit)?.factor ?? 1
        let inMeterUnit = factor < 1 ? value * (1 / factor).rounded() : value / factor
        let raw = su.raw(for: inMeterUnit).rounded()
        let data: DLMSData = raw < 0 ? .doubleLong(Int32(clamping: Int64(raw))) : .doubleLongUnsigned(UInt32(clamping: Int64(raw)))
        let served = DLMSReadPlan.value(quantity: quantity, data: data, scalerUnit: su).value ?? .nan
        return (data, served)
    }

    func clockTime(at time: Timestamp) -> Timestamp { time.adding(milliseconds: meter.clockOffsetMilliseconds) }

    // MARK: - Services

    /// GET: the attribute's value, or a data-access-result; `served` lists the quantities a client
    /// decodes from it.
    func get(_ a: COSEMAttribute, access: SelectiveAccess?, at time: Timestamp) -> (GetResult, served: [ServedValue], rows: Int?) {
        if let spec = section.objects.first(where: { $0.logicalName == a.logicalName.bytes }) {
            guard a.classID == spec.classID else { return (.failure(9), [], nil) }
            switch a.attribute {
            case 1: return (.data(.octetString(spec.logicalName)), [], nil)
            case spec.attribute:
                let encoded = Self.encode(meter.values(at: time)[spec.quantity] ?? 0, quantity: spec.quantity, scalerUnit: Self.scalerUnit(for: spec))
                return (.data(encoded.data), [ServedValue(quantity: spec.quantity, value: encoded.served)], nil)
            case 3 where spec.classID != COSEMClass.data:
                return (.data(Self.scalerUnit(for: spec).data), [], nil)
            default:
                return (.failure(4), [], nil)
            }
        }
        if let clock = section.clock, a.logicalName.bytes == clock {
            guard a.classID == COSEMClass.clock else { return (.failure(9), [], nil) }
            switch a.attribute {
            case 1: return (.data(.octetString(clock)), [], nil)
            case 2: return (.data(.octetString(COSEMDateTime(clockTime(at: time), deviationMinutes: 0).bytes)), [], nil)
            case 3: return (.data(.long(0)), [], nil)
            default: return (.failure(4), [], nil)
            }
        }
        if let control = section.disconnectControl, a.logicalName.bytes == control {
            guard a.classID == COSEMClass.disconnectControl else { return (.failure(9), [], nil) }
            switch a.attribute {
            case 1: return (.data(.octetString(control)), [], nil)
            case 2: return (.data(.boolean(meter.supply.isConnected)), [], nil)
            case 3: return (.data(.enumerated(meter.supply.isConnected ? 1 : 0)), [], nil)
            case 4: return (.data(.enumerated(4)), [], nil)
            default: return (.failure(4), [], nil)
            }
        }
        if let alarm = section.alarmRegister, a.logicalName.bytes == alarm.logicalName {
            guard a.classID == COSEMClass.data else { return (.failure(9), [], nil) }
            switch a.attribute {
            case 1: return (.data(.octetString(alarm.logicalName)), [], nil)
            case 2: return (.data(.doubleLongUnsigned(UInt32(truncatingIfNeeded: meter.statusRaw))), [], nil)
            default: return (.failure(4), [], nil)
            }
        }
        if let profile = section.loadProfiles.first(where: { $0.logicalName == a.logicalName.bytes }) {
            guard a.classID == COSEMClass.profileGeneric else { return (.failure(9), [], nil) }
            switch a.attribute {
            case 1: return (.data(.octetString(profile.logicalName)), [], nil)
            case 2:
                guard let rows = buffer(profile, access: access, at: time) else { return (.failure(12), [], nil) }
                return (.data(.array(rows)), [], rows.count)
            case 3: return (.data(.array(DLMSLoadProfileDecoding.captureObjects(profile).map(\.data))), [], nil)
            case 4: return (.data(.doubleLongUnsigned(UInt32(profile.periodSeconds))), [], nil)
            case 7, 8: return (.data(.doubleLongUnsigned(UInt32(historyDays * 86_400 / profile.periodSeconds))), [], nil)
            default: return (.failure(4), [], nil)
            }
        }
        return (.failure(4), [], nil)
    }

    /// SET: only the clock's time is writable.
    mutating func set(_ a: COSEMAttribute, value: DLMSData, at time: Timestamp) -> DataAccessResult {
        guard let clock = section.clock, a.logicalName.bytes == clock, a.classID == COSEMClass.clock else {
            return section.objects.contains { $0.logicalName == a.logicalName.bytes } ? 3 : 4
        }
        guard a.attribute == 2 else { return 3 }
        guard let bytes = value.bytes, let dt = COSEMDateTime(bytes: bytes), let t = dt.timestamp else { return 12 }
        meter.setClock(t, at: time)
        return 0
    }

    /// ACTION on the disconnect control: remote_disconnect (1) and remote_reconnect (2).
    mutating func action(_ m: COSEMMethod, at time: Timestamp) -> UInt8 {
        guard let control = section.disconnectControl, m.logicalName.bytes == control, m.classID == COSEMClass.disconnectControl else {
            return 4
        }
        switch m.method {
        case 1: meter.setRelay(connected: false, at: time)
        case 2: meter.setRelay(connected: true, at: time)
        default: return 3
        }
        return 0
    }

    // MARK: - Profile buffer

    /// The entries of `profile` at each capture boundary inside the range (or the last day without
    /// selective access), bounded by the meter's history and its clock; nil for an unusable selector.
    func buffer(_ profile: DLMSLoadProfileSpec, access: SelectiveAccess?, at time: Timestamp) -> [DLMSData]? {
        let period = Int64(profile.periodSeconds) * 1000
        let now = clockTime(at: time)
        var from = now.adding(seconds: -86_400)
        var to = now
        var columns = Array(profile.captureObjects.indices)
        if let access {
            guard access.selector == 1, case .structure(let p) = access.parameters, p.count == 4,
                  let fromBytes = p[1].bytes, let f = COSEMDateTime(bytes: fromBytes)?.timestamp,
                  let toBytes = p[2].bytes, let t = COSEMDateTime(bytes: toBytes)?.timestamp else { return nil }
            from = f
            to = min(t, now)
            if case .array(let selected) = p[3], !selected.isEmpty {
                columns = []
                for s in selected {
                    guard let object = COSEMProfile.CaptureObject(s),
                          let i = profile.captureObjects.firstIndex(where: { $0.logicalName == object.logicalName.bytes && $0.attribute == object.attribute })
                    else { return nil }
                    columns.append(i)
                }
            }
        }
        let oldest = now.adding(seconds: -Int64(historyDays) * 86_400)
        var t = Timestamp(milliseconds: (max(from, oldest).milliseconds + period - 1) / period * period)
        var rows: [DLMSData] = []
        while t <= to, rows.count < 20_000 {
            // The meter captured this entry at its clock time t; the model runs on true time.
            let values = meter.values(at: t.adding(milliseconds: -meter.clockOffsetMilliseconds))
            rows.append(.structure(columns.map { i in
                let column = profile.captureObjects[i]
                if column.isClock { return .octetString(COSEMDateTime(t, deviationMinutes: 0).bytes) }
                guard let q = column.quantity, let s = column.scaler, let u = column.unit else { return .unsigned(0) }
                return Self.encode(values[q] ?? 0, quantity: q, scalerUnit: COSEMScalerUnit(scaler: s, unit: u)).data
            }))
            t = t.adding(milliseconds: period)
        }
        return rows
    }
}
