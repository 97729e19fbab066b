// TEMPORARY: replaced by the real planner from the profiles branch at merge (same API).
import ConcentratorCore

public struct ModbusReadBlock: Hashable, Sendable {
    public var function: ModbusFunction
    public var start: UInt16
    public var count: Int
    public var registers: [ModbusRegisterSpec]

    public func decode(_ words: [UInt16]) -> [QuantityValue] {
        registers.map { spec in
            let offset = Int(spec.address - start)
            do {
                let raw = try ModbusValueCodec.decode(words[offset..<(offset + spec.registerCount)], type: spec.type,
                                                      byteOrder: spec.byteOrder, wordOrder: spec.wordOrder)
                return QuantityValue(quantity: spec.quantity, value: raw * spec.scale)
            } catch {
                return QuantityValue(quantity: spec.quantity, error: .undecodableValue)
            }
        }
    }
}

public enum ModbusBlockPlanner {
    public static func plan(_ map: ModbusRegisterMap, quantities: Set<QuantityID>? = nil) -> [ModbusReadBlock] {
        let wanted = map.registers.filter { quantities?.contains($0.quantity) ?? true }
            .sorted { ($0.function.rawValue, $0.address) < ($1.function.rawValue, $1.address) }
        var blocks: [ModbusReadBlock] = []
        for spec in wanted {
            if var last = blocks.last, last.function == spec.function,
               spec.lastAddress - Int(last.start) + 1 <= min(map.maxRegistersPerRequest, 125) {
                last.count = max(last.count, spec.lastAddress - Int(last.start) + 1)
                last.registers.append(spec)
                blocks[blocks.count - 1] = last
            } else {
                blocks.append(ModbusReadBlock(function: spec.function, start: spec.address, count: spec.registerCount, registers: [spec]))
            }
        }
        return blocks
    }
}
