import ConcentratorCore
import MeterProtocols

/// How one simulated meter is set up on the line.
public struct SimulatedMeterSetup: Hashable, Sendable {
    public var address: UInt8
    public var profile: MeterProfile
    /// The meter picks its own fixed turnaround in this range (from its seed).
    public var turnaroundMilliseconds: ClosedRange<Int>

    public init(address: UInt8, profile: MeterProfile, turnaroundMilliseconds: ClosedRange<Int> = 20...60) {
        self.address = address
        self.profile = profile
        self.turnaroundMilliseconds = turnaroundMilliseconds
    }
}

/// What a meter answers to one request, and what it served (for the served log).
public struct MeterAnswer: Hashable, Sendable {
    public var response: ModbusResponsePDU
    /// The quantities in a register answer, as a client decodes them.
    public var values: [ServedValue]
}

/// One Modbus slave on the simulated line: its profile's registers filled from its value model, and
/// its breaking relay (when the profile declares one). Pure apart from the relay state it keeps:
/// time comes in with each request.
///
/// Answers: reads of declared registers (functions 3 and 4, see `RegisterBank` for the address rules);
/// read coils (1) and write single coil (5) on the relay coil; write multiple registers (16) of
/// exactly the clock's registers, when the profile declares a clock (other addresses: exception 2);
/// anything else is exception 1 (illegal function).
public struct SimulatedMeter: Sendable {
    public let address: UInt8
    public let profile: MeterProfile
    /// This meter's fixed delay between the end of a request and the start of its answer.
    public let turnaroundMilliseconds: Int
    public let model: MeterValueModel
    public private(set) var supply = SupplyLedger()
    /// How far the meter's clock is ahead of the simulator's time (negative: behind).
    public private(set) var clockOffsetMilliseconds: Int64 = 0
    /// Quantities held at a value from the control channel (`set ADDR QUANTITY VALUE`), over the model.
    public private(set) var heldValues: [QuantityID: Double] = [:]
    /// The status register's value (the profile's `status`; `status-bits ADDR RAW`).
    public var statusRaw: UInt64 = 0
    private let bank: RegisterBank?

    /// `seed` is the simulator's seed; the meter mixes in its address for its own stream.
    public init(setup: SimulatedMeterSetup, seed: UInt64) {
        address = setup.address
        profile = setup.profile
        let meterSeed = SeededRandom.mix(seed ^ (UInt64(setup.address) << 32 | 0x5EED))
        var random = SeededRandom(seed: meterSeed)
        let range = setup.turnaroundMilliseconds
        turnaroundMilliseconds = range.lowerBound + Int(random.next() % UInt64(range.upperBound - range.lowerBound + 1))
        model = MeterValueModel(seed: random.next())
        bank = setup.profile.modbus.map(RegisterBank.init(map:))
    }

    /// The relay coil, when the profile declares a breaking relay.
    public var relayCoil: UInt16? { profile.modbus?.relay?.coil }

    /// The meter's clock at `time`, when the profile declares one.
    public func meterClock(at time: Timestamp) -> Timestamp? {
        profile.modbus?.clock == nil ? nil : time.adding(milliseconds: clockOffsetMilliseconds)
    }

    /// Moves the meter's clock so that it reads `meterTime` at `time` (a technician, or a clock write).
    public mutating func setClock(_ meterTime: Timestamp, at time: Timestamp) {
        clockOffsetMilliseconds = meterTime.milliseconds - time.milliseconds
    }

    /// Every modelled quantity at `time` (what the registers would hold, before encoding).
    public func values(at time: Timestamp) -> [QuantityID: Double] {
        model.values(at: time, supply: supply).merging(heldValues) { _, held in held }
    }

    /// Holds `quantity` at `value` (a threshold crossing on demand), or releases it (nil).
    public mutating func hold(_ quantity: QuantityID, at value: Double?) { heldValues[quantity] = value }

    /// Opens or closes the breaking relay at `time`.
    public mutating func setRelay(connected: Bool, at time: Timestamp) {
        supply.setConnected(connected, at: time, shape: model.shape)
    }

    /// The answer to `request` at `time`.
    public mutating func respond(to request: ModbusRequest, at time: Timestamp) -> MeterAnswer {
        switch request.pdu {
        case .readHoldingRegisters(let start, let count):
            return readRegisters(function: 3, start: start, count: count, at: time)
        case .readInputRegisters(let start, let count):
            return readRegisters(function: 4, start: start, count: count, at: time)
        case .readCoils(let start, let count):
            guard let coil = relayCoil else { return exception(1, request) }
            guard start == coil, count == 1 else { return exception(2, request) }
            return MeterAnswer(response: .coils([supply.isConnected]), values: [])
        case .writeSingleCoil(let address, let on):
            guard let coil = relayCoil else { return exception(1, request) }
            guard address == coil else { return exception(2, request) }
            setRelay(connected: on, at: time)
            return MeterAnswer(response: .writeAcknowledged(address: address, value: on ? 0xFF00 : 0), values: [])
        case .writeMultipleRegisters(let start, let values):
            guard let clock = profile.modbus?.clock else { return exception(1, request) }
            guard start == clock.address, values.count == clock.format.registerCount, let set = clock.time(from: values) else {
                return exception(2, request)
            }
            setClock(set, at: time)
            return MeterAnswer(response: .writeAcknowledged(address: start, value: UInt16(values.count)), values: [])
        case .writeSingleRegister:
            return exception(1, request)
        }
    }

    private func readRegisters(function: UInt8, start: UInt16, count: UInt16, at time: Timestamp) -> MeterAnswer {
        guard let bank else { return MeterAnswer(response: .exception(function: function, code: 1), values: []) }
        switch bank.slots(function: function, start: start, count: count) {
        case .failure(.illegalAddress):
            return MeterAnswer(response: .exception(function: function, code: 2), values: [])
        case .failure(.illegalValue):
            return MeterAnswer(response: .exception(function: function, code: 3), values: [])
        case .success(let slots):
            let now = values(at: time)
            var registers = [UInt16](repeating: 0, count: Int(count))
            var served: [ServedValue] = []
            for slot in slots {
                let words: [UInt16]
                switch slot.content {
                case .quantity(let spec):
                    let encoded = spec.encodeServed(now[spec.quantity] ?? 0)
                    words = encoded.registers
                    served.append(ServedValue(quantity: spec.quantity, value: encoded.served))
                case .identification(let value, let id):
                    words = ModbusValueCodec.encode(value, type: id.type, byteOrder: id.byteOrder, wordOrder: id.wordOrder)
                case .clock(let clock):
                    words = clock.registers(for: time.adding(milliseconds: clockOffsetMilliseconds))
                case .status(let spec):
                    words = spec.type.registerCount == 2 ? [UInt16(truncatingIfNeeded: statusRaw >> 16), UInt16(truncatingIfNeeded: statusRaw)]
                        : [UInt16(truncatingIfNeeded: statusRaw)]
                }
                registers.replaceSubrange((slot.first - Int(start))..<(slot.first - Int(start) + slot.count), with: words)
            }
            return MeterAnswer(response: .registers(registers), values: served)
        }
    }

    private func exception(_ code: UInt8, _ request: ModbusRequest) -> MeterAnswer {
        MeterAnswer(response: .exception(function: request.pdu.function, code: code), values: [])
    }
}
