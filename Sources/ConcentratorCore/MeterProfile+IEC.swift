/// The IEC 62056-21 description of a meter model: how to sign on, which readout lines carry which
/// quantity, the clock, the P.01 load profile and programming mode. Loaded from the `iec` section of
/// a profile (`MeterProfileLoader`, Docs/profiles.md). The programming password is never here: a
/// profile names it by `passwordID`; the secret comes from the meter's key file.
public struct IECProfile: Hashable, Sendable {
    /// The protocol mode the model speaks after a sign-on.
    public var mode: IECProfileMode
    /// Further modes a meter of this model may identify with (an older firmware in mode B, a meter
    /// set to a fixed rate in mode A); any other mode is an error.
    public var fallbackModes: [IECProfileMode]
    /// The rate of the sign-on (300 by the standard; some meters open at 9600).
    public var signOnBaud: Int
    /// The highest rate to switch to, below what the meter proposes when the line needs it.
    public var maximumBaud: Int
    /// What the model accepts as device address.
    public var deviceAddress: IECDeviceAddressRule
    /// The expected identification (manufacturer and the start of the ident), for scans.
    public var identification: IECIdentificationPattern?
    /// The key id of the programming-mode password (P1) in the meter's key file; nil when the
    /// model needs none or programming is not used.
    public var passwordID: String?
    /// Readout lines and the quantities they carry.
    public var registers: [IECRegisterSpec]
    public var clock: IECClockSpec?
    public var loadProfile: IECLoadProfileSpec?
    /// The error-code line whose named bits feed alarm rules (MeterStatusInputs.swift).
    public var errorCode: IECErrorCodeSpec?
    /// Captured or documented answers and the values they must decode to (one generic test runs them).
    public var testVectors: [IECTestVector]

    public init(mode: IECProfileMode = .c, fallbackModes: [IECProfileMode] = [], signOnBaud: Int = 300, maximumBaud: Int = 9600,
                deviceAddress: IECDeviceAddressRule = IECDeviceAddressRule(), identification: IECIdentificationPattern? = nil,
                passwordID: String? = nil, registers: [IECRegisterSpec], clock: IECClockSpec? = nil,
                loadProfile: IECLoadProfileSpec? = nil, errorCode: IECErrorCodeSpec? = nil, testVectors: [IECTestVector] = []) {
        self.errorCode = errorCode
        self.mode = mode
        self.fallbackModes = fallbackModes
        self.signOnBaud = signOnBaud
        self.maximumBaud = maximumBaud
        self.deviceAddress = deviceAddress
        self.identification = identification
        self.passwordID = passwordID
        self.registers = registers
        self.clock = clock
        self.loadProfile = loadProfile
        self.testVectors = testVectors
    }

    /// The mode first, then the fallbacks.
    public var acceptedModes: [IECProfileMode] { [mode] + fallbackModes.filter { $0 != mode } }
}

/// IEC 62056-21 protocol modes a profile can name.
public enum IECProfileMode: String, Hashable, Sendable, CaseIterable {
    case a = "A", b = "B", c = "C"
}

/// What a model accepts as device address in the request message.
public struct IECDeviceAddressRule: Hashable, Sendable {
    /// The longest address the model stores (the standard allows 32).
    public var maximumLength: Int
    /// True for models that answer every sign-on whatever the address (point-to-point only: two on
    /// one line collide).
    public var answersAnyAddress: Bool

    public init(maximumLength: Int = 32, answersAnyAddress: Bool = false) {
        self.maximumLength = maximumLength
        self.answersAnyAddress = answersAnyAddress
    }
}

/// The identification a meter of this model sends: `/` + manufacturer + baud character + ident.
public struct IECIdentificationPattern: Hashable, Sendable {
    /// Three characters, compared exactly (case matters: it sets the reaction time).
    public var manufacturer: String
    /// The ident starts with this (after any `\W` escapes).
    public var identPrefix: String

    public init(manufacturer: String, identPrefix: String) {
        self.manufacturer = manufacturer
        self.identPrefix = identPrefix
    }
}

/// One readout line: the OBIS code the meter prints, the quantity it is, the unit the meter sends and
/// the factor to the quantity's catalog unit.
public struct IECRegisterSpec: Hashable, Sendable {
    /// As printed by the meter (`1.8.0`, `1-0:32.7.0*255`, `C.1.0`); matched by `OBISCode.matches`.
    public var obis: String
    public var quantity: QuantityID
    /// The unit the meter sends after `*` (`kWh`, `kW`, `V`); "" when it sends none.
    public var unit: String
    /// Multiplier from the meter's number to the catalog unit (1000 for kW → W).
    public var scale: Double

    public init(obis: String, quantity: QuantityID, unit: String, scale: Double = 1) {
        self.obis = obis
        self.quantity = quantity
        self.unit = unit
        self.scale = scale
    }

    /// The value in catalog units for the meter's number, dividing by 10^k for a scale of 10^-k so
    /// that decimals stay clean (as `ModbusRegisterSpec.value(fromRaw:)`).
    public func value(fromMeter number: Double) -> Double { IECUnitConversion.apply(scale, to: number) }

    /// The number the meter prints for a value in catalog units.
    public func meterNumber(fromValue value: Double) -> Double { IECUnitConversion.apply(1 / scale, to: value) }
}

/// Units meters send, and their factor to a catalog unit.
public enum IECUnitConversion {
    /// (meter unit, catalog unit, factor): a number in the meter unit × factor = the catalog value.
    static let table: [(String, MeasurementUnit, Double)] = [
        ("kW", .watt, 1000), ("MW", .watt, 1_000_000), ("kvar", .voltAmpereReactive, 1000),
        ("Mvar", .voltAmpereReactive, 1_000_000), ("kVA", .voltAmpere, 1000), ("MVA", .voltAmpere, 1_000_000),
        ("Wh", .kilowattHour, 0.001), ("MWh", .kilowattHour, 1000), ("varh", .kilovarHour, 0.001),
        ("Mvarh", .kilovarHour, 1000), ("VAh", .kilovoltAmpereHour, 0.001), ("MVAh", .kilovoltAmpereHour, 1000),
        ("kV", .volt, 1000), ("mA", .ampere, 0.001), ("kA", .ampere, 1000),
    ]

    /// The factor from `meterUnit` to `catalog`: 1 when they are the same, nil when the table has
    /// no conversion. Case matters (MW is not mW) except in reactive units, which meters spell in
    /// several ways (kvarh, kVArh, KVARH).
    public static func factor(from meterUnit: String, to catalog: MeasurementUnit) -> Double? {
        let key = normalized(meterUnit)
        if key == normalized(catalog.rawValue) { return 1 }
        for (unit, target, factor) in table where target == catalog && normalized(unit) == key { return factor }
        return nil
    }

    static func normalized(_ unit: String) -> String { unit.lowercased().contains("var") ? unit.lowercased() : unit }

    /// `number` × `factor`, dividing by 1/factor when that is a whole number (clean decimals).
    public static func apply(_ factor: Double, to number: Double) -> Double {
        if factor < 1, factor > 0 {
            let inverse = (1 / factor).rounded()
            if abs(inverse * factor - 1) < 1e-12 { return number / inverse }
        }
        return number * factor
    }
}

/// Where the meter's clock is: readout lines (and programming-mode reads) for time and date, the
/// formats, and how programming mode writes them.
public struct IECClockSpec: Hashable, Sendable {
    public var timeOBIS: String
    public var dateOBIS: String
    public var timeFormat: IECTimeFormat
    public var dateFormat: IECDateFormat
    /// The write command of programming mode (`W1` for most, `W5` for OBIS-addressed writes); nil
    /// when the clock cannot be set over IEC 62056-21.
    public var writeCommand: IECCommandType?

    public init(timeOBIS: String = "0.9.1", dateOBIS: String = "0.9.2", timeFormat: IECTimeFormat = .hhmmss,
                dateFormat: IECDateFormat = .yymmdd, writeCommand: IECCommandType? = .w1) {
        self.timeOBIS = timeOBIS
        self.dateOBIS = dateOBIS
        self.timeFormat = timeFormat
        self.dateFormat = dateFormat
        self.writeCommand = writeCommand
    }
}

/// How a meter prints the time of day.
public enum IECTimeFormat: String, Hashable, Sendable, CaseIterable {
    case hhmmss
    case colons = "hh:mm:ss"
    /// VDEW: a season digit (0 standard time, 1 summer time, 2 UTC), then hhmmss.
    case seasonHHMMSS = "Zhhmmss"
}

/// How a meter prints the date.
public enum IECDateFormat: String, Hashable, Sendable, CaseIterable {
    case yymmdd = "YYMMDD"
    case dashes = "YY-MM-DD"
    /// VDEW: a season digit, then YYMMDD.
    case seasonYYMMDD = "ZYYMMDD"
}

/// Programming-mode commands a profile may name (IEC 62056-21, 6.3: command message identifier and command type).
public enum IECCommandType: String, Hashable, Sendable, CaseIterable {
    case r1 = "R1", r2 = "R2", r5 = "R5", r6 = "R6", w1 = "W1", w2 = "W2", w5 = "W5"
}

/// The P.01 load profile as the model offers it.
public struct IECLoadProfileSpec: Hashable, Sendable {
    /// The profile's code in the read command (`P.01`).
    public var obis: String
    /// The read command (`R5` for EMH/VDEW meters).
    public var readCommand: IECCommandType
    /// How the from/to range is written inside `P.01(from;to)`.
    public var rangeFormat: IECRangeFormat
    /// The capture period the meter is set to, in minutes (the header says it too).
    public var periodMinutes: Int
    public var channels: [IECProfileChannelSpec]

    public init(obis: String = "P.01", readCommand: IECCommandType = .r5, rangeFormat: IECRangeFormat = .seasonYYMMDDhhmm,
                periodMinutes: Int = 15, channels: [IECProfileChannelSpec]) {
        self.obis = obis
        self.readCommand = readCommand
        self.rangeFormat = rangeFormat
        self.periodMinutes = periodMinutes
        self.channels = channels
    }
}

/// How the range of a P.01 read is written.
public enum IECRangeFormat: String, Hashable, Sendable, CaseIterable {
    /// VDEW/EMH: season digit + YYMMDDhhmm, e.g. `P.01(01301310800;01302010800)`.
    case seasonYYMMDDhhmm = "ZYYMMDDhhmm"
    /// YYMMDDhhmm without the season digit.
    case yymmddhhmm = "YYMMDDhhmm"
    /// `YY-MM-DD,hh:mm`.
    case dashesComma = "YY-MM-DD,hh:mm"
}

/// One channel of the P.01 profile and the quantity it feeds.
public struct IECProfileChannelSpec: Hashable, Sendable {
    /// The channel's code as the header lists it (`1.5.0`, `1.29.0`, `1-0:1.8.0`).
    public var obis: String
    public var quantity: QuantityID
    /// The unit the header gives for the channel.
    public var unit: String
    public var scale: Double
    public var kind: IECProfileValueKind

    public init(obis: String, quantity: QuantityID, unit: String, scale: Double = 1, kind: IECProfileValueKind) {
        self.obis = obis
        self.quantity = quantity
        self.unit = unit
        self.scale = scale
        self.kind = kind
    }
}

/// What one P.01 value is.
public enum IECProfileValueKind: String, Hashable, Sendable, CaseIterable {
    /// The register reading at the end of the period (`1.8.0`).
    case counter
    /// The energy of the period alone (`1.29.0`).
    case delta
    /// The mean demand over the period (`1.5.0`).
    case average
}

/// A captured or documented answer of this model and what it must decode to.
public struct IECTestVector: Hashable, Sendable {
    /// Where the bytes come from (document and section, or the capture).
    public var source: String
    /// The identification line (with CR LF).
    public var identification: String?
    /// A readout data message (STX … ! CR LF ETX BCC), exactly as sent.
    public var readout: String?
    /// A P.01 answer (STX … ETX BCC), exactly as sent.
    public var loadProfile: String?
    /// Quantity → value in catalog units that the readout must give.
    public var values: [QuantityID: Double]
    /// The meter clock the readout carries, `YYYY-MM-DD hh:mm:ss` (`CivilDateTime.description`).
    public var meterClock: String?
    /// For a load profile: the number of entries and the first entry's values per quantity.
    public var profileEntries: Int?
    public var firstEntry: [QuantityID: Double]

    public init(source: String, identification: String? = nil, readout: String? = nil, loadProfile: String? = nil,
                values: [QuantityID: Double] = [:], meterClock: String? = nil, profileEntries: Int? = nil,
                firstEntry: [QuantityID: Double] = [:]) {
        self.source = source
        self.identification = identification
        self.readout = readout
        self.loadProfile = loadProfile
        self.values = values
        self.meterClock = meterClock
        self.profileEntries = profileEntries
        self.firstEntry = firstEntry
    }
}
