/// What an M-Bus data record measures, by its value information (EN 13757-3 §6.4, tables 12–14, and
/// OMS Vol.2 where it adds to them). Profiles match records by this name rather than by raw VIF
/// bytes, so a meter that switches its exponent or unit variant (Wh or J) still matches.
public enum MBusValueKind: String, Hashable, Sendable, CaseIterable {
    case energy, volume, mass, power, pressure, date, voltage, current, credit, debit, text
    case onTime = "on-time"
    case operatingTime = "operating-time"
    case volumeFlow = "volume-flow"
    case massFlow = "mass-flow"
    case flowTemperature = "flow-temperature"
    case returnTemperature = "return-temperature"
    case temperatureDifference = "temperature-difference"
    case externalTemperature = "external-temperature"
    case temperatureLimit = "temperature-limit"
    case dateTime = "date-time"
    case hcaUnits = "hca-units"
    case averagingDuration = "averaging-duration"
    case actualityDuration = "actuality-duration"
    case fabricationNumber = "fabrication-number"
    case enhancedIdentification = "enhanced-identification"
    case busAddress = "bus-address"
    case accessNumber = "access-number"
    case medium = "medium"
    case manufacturer = "manufacturer"
    case parameterSet = "parameter-set"
    case modelVersion = "model-version"
    case hardwareVersion = "hardware-version"
    case firmwareVersion = "firmware-version"
    case softwareVersion = "software-version"
    case customerLocation = "customer-location"
    case customer = "customer"
    case errorFlags = "error-flags"
    case errorMask = "error-mask"
    case digitalOutput = "digital-output"
    case digitalInput = "digital-input"
    case baudRate = "baud-rate"
    case responseDelay = "response-delay"
    case storageInterval = "storage-interval"
    case durationSinceReadout = "duration-since-readout"
    case tariffPeriod = "tariff-period"
    case dimensionless = "dimensionless"
    case resetCounter = "reset-counter"
    case cumulationCounter = "cumulation-counter"
    case remainingBatteryLife = "remaining-battery-life"
    case batteryOperatingTime = "battery-operating-time"
    case batteryChangeDate = "battery-change-date"
    case manufacturerSpecific = "manufacturer-specific"
    /// A reserved or unsupported VIF: decoded as a number without a unit.
    case unknown
}

/// The function field of a data record (EN 13757-3 §6.3.2, DIF bits 5–4).
public enum MBusFunctionField: String, Hashable, Sendable, CaseIterable {
    case instantaneous, maximum, minimum
    /// "Value during error state".
    case error
}

/// One rule of an M-Bus profile: the first record matching `selector`, storage number, tariff,
/// subunit and function gives `quantity`.
public struct MBusRecordRule: Hashable, Sendable {
    /// Which records match: by value kind (any exponent or unit variant) or by exact VIF/VIFE bytes
    /// (manufacturer-specific records such as Kamstrup's FF07).
    public enum Selector: Hashable, Sendable {
        case kind(MBusValueKind)
        case vifBytes([UInt8])
    }

    public var quantity: QuantityID
    public var selector: Selector
    public var storage: Int
    public var tariff: Int
    public var subunit: Int
    public var function: MBusFunctionField
    /// Extra factor after the unit conversion (for records without a unit: raw value × scale).
    public var scale: Double
    /// The catalog unit of the quantity (checked by the loader).
    public var unit: MeasurementUnit
    /// Whether the quantity also goes into the short load profile.
    public var inLoadProfile: Bool

    public init(quantity: QuantityID, selector: Selector, storage: Int = 0, tariff: Int = 0, subunit: Int = 0,
                function: MBusFunctionField = .instantaneous, scale: Double = 1, unit: MeasurementUnit, inLoadProfile: Bool = false) {
        self.quantity = quantity
        self.selector = selector
        self.storage = storage
        self.tariff = tariff
        self.subunit = subunit
        self.function = function
        self.scale = scale
        self.unit = unit
        self.inLoadProfile = inLoadProfile
    }
}

/// Which meters a profile is for: the manufacturer code and, when given, the versions and media
/// (device types) from the telegram header (the same triple wmbusmeters' drivers detect on).
public struct MBusModelIdentification: Hashable, Sendable {
    public var manufacturer: UInt16
    /// Empty: any version.
    public var versions: [UInt8]
    /// Empty: any medium.
    public var media: [UInt8]

    public init(manufacturer: UInt16, versions: [UInt8] = [], media: [UInt8] = []) {
        self.manufacturer = manufacturer
        self.versions = versions
        self.media = media
    }

    public func matches(_ identity: MBusIdentity) -> Bool {
        identity.manufacturer == manufacturer && (versions.isEmpty || versions.contains(identity.version))
            && (media.isEmpty || media.contains(identity.medium))
    }
}

/// A published telegram the profile must decode, with the values it decodes to (wmbusmeters'
/// habit: the driver file carries real telegrams, their keys and the expected values).
public struct MBusProfileVector: Hashable, Sendable {
    /// Where the telegram and the values were published.
    public var source: String
    /// The frame: a wired long frame (68 L L 68 …), or a wireless frame with or without its CRCs.
    public var telegram: [UInt8]
    /// The AES key of the test telegram (a published test key, never a site key).
    public var key: [UInt8]?
    /// The telegram was published in its decrypted form (its header still says mode 5 or 7, the
    /// data start with 2F 2F): decoders skip only the AES step.
    public var decrypted: Bool
    public var values: [QuantityID: Double]

    public init(source: String, telegram: [UInt8], key: [UInt8]? = nil, decrypted: Bool = false, values: [QuantityID: Double]) {
        self.source = source
        self.telegram = telegram
        self.key = key
        self.decrypted = decrypted
        self.values = values
    }
}

/// The `mbus` or `wmbus` section of a profile: how the model is recognised and how its records
/// become quantities. Docs/profiles.md, "M-Bus and wireless M-Bus profiles".
public struct MBusRecordMap: Hashable, Sendable {
    public var identifications: [MBusModelIdentification]
    public var records: [MBusRecordRule]
    public var vectors: [MBusProfileVector]

    public init(identifications: [MBusModelIdentification], records: [MBusRecordRule], vectors: [MBusProfileVector] = []) {
        self.identifications = identifications
        self.records = records
        self.vectors = vectors
    }

    /// The quantities the rules give, each once, in rule order.
    public var quantities: [QuantityID] {
        var seen = Set<QuantityID>()
        return records.map(\.quantity).filter { seen.insert($0).inserted }
    }

    /// Whether a meter with this identity is of this model.
    public func matches(_ identity: MBusIdentity) -> Bool { identifications.contains { $0.matches(identity) } }
}
