/// A meter model's description: which protocol it speaks and how to read each quantity.
/// Profiles are JSON data files (`Profiles/*.json`), loaded by `MeterProfileLoader`.
/// One protocol-specific section is set, matching `protocolKind`.
public struct MeterProfile: Hashable, Sendable {
    /// Stable identifier used by configs, e.g. `eastron-sdm630`.
    public var id: String
    /// Human name, e.g. "Eastron SDM630 Modbus V2".
    public var name: String
    public var manufacturer: String
    /// The public vendor document the register addresses come from.
    public var source: String
    public var protocolKind: MeterProtocolKind
    public var modbus: ModbusRegisterMap?
    /// The DLMS/COSEM description (MeterProfile+DLMS.swift), when `protocolKind` is `dlms`.
    public var dlms: DLMSProfileSection?
    /// The IEC 62056-21 description (protocol `iec62056-21`), MeterProfile+IEC.swift.
    public var iec: IECProfile?
    /// The `mbus` or `wmbus` section (wired and wireless M-Bus share its form).
    public var mbus: MBusRecordMap?

    public init(id: String, name: String, manufacturer: String, source: String, protocolKind: MeterProtocolKind,
                modbus: ModbusRegisterMap? = nil, iec: IECProfile? = nil, mbus: MBusRecordMap? = nil) {
        self.id = id
        self.name = name
        self.manufacturer = manufacturer
        self.source = source
        self.protocolKind = protocolKind
        self.modbus = modbus
        self.iec = iec
        self.mbus = mbus
    }

    /// Every quantity this profile can read, in profile order.
    public var quantities: [QuantityID] {
        modbus?.registers.map(\.quantity) ?? dlms?.objects.map(\.quantity) ?? iec?.registers.map(\.quantity)
            ?? mbus?.quantities ?? []
    }

    /// The named status flags this profile can read (empty without a status input): the Modbus
    /// status register's bits, the DLMS alarm register's bits or the IEC 62056-21 error code's bits.
    public var statusFlags: [String] { statusBits.map(\.name) }

    /// Whether the meter has a switchable supply: a Modbus relay coil or a DLMS disconnect control (class 70).
    public var hasRelay: Bool { modbus?.relay != nil || dlms?.disconnectControl != nil }

    /// The quantities that go into the short load profile (15-minute series).
    public var profileQuantities: [QuantityID] {
        modbus?.registers.filter(\.inLoadProfile).map(\.quantity) ?? dlms?.objects.filter(\.inLoadProfile).map(\.quantity)
            ?? iec?.loadProfile?.channels.map(\.quantity)
            ?? mbus.map { m in m.quantities.filter { q in m.records.contains { $0.quantity == q && $0.inLoadProfile } } } ?? []
    }
}

/// Modbus function codes used for reading and writing meter data.
public enum ModbusFunction: UInt8, Hashable, Sendable, Codable {
    case readCoils = 1
    case readHoldingRegisters = 3
    case readInputRegisters = 4
    case writeSingleCoil = 5
    case writeSingleRegister = 6
    case writeMultipleRegisters = 16
}

/// How a register's value is laid out.
public enum RegisterValueType: String, Hashable, Sendable, Codable, CaseIterable {
    case u16, i16, u32, i32, u64, i64, f32, f64

    /// Number of 16-bit registers the value occupies.
    public var registerCount: Int {
        switch self {
        case .u16, .i16: return 1
        case .u32, .i32, .f32: return 2
        case .u64, .i64, .f64: return 4
        }
    }
}

/// Byte order inside each 16-bit register. Modbus is big-endian; a few devices swap bytes.
public enum RegisterByteOrder: String, Hashable, Sendable, Codable {
    case big, little
}

/// Order of the 16-bit registers of a multi-register value. `big`: most significant register at the
/// lowest address (the Modbus convention, "ABCD"); `little`: least significant first ("CDAB").
public enum RegisterWordOrder: String, Hashable, Sendable, Codable {
    case big, little
}

/// One quantity's location in a Modbus meter.
public struct ModbusRegisterSpec: Hashable, Sendable {
    public var quantity: QuantityID
    public var function: ModbusFunction
    public var address: UInt16
    public var type: RegisterValueType
    public var byteOrder: RegisterByteOrder
    public var wordOrder: RegisterWordOrder
    /// Multiplier from the raw number to the catalog unit (0.001 turns Wh into kWh).
    public var scale: Double
    /// The unit after scaling; must equal the quantity's catalog unit.
    public var unit: MeasurementUnit
    /// Whether this quantity is also recorded in the short load profile.
    public var inLoadProfile: Bool

    public init(quantity: QuantityID, function: ModbusFunction, address: UInt16, type: RegisterValueType,
                byteOrder: RegisterByteOrder = .big, wordOrder: RegisterWordOrder = .big, scale: Double = 1,
                unit: MeasurementUnit, inLoadProfile: Bool = false) {
        self.quantity = quantity
        self.function = function
        self.address = address
        self.type = type
        self.byteOrder = byteOrder
        self.wordOrder = wordOrder
        self.scale = scale
        self.unit = unit
        self.inLoadProfile = inLoadProfile
    }

    public var registerCount: Int { type.registerCount }

    /// The value in catalog units for a raw register number. A scale of 10^-k divides by 10^k, so
    /// that 2302 × 0.1 gives 230.2 rather than 230.20000000000002 (the archive and exports show
    /// clean decimals). Meters and the simulator both go through here.
    public func value(fromRaw raw: Double) -> Double {
        if scale < 1, scale > 0 {
            let inverse = (1 / scale).rounded()
            if abs(inverse * scale - 1) < 1e-12 { return raw / inverse }
        }
        return raw * scale
    }

    /// The raw register number for a value in catalog units (the inverse of `value(fromRaw:)`).
    public func raw(fromValue value: Double) -> Double {
        if scale < 1, scale > 0 {
            let inverse = (1 / scale).rounded()
            if abs(inverse * scale - 1) < 1e-12 { return value * inverse }
        }
        return value / scale
    }

    /// The last register address the value occupies.
    public var lastAddress: Int { Int(address) + registerCount - 1 }
}

/// A range of register addresses a meter cannot read (it answers with an exception, or garbage).
/// Block reads never span a gap.
public struct ModbusRegisterGap: Hashable, Sendable {
    public var function: ModbusFunction
    public var first: UInt16
    public var last: UInt16

    public init(function: ModbusFunction, first: UInt16, last: UInt16) {
        self.function = function
        self.first = first
        self.last = last
    }
}

/// How a bus scan recognises this meter model: read one register and check the answer.
public struct ModbusIdentification: Hashable, Sendable {
    public var function: ModbusFunction
    public var address: UInt16
    public var type: RegisterValueType
    public var byteOrder: RegisterByteOrder
    public var wordOrder: RegisterWordOrder
    /// The model fits if the raw value equals one of these (model or type codes) ...
    public var expectedValues: [Double]
    /// ... or, when no codes are given, lies in this range (for example a frequency register).
    public var plausibleRange: ClosedRange<Double>?

    public init(function: ModbusFunction, address: UInt16, type: RegisterValueType, byteOrder: RegisterByteOrder = .big,
                wordOrder: RegisterWordOrder = .big, expectedValues: [Double] = [], plausibleRange: ClosedRange<Double>? = nil) {
        self.function = function
        self.address = address
        self.type = type
        self.byteOrder = byteOrder
        self.wordOrder = wordOrder
        self.expectedValues = expectedValues
        self.plausibleRange = plausibleRange
    }
}

/// A breaking relay (load switch) reachable over Modbus.
public struct ModbusRelaySpec: Hashable, Sendable {
    /// The coil that is ON when the relay is connected.
    public var coil: UInt16

    public init(coil: UInt16) { self.coil = coil }
}

/// A meter clock reachable over Modbus: readable with function 3 and settable with function 16.
public struct ModbusClockSpec: Hashable, Sendable {
    /// How the clock is laid out in its registers.
    public enum Format: String, Hashable, Sendable, CaseIterable {
        /// Seconds since 1970-01-01T00:00:00Z (UTC) as an unsigned 32-bit number in two holding
        /// registers, most significant register first; set by writing both with function 16.
        case unixSecondsU32 = "unix-seconds-u32"

        /// Registers the clock occupies.
        public var registerCount: Int { 2 }
    }

    /// The first holding register of the clock.
    public var address: UInt16
    public var format: Format

    public init(address: UInt16, format: Format = .unixSecondsU32) {
        self.address = address
        self.format = format
    }

    /// The last register the clock occupies.
    public var lastAddress: Int { Int(address) + format.registerCount - 1 }

    /// The register words that set the clock to `time` (seconds, truncated; before 1970 or after
    /// 2106 the value is clamped to the format's range).
    public func registers(for time: Timestamp) -> [UInt16] {
        let seconds = UInt32(clamping: max(0, time.seconds))
        return [UInt16(seconds >> 16), UInt16(seconds & 0xFFFF)]
    }

    /// The time the clock registers hold.
    public func time(from registers: [UInt16]) -> Timestamp? {
        guard registers.count == format.registerCount else { return nil }
        return Timestamp(seconds: Int64(UInt32(registers[0]) << 16 | UInt32(registers[1])))
    }
}

/// How a meter says "this quantity is not available" inside a valid answer.
public enum ModbusNotAvailableMarker: String, Hashable, Sendable, CaseIterable {
    /// Every raw value is a reading (floats still turn NaN and infinity into errors).
    case noMarker = "none"
    /// The largest value of the register type means "not available": 0xFFFF… for unsigned and
    /// 0x7FFF… for signed integers (ABB's convention).
    case typeMaximum
}

/// The complete Modbus description of a meter model.
public struct ModbusRegisterMap: Hashable, Sendable {
    /// The largest number of registers the meter returns in one request (≤125 by the standard).
    public var maxRegistersPerRequest: Int
    public var gaps: [ModbusRegisterGap]
    public var registers: [ModbusRegisterSpec]
    public var identification: ModbusIdentification?
    public var relay: ModbusRelaySpec?
    /// The meter's clock, when it can be read and set over Modbus.
    public var clock: ModbusClockSpec?
    /// Raw values that mean "not available" rather than a reading.
    public var notAvailableMarker: ModbusNotAvailableMarker
    /// A status register whose bits are named flags (tamper, cover open, power fail, error), the
    /// boolean inputs of `flag` and `mains-absence` alarm rules.
    public var status: ModbusStatusSpec?

    public init(maxRegistersPerRequest: Int = 125, gaps: [ModbusRegisterGap] = [], registers: [ModbusRegisterSpec],
                identification: ModbusIdentification? = nil, relay: ModbusRelaySpec? = nil, clock: ModbusClockSpec? = nil,
                notAvailableMarker: ModbusNotAvailableMarker = .noMarker, status: ModbusStatusSpec? = nil) {
        self.status = status
        self.maxRegistersPerRequest = maxRegistersPerRequest
        self.gaps = gaps
        self.registers = registers
        self.identification = identification
        self.relay = relay
        self.clock = clock
        self.notAvailableMarker = notAvailableMarker
    }
}

/// A Modbus status register (function 3 or 4, 16 or 32 bits) whose bits are named boolean inputs,
/// e.g. bit 0 `tamper`, bit 3 `cover_open`, bit 5 `power_fail`. Generic on purpose: the DLMS alarm
/// register (`DLMSAlarmRegisterSpec`) and the IEC 62056-21 error code (`IECErrorCodeSpec`) name flags the same way.
public struct ModbusStatusSpec: Hashable, Sendable {
    /// One named bit; bit 0 is the least significant.
    public struct Bit: Hashable, Sendable {
        public var name: String
        public var bit: Int

        public init(name: String, bit: Int) {
            self.name = name
            self.bit = bit
        }
    }

    public var function: ModbusFunction
    public var address: UInt16
    /// `u16` or `u32` (two registers, the map's word order is big-endian).
    public var type: RegisterValueType
    public var bits: [Bit]

    public init(function: ModbusFunction, address: UInt16, type: RegisterValueType = .u16, bits: [Bit]) {
        self.function = function
        self.address = address
        self.type = type
        self.bits = bits
    }

    /// The flags a raw register value holds, by name.
    public func flags(fromRaw raw: UInt64) -> [String: Bool] { bits.flags(fromRaw: raw) }
}
