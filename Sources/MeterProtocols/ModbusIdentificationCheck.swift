import ConcentratorCore

extension ModbusIdentification {
    /// The single read a bus scan sends to check this model at `slave`.
    public func request(slave: UInt8) -> ModbusRequest {
        let count = UInt16(type.registerCount)
        switch function {
        case .readInputRegisters: return ModbusRequest(slave: slave, pdu: .readInputRegisters(start: address, count: count))
        default: return ModbusRequest(slave: slave, pdu: .readHoldingRegisters(start: address, count: count))
        }
    }

    /// Whether the registers answered to `request(slave:)` fit this model: the raw value equals one
    /// of `expectedValues`, or (when none are given) lies in `plausibleRange`. Pure; false for
    /// anything that does not decode.
    public func matches(_ words: [UInt16]) -> Bool {
        guard let raw = try? ModbusValueCodec.decode(words, type: type, byteOrder: byteOrder, wordOrder: wordOrder) else {
            return false
        }
        if !expectedValues.isEmpty { return expectedValues.contains(raw) }
        return plausibleRange?.contains(raw) ?? false
    }
}
