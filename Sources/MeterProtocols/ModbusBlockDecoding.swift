import ConcentratorCore

extension ModbusReadBlock {
    /// The values of this block's quantities from the registers the meter returned (as delivered by
    /// `ModbusRTUFrame.decodeResponse`), in the catalog units (`ModbusRegisterSpec.value(fromRaw:)`).
    ///
    /// Pure and total: a value that is NaN or infinite (before or after scaling), or that the
    /// profile's `notAvailableMarker` names, becomes `QuantityValue(error: .undecodableValue)`;
    /// if the meter returned a different number of
    /// registers than the block asked for, every quantity gets `.malformedResponse`.
    public func decode(_ words: [UInt16]) -> [QuantityValue] {
        guard words.count == count else { return failure(.malformedResponse) }
        return registers.map { spec in
            let offset = Int(spec.address) - Int(start)
            guard offset >= 0, offset + spec.registerCount <= words.count else {
                return QuantityValue(quantity: spec.quantity, error: .malformedResponse)
            }
            let slice = words[offset..<(offset + spec.registerCount)]
            do {
                let raw = try ModbusValueCodec.decode(slice, type: spec.type, byteOrder: spec.byteOrder, wordOrder: spec.wordOrder)
                if notAvailableMarker == .typeMaximum, raw == spec.type.maximumRawValue {
                    return QuantityValue(quantity: spec.quantity, error: .undecodableValue)
                }
                let value = spec.value(fromRaw: raw)
                guard value.isFinite else { return QuantityValue(quantity: spec.quantity, error: .undecodableValue) }
                return QuantityValue(quantity: spec.quantity, value: value)
            } catch {
                return QuantityValue(quantity: spec.quantity, error: .undecodableValue)
            }
        }
    }

    /// Every quantity of this block marked with `error` (no answer, bad CRC, a Modbus exception …).
    public func failure(_ error: MeterErrorCode) -> [QuantityValue] {
        registers.map { QuantityValue(quantity: $0.quantity, error: error) }
    }

    /// The values from a response PDU to this block's request: registers are decoded, an exception
    /// response marks every quantity with `.modbusException(code)`, anything else is malformed.
    public func decode(response: ModbusResponsePDU) -> [QuantityValue] {
        switch response {
        case .registers(let words): return decode(words)
        case .exception(_, let code): return failure(.modbusException(code))
        case .coils, .writeAcknowledged: return failure(.malformedResponse)
        }
    }
}

extension RegisterValueType {
    /// The largest value of an integer type (the "not available" marker of `.typeMaximum`); nil for floats.
    var maximumRawValue: Double? {
        switch self {
        case .u16: return Double(UInt16.max)
        case .i16: return Double(Int16.max)
        case .u32: return Double(UInt32.max)
        case .i32: return Double(Int32.max)
        case .u64: return Double(UInt64.max)
        case .i64: return Double(Int64.max)
        case .f32, .f64: return nil
        }
    }
}
