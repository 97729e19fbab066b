import ConcentratorCore

/// Turns a DLMS profile's objects into GET operations and their results into quantity values:
/// raw × 10^scaler in the object's unit, converted to the catalog unit (Wh → kWh).
///
///     var plan = DLMSReadPlan(objects: profile.dlms!.objects, known: cachedScalerUnits)
///     session = DLMSSession(DLMSServiceConversation(plan.operations), association: a)
///     … finished(outcome): let read = plan.values(from: outcome.value)   // values + scaler_units to cache
///
/// The scaler_unit (attribute 3) of a register is read only when the profile gives no override and
/// it is not known from an earlier read (pass what `values` returned last time).
public struct DLMSReadPlan: Sendable {
    public let objects: [DLMSObjectSpec]
    public let known: [COSEMLogicalName: COSEMScalerUnit]
    public let operations: [DLMSOperation]
    /// For each operation, the object index and whether it reads the scaler_unit.
    private let slots: [(object: Int, scalerUnit: Bool)]

    public init(objects: [DLMSObjectSpec], known: [COSEMLogicalName: COSEMScalerUnit] = [:]) {
        self.objects = objects
        self.known = known
        var ops: [DLMSOperation] = []
        var slots: [(Int, Bool)] = []
        for (i, o) in objects.enumerated() {
            let name = COSEMLogicalName(o.logicalName)
            if !o.hasScalerUnitOverride, known[name] == nil {
                ops.append(.get(COSEMAttribute(classID: o.classID, logicalName: name, attribute: 3)))
                slots.append((i, true))
            }
            ops.append(.get(COSEMAttribute(classID: o.classID, logicalName: name, attribute: o.attribute)))
            slots.append((i, false))
        }
        operations = ops
        self.slots = slots
    }

    /// One value per object, in profile order, and every scaler_unit known after this read.
    public func values(from results: [DLMSOperationResult]) -> (values: [QuantityValue], scalerUnits: [COSEMLogicalName: COSEMScalerUnit]) {
        var scalers = known
        var data: [Int: DLMSOperationResult] = [:]
        for (slot, result) in zip(slots, results) {
            let name = COSEMLogicalName(objects[slot.object].logicalName)
            if slot.scalerUnit {
                if let d = result.data, let su = COSEMScalerUnit(d) { scalers[name] = su }
            } else {
                data[slot.object] = result
            }
        }
        let values = objects.enumerated().map { i, o -> QuantityValue in
            switch data[i] {
            case .data(let d)?:
                return Self.value(for: o, data: d, scalerUnit: scalers[COSEMLogicalName(o.logicalName)])
            case .accessFailure(let code)?:
                return QuantityValue(quantity: o.quantity, error: MeterErrorCode.dlmsAccess(code))
            default:
                return QuantityValue(quantity: o.quantity, error: .noResponse)
            }
        }
        return (values, scalers)
    }

    /// The value of one object: its data with the profile's override or the meter's scaler_unit.
    public static func value(for spec: DLMSObjectSpec, data: DLMSData, scalerUnit: COSEMScalerUnit?) -> QuantityValue {
        let su = spec.hasScalerUnitOverride ? COSEMScalerUnit(scaler: spec.scaler!, unit: spec.unit!) : scalerUnit
        guard let su else { return QuantityValue(quantity: spec.quantity, error: .malformedResponse) }
        return value(quantity: spec.quantity, data: data, scalerUnit: su)
    }

    /// raw × 10^scaler × (unit → catalog unit); an error for non-numbers, NaN, infinities and a unit
    /// that does not convert to the quantity's catalog unit.
    public static func value(quantity: QuantityID, data: DLMSData, scalerUnit su: COSEMScalerUnit) -> QuantityValue {
        guard let raw = data.number, raw.isFinite, let target = QuantityCatalog.definition(of: quantity)?.unit,
              let (unit, factor) = DLMSUnitTable.catalogUnit(for: su.unit), unit == target else {
            return QuantityValue(quantity: quantity, error: .undecodableValue)
        }
        let scaled = su.apply(to: raw)
        // Wh → kWh: divide by 1000 rather than multiply by 0.001, for clean decimals.
        let value = factor < 1 ? scaled / (1 / factor).rounded() : scaled * factor
        return value.isFinite ? QuantityValue(quantity: quantity, value: value) : QuantityValue(quantity: quantity, error: .undecodableValue)
    }
}

/// One row of a load profile as values: the row's time (from its clock column) and its quantities.
public struct DLMSProfileRow: Hashable, Sendable {
    public var time: Timestamp
    public var values: [QuantityValue]
}

/// Decodes load-profile rows with the profile's capture objects.
public enum DLMSLoadProfileDecoding {
    /// Rows whose clock column is a valid date-time; a row with another column count, or without a
    /// usable time, is skipped and counted in `skipped`.
    public static func rows(_ raw: [[DLMSData]], spec: DLMSLoadProfileSpec) -> (rows: [DLMSProfileRow], skipped: Int) {
        var out: [DLMSProfileRow] = []
        var skipped = 0
        for entry in raw {
            guard entry.count == spec.captureObjects.count,
                  let clock = spec.captureObjects.firstIndex(where: \.isClock),
                  let bytes = entry[clock].bytes, let dt = COSEMDateTime(bytes: bytes), let time = dt.timestamp else {
                skipped += 1
                continue
            }
            var values: [QuantityValue] = []
            for (column, value) in zip(spec.captureObjects, entry) {
                guard let q = column.quantity, let s = column.scaler, let u = column.unit else { continue }
                values.append(DLMSReadPlan.value(quantity: q, data: value, scalerUnit: COSEMScalerUnit(scaler: s, unit: u)))
            }
            out.append(DLMSProfileRow(time: time, values: values))
        }
        return (out, skipped)
    }

    /// The capture objects of a spec as COSEM capture object definitions.
    public static func captureObjects(_ spec: DLMSLoadProfileSpec) -> [COSEMProfile.CaptureObject] {
        spec.captureObjects.map {
            COSEMProfile.CaptureObject(classID: $0.classID, logicalName: COSEMLogicalName($0.logicalName), attribute: $0.attribute, dataIndex: $0.dataIndex)
        }
    }
}

/// The state of a disconnect control object (class 70).
public struct DLMSDisconnectState: Hashable, Sendable {
    /// output_state (attribute 2): true = connected.
    public var connected: Bool
    /// control_state (attribute 3): 0 disconnected, 1 connected, 2 ready for reconnection.
    public var controlState: UInt8

    public init(connected: Bool, controlState: UInt8) {
        self.connected = connected
        self.controlState = controlState
    }
}

/// Operation lists for the clock (class 8) and disconnect control (class 70), and what their
/// results mean. Run them with `DLMSServiceConversation`.
public enum DLMSOperations {
    public static func readClock(_ clock: COSEMLogicalName = .clock) -> [DLMSOperation] {
        [.get(COSEMAttribute(classID: COSEMClass.clock, logicalName: clock, attribute: 2))]
    }

    /// Sets the clock's time attribute to `time` with the given deviation (0: the meter keeps UTC).
    public static func setClock(_ time: Timestamp, deviationMinutes: Int16? = 0, clock: COSEMLogicalName = .clock) -> [DLMSOperation] {
        [.set(COSEMAttribute(classID: COSEMClass.clock, logicalName: clock, attribute: 2),
              .octetString(COSEMDateTime(time, deviationMinutes: deviationMinutes).bytes))]
    }

    /// The meter's clock from a `readClock` result.
    public static func clock(from results: [DLMSOperationResult]) -> COSEMDateTime? {
        guard results.count == 1, let bytes = results[0].data?.bytes else { return nil }
        return COSEMDateTime(bytes: bytes)
    }

    /// Whether a `setClock` (or any SET) succeeded.
    public static func succeeded(_ results: [DLMSOperationResult]) -> Bool {
        results.allSatisfy { if case .done(0, _) = $0 { return true } else { return false } }
    }

    /// remote_disconnect (method 1) or remote_reconnect (method 2), then output_state and control_state.
    public static func switchSupply(connect: Bool, object: COSEMLogicalName = .disconnectControl) -> [DLMSOperation] {
        [.action(COSEMMethod(classID: COSEMClass.disconnectControl, logicalName: object, method: connect ? 2 : 1), parameters: .integer(0))]
            + readDisconnectState(object)
    }

    public static func readDisconnectState(_ object: COSEMLogicalName = .disconnectControl) -> [DLMSOperation] {
        [.get(COSEMAttribute(classID: COSEMClass.disconnectControl, logicalName: object, attribute: 2)),
         .get(COSEMAttribute(classID: COSEMClass.disconnectControl, logicalName: object, attribute: 3))]
    }

    /// The state from the last two results of `switchSupply` or `readDisconnectState`.
    public static func disconnectState(from results: [DLMSOperationResult]) -> DLMSDisconnectState? {
        guard results.count >= 2, case .boolean(let on)? = results[results.count - 2].data,
              case .enumerated(let state)? = results[results.count - 1].data else { return nil }
        return DLMSDisconnectState(connected: on, controlState: state)
    }

    /// GET of an alarm register's value: a data object (class 1), attribute 2, e.g. "Alarm register 1" 0-0:97.98.0.255.
    public static func readAlarmRegister(_ register: COSEMLogicalName) -> [DLMSOperation] {
        [.get(COSEMAttribute(classID: COSEMClass.data, logicalName: register, attribute: 2))]
    }

    /// The bit field of a `readAlarmRegister` result: an unsigned integer of any width (the Blue Book
    /// gives double-long-unsigned), or a bit-string of up to 64 bits whose first bit is bit 0; nil
    /// for a refusal or any other type.
    public static func alarmBits(from result: DLMSOperationResult) -> UInt64? {
        switch result.data {
        case .unsigned(let v)?: return UInt64(v)
        case .longUnsigned(let v)?: return UInt64(v)
        case .doubleLongUnsigned(let v)?: return UInt64(v)
        case .long64Unsigned(let v)?: return v
        case .bitString(let count, let bytes)? where count <= 64 && bytes.count * 8 >= count:
            // A bit-string's first bit is the most significant bit of its first byte (A-XDR).
            var raw: UInt64 = 0
            for i in 0..<count where bytes[i / 8] & (0x80 >> UInt8(i % 8)) != 0 { raw |= 1 << UInt64(i) }
            return raw
        default: return nil
        }
    }
}
