import ConcentratorCore
import MeterProtocols

/// The Modbus register layout of one meter model, built from its profile: which addresses hold which
/// quantity, and which reads the meter refuses.
///
/// Read rules (the simulator's contract with the bus driver's block planner):
/// - a read must lie within the span of the registers the profile declares for that function,
///   must not touch a declared gap, and must not start or end inside a multi-register value —
///   otherwise exception 2 (illegal data address);
/// - more registers than `maxRegistersPerRequest` — exception 3 (illegal data value);
/// - addresses inside the span that no register uses read as 0x0000, as on most meters.
struct RegisterBank: Sendable {
    /// What a run of registers holds.
    enum Content: Hashable, Sendable {
        case quantity(ModbusRegisterSpec)
        /// The model-identification register, when no quantity shares its address: a fixed number.
        case identification(Double, ModbusIdentification)
        /// The meter's clock (holding registers, settable with function 16).
        case clock(ModbusClockSpec)
        /// The status register (named flag bits), set from the control channel.
        case status(ModbusStatusSpec)
    }

    struct Slot: Hashable, Sendable {
        let first: Int
        let count: Int
        let content: Content
        var last: Int { first + count - 1 }
    }

    /// A read that the meter answers with a Modbus exception.
    enum Refusal: Error, Hashable {
        case illegalAddress
        case illegalValue
    }

    private let slots: [UInt8: [Slot]]
    private let gaps: [ModbusRegisterGap]
    let maxRegistersPerRequest: Int

    init(map: ModbusRegisterMap) {
        var slots: [UInt8: [Slot]] = [:]
        func overlaps(_ first: Int, _ count: Int, _ function: UInt8) -> Bool {
            slots[function, default: []].contains { $0.first <= first + count - 1 && first <= $0.last }
        }
        for spec in map.registers where !overlaps(Int(spec.address), spec.registerCount, spec.function.rawValue) {
            slots[spec.function.rawValue, default: []].append(Slot(first: Int(spec.address), count: spec.registerCount,
                                                                    content: .quantity(spec)))
        }
        if let id = map.identification, !overlaps(Int(id.address), id.type.registerCount, id.function.rawValue) {
            let value = id.expectedValues.first ?? id.plausibleRange.map { ($0.lowerBound + $0.upperBound) / 2 } ?? 0
            slots[id.function.rawValue, default: []].append(Slot(first: Int(id.address), count: id.type.registerCount,
                                                                  content: .identification(value, id)))
        }
        if let clock = map.clock, !overlaps(Int(clock.address), clock.format.registerCount, 3) {
            slots[3, default: []].append(Slot(first: Int(clock.address), count: clock.format.registerCount, content: .clock(clock)))
        }
        if let status = map.status, !overlaps(Int(status.address), status.type.registerCount, status.function.rawValue) {
            slots[status.function.rawValue, default: []].append(Slot(first: Int(status.address), count: status.type.registerCount,
                                                                      content: .status(status)))
        }
        self.slots = slots.mapValues { $0.sorted { $0.first < $1.first } }
        gaps = map.gaps
        maxRegistersPerRequest = map.maxRegistersPerRequest
    }

    /// The slots a read of `count` registers from `start` returns, or why the meter refuses it.
    func slots(function: UInt8, start: UInt16, count: UInt16) -> Result<[Slot], Refusal> {
        guard Int(count) <= maxRegistersPerRequest else { return .failure(.illegalValue) }
        guard let all = slots[function], let low = all.first?.first, let high = all.map(\.last).max() else {
            return .failure(.illegalAddress)
        }
        let first = Int(start), last = Int(start) + Int(count) - 1
        guard first >= low, last <= high else { return .failure(.illegalAddress) }
        for gap in gaps where gap.function.rawValue == function && Int(gap.first) <= last && first <= Int(gap.last) {
            return .failure(.illegalAddress)
        }
        var inside: [Slot] = []
        for slot in all where slot.first <= last && first <= slot.last {
            guard slot.first >= first, slot.last <= last else { return .failure(.illegalAddress) }
            inside.append(slot)
        }
        return .success(inside)
    }
}

/// One quantity as a meter served it: the number a correct client decodes from the registers.
public struct ServedValue: Hashable, Sendable {
    public var quantity: QuantityID
    public var value: Double

    public init(quantity: QuantityID, value: Double) {
        self.quantity = quantity
        self.value = value
    }
}

extension ModbusRegisterSpec {
    /// The registers that carry `value` (in the catalog unit) and the value a client decodes from them:
    /// `value(fromRaw: decode(registers))`, so f32 rounding and integer scaling are included.
    func encodeServed(_ value: Double) -> (registers: [UInt16], served: Double) {
        let registers = ModbusValueCodec.encode(self.raw(fromValue: value), type: type, byteOrder: byteOrder, wordOrder: wordOrder)
        let raw = (try? ModbusValueCodec.decode(registers, type: type, byteOrder: byteOrder, wordOrder: wordOrder)) ?? 0
        return (registers, self.value(fromRaw: raw))
    }
}
