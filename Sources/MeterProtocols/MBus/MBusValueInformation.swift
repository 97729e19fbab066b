import ConcentratorCore

/// The physical unit of a decoded M-Bus value, after the VIF's exponent and time unit are applied.
public enum MBusUnit: String, Hashable, Sendable {
    case wattHour = "Wh"
    case joule = "J"
    case cubicMetre = "m3"
    case kilogram = "kg"
    case second = "s"
    case watt = "W"
    case joulePerHour = "J/h"
    case cubicMetrePerHour = "m3/h"
    case kilogramPerHour = "kg/h"
    case degreeCelsius = "°C"
    case kelvin = "K"
    case degreeFahrenheit = "°F"
    case bar
    case volt = "V"
    case ampere = "A"
    case feetCubed = "ft3"
    case americanGallon = "gal"
    case currency
    case none = ""
}

/// What the VIF and VIFEs of one record say: the value kind, its unit and the factor from the raw
/// number to that unit (10^exponent, times 60/3600/86400 for minutes, hours, days).
public struct MBusValueDescription: Hashable, Sendable {
    public var kind: MBusValueKind
    public var unit: MBusUnit
    public var factor: Double
    /// The unit text of a plain-text VIF (VIF 7C/FC), as sent (reversed back into reading order).
    public var plainTextUnit: String?
    /// Combinable VIFEs other than corrections (per hour, start date of, limit values, …): the
    /// record is a variant of `kind`, so profiles match it by its bytes only.
    public var modifiers: [UInt8]
    /// VIFE error code (EN 13757-3 table 16) when the slave flags this record, else nil.
    public var recordError: UInt8?
    /// Set after a 7F/FF VIFE: what follows in this record is manufacturer specific.
    public var manufacturerSpecificExtension: Bool

    public init(kind: MBusValueKind, unit: MBusUnit = .none, factor: Double = 1) {
        self.kind = kind
        self.unit = unit
        self.factor = factor
        plainTextUnit = nil
        modifiers = []
        recordError = nil
        manufacturerSpecificExtension = false
    }

    /// Whether a value-kind rule may match this record (no modifier changes its meaning).
    public var isPlain: Bool { modifiers.isEmpty && recordError == nil && !manufacturerSpecificExtension }
}

/// The VIF tables of EN 13757-3 (table 12 primary, table 14 0xFD, table 13 0xFB, table 15
/// combinable VIFEs). Pure lookups.
enum MBusVIFTable {
    static func power10(_ e: Int) -> Double {
        var r = 1.0
        if e >= 0 { for _ in 0..<e { r *= 10 } } else { for _ in 0..<(-e) { r /= 10 } }
        return r
    }

    /// s, min, h, d for the two low bits of the duration VIFs.
    static func timeFactor(_ nn: UInt8) -> Double { [1, 60, 3600, 86400][Int(nn & 3)] }

    /// The primary VIF (extension bit removed), for 0x00–0x7A and 0x7E.
    static func primary(_ vif: UInt8) -> MBusValueDescription {
        let v = vif & 0x7F
        let n = Int(v & 0x07)
        switch v {
        case 0x00...0x07: return .init(kind: .energy, unit: .wattHour, factor: power10(n - 3))
        case 0x08...0x0F: return .init(kind: .energy, unit: .joule, factor: power10(n))
        case 0x10...0x17: return .init(kind: .volume, unit: .cubicMetre, factor: power10(n - 6))
        case 0x18...0x1F: return .init(kind: .mass, unit: .kilogram, factor: power10(n - 3))
        case 0x20...0x23: return .init(kind: .onTime, unit: .second, factor: timeFactor(v))
        case 0x24...0x27: return .init(kind: .operatingTime, unit: .second, factor: timeFactor(v))
        case 0x28...0x2F: return .init(kind: .power, unit: .watt, factor: power10(n - 3))
        case 0x30...0x37: return .init(kind: .power, unit: .joulePerHour, factor: power10(n))
        case 0x38...0x3F: return .init(kind: .volumeFlow, unit: .cubicMetrePerHour, factor: power10(n - 6))
        case 0x40...0x47: return .init(kind: .volumeFlow, unit: .cubicMetrePerHour, factor: power10(n - 7) * 60)
        case 0x48...0x4F: return .init(kind: .volumeFlow, unit: .cubicMetrePerHour, factor: power10(n - 9) * 3600)
        case 0x50...0x57: return .init(kind: .massFlow, unit: .kilogramPerHour, factor: power10(n - 3))
        case 0x58...0x5B: return .init(kind: .flowTemperature, unit: .degreeCelsius, factor: power10(Int(v & 3) - 3))
        case 0x5C...0x5F: return .init(kind: .returnTemperature, unit: .degreeCelsius, factor: power10(Int(v & 3) - 3))
        case 0x60...0x63: return .init(kind: .temperatureDifference, unit: .kelvin, factor: power10(Int(v & 3) - 3))
        case 0x64...0x67: return .init(kind: .externalTemperature, unit: .degreeCelsius, factor: power10(Int(v & 3) - 3))
        case 0x68...0x6B: return .init(kind: .pressure, unit: .bar, factor: power10(Int(v & 3) - 3))
        case 0x6C: return .init(kind: .date)
        case 0x6D: return .init(kind: .dateTime)
        case 0x6E: return .init(kind: .hcaUnits)
        case 0x70...0x73: return .init(kind: .averagingDuration, unit: .second, factor: timeFactor(v))
        case 0x74...0x77: return .init(kind: .actualityDuration, unit: .second, factor: timeFactor(v))
        case 0x78: return .init(kind: .fabricationNumber)
        case 0x79: return .init(kind: .enhancedIdentification)
        case 0x7A: return .init(kind: .busAddress)
        default: return .init(kind: .unknown)
        }
    }

    /// The second VIF byte after 0xFD (extension bit removed).
    static func extendedFD(_ vif: UInt8) -> MBusValueDescription {
        let v = vif & 0x7F
        switch v {
        case 0x00...0x03: return .init(kind: .credit, unit: .currency, factor: power10(Int(v & 3) - 3))
        case 0x04...0x07: return .init(kind: .debit, unit: .currency, factor: power10(Int(v & 3) - 3))
        case 0x08: return .init(kind: .accessNumber)
        case 0x09: return .init(kind: .medium)
        case 0x0A: return .init(kind: .manufacturer)
        case 0x0B: return .init(kind: .parameterSet)
        case 0x0C: return .init(kind: .modelVersion)
        case 0x0D: return .init(kind: .hardwareVersion)
        case 0x0E: return .init(kind: .firmwareVersion)
        case 0x0F: return .init(kind: .softwareVersion)
        case 0x10: return .init(kind: .customerLocation)
        case 0x11: return .init(kind: .customer)
        case 0x17: return .init(kind: .errorFlags)
        case 0x18: return .init(kind: .errorMask)
        case 0x1A: return .init(kind: .digitalOutput)
        case 0x1B: return .init(kind: .digitalInput)
        case 0x1C: return .init(kind: .baudRate)
        case 0x1D: return .init(kind: .responseDelay)
        case 0x24...0x27: return .init(kind: .storageInterval, unit: .second, factor: timeFactor(v))
        case 0x28: return .init(kind: .storageInterval, unit: .second, factor: 2_629_800) // one month, 365.25/12 days
        case 0x29: return .init(kind: .storageInterval, unit: .second, factor: 31_557_600) // one year of 365.25 days
        case 0x2C...0x2F: return .init(kind: .durationSinceReadout, unit: .second, factor: timeFactor(v))
        case 0x31...0x33: return .init(kind: .tariffPeriod, unit: .second, factor: timeFactor(v))
        case 0x3A: return .init(kind: .dimensionless)
        case 0x40...0x4F: return .init(kind: .voltage, unit: .volt, factor: power10(Int(v & 0x0F) - 9))
        case 0x50...0x5F: return .init(kind: .current, unit: .ampere, factor: power10(Int(v & 0x0F) - 12))
        case 0x60: return .init(kind: .resetCounter)
        case 0x61: return .init(kind: .cumulationCounter)
        case 0x6C...0x6F:
            // Operating time of the battery in hours, days, months, years.
            let f: [Double] = [3600, 86400, 2_629_800, 31_557_600]
            return .init(kind: .batteryOperatingTime, unit: .second, factor: f[Int(v & 3)])
        case 0x70: return .init(kind: .batteryChangeDate)
        case 0x74: return .init(kind: .remainingBatteryLife, unit: .second, factor: 86400) // days (OMS)
        default: return .init(kind: .unknown)
        }
    }

    /// The second VIF byte after 0xFB (extension bit removed).
    static func extendedFB(_ vif: UInt8) -> MBusValueDescription {
        let v = vif & 0x7F
        let n = Int(v & 1)
        switch v {
        case 0x00...0x01: return .init(kind: .energy, unit: .wattHour, factor: power10(n - 1 + 6))
        case 0x08...0x09: return .init(kind: .energy, unit: .joule, factor: power10(n - 1 + 9))
        case 0x10...0x11: return .init(kind: .volume, unit: .cubicMetre, factor: power10(n + 2))
        case 0x18...0x19: return .init(kind: .mass, unit: .kilogram, factor: power10(n + 2 + 3))
        case 0x21: return .init(kind: .volume, unit: .feetCubed, factor: 0.1)
        case 0x22: return .init(kind: .volume, unit: .americanGallon, factor: 0.1)
        case 0x23: return .init(kind: .volume, unit: .americanGallon, factor: 1)
        case 0x28...0x29: return .init(kind: .power, unit: .watt, factor: power10(n - 1 + 6))
        case 0x30...0x31: return .init(kind: .power, unit: .joulePerHour, factor: power10(n - 1 + 9))
        case 0x58...0x5B: return .init(kind: .flowTemperature, unit: .degreeFahrenheit, factor: power10(Int(v & 3) - 3))
        case 0x5C...0x5F: return .init(kind: .returnTemperature, unit: .degreeFahrenheit, factor: power10(Int(v & 3) - 3))
        case 0x60...0x63: return .init(kind: .temperatureDifference, unit: .degreeFahrenheit, factor: power10(Int(v & 3) - 3))
        case 0x64...0x67: return .init(kind: .externalTemperature, unit: .degreeFahrenheit, factor: power10(Int(v & 3) - 3))
        case 0x70...0x73: return .init(kind: .temperatureLimit, unit: .degreeFahrenheit, factor: power10(Int(v & 3) - 3))
        case 0x74...0x77: return .init(kind: .temperatureLimit, unit: .degreeCelsius, factor: power10(Int(v & 3) - 3))
        default: return .init(kind: .unknown)
        }
    }

    /// Applies one combinable VIFE (extension bit removed) to `d`. Corrections change the factor;
    /// error codes set `recordError`; everything else is a modifier.
    static func combine(_ vife: UInt8, into d: inout MBusValueDescription) {
        let e = vife & 0x7F
        switch e {
        case 0x00...0x1F:
            if e != 0 { d.recordError = e }
        case 0x70...0x77:
            d.factor *= power10(Int(e & 7) - 6)
        case 0x7D:
            d.factor *= 1000
        default:
            d.modifiers.append(e)
        }
    }
}
