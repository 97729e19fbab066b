/// How a DLMS meter model is read (the `dlms` section of a profile, Docs/dlms.md): its client
/// address and security level, the objects that carry each quantity, its load profiles, and the
/// test vectors its answers must decode to. Keys and passwords are never in a profile: the
/// security level names key ids, resolved from the meter's key files.
public struct DLMSProfileSection: Hashable, Sendable {
    /// The client address the association uses (16 public client, 32 reading client, 1 management).
    public var clientAddress: UInt8
    /// The server's logical device (upper HDLC address), 1 for the management logical device.
    public var logicalDevice: UInt16
    /// 1, 2 or 4 bytes for the server address; nil: the smallest that holds the physical address.
    public var serverAddressSize: Int?
    public var security: DLMSSecuritySpec
    /// Largest information field the client proposes (both directions), 32–2030; nil: 128.
    public var maxInfoField: Int?
    /// Window size the client proposes, 1–7; nil: 1.
    public var windowSize: Int?
    public var objects: [DLMSObjectSpec]
    public var loadProfiles: [DLMSLoadProfileSpec]
    /// The clock object (class 8); nil when the meter's clock cannot be read.
    public var clock: [UInt8]?
    /// The disconnect control object (class 70), only when the meter has a breaking relay.
    public var disconnectControl: [UInt8]?
    /// The alarm register whose named bits feed alarm rules (MeterStatusInputs.swift), read with the values when rules use it.
    public var alarmRegister: DLMSAlarmRegisterSpec?
    public var vectors: [DLMSTestVector]

    public init(clientAddress: UInt8 = 16, logicalDevice: UInt16 = 1, serverAddressSize: Int? = nil,
                security: DLMSSecuritySpec = .none, maxInfoField: Int? = nil, windowSize: Int? = nil,
                objects: [DLMSObjectSpec], loadProfiles: [DLMSLoadProfileSpec] = [], clock: [UInt8]? = [0, 0, 1, 0, 0, 255],
                disconnectControl: [UInt8]? = nil, alarmRegister: DLMSAlarmRegisterSpec? = nil, vectors: [DLMSTestVector] = []) {
        self.alarmRegister = alarmRegister
        self.clientAddress = clientAddress
        self.logicalDevice = logicalDevice
        self.serverAddressSize = serverAddressSize
        self.security = security
        self.maxInfoField = maxInfoField
        self.windowSize = windowSize
        self.objects = objects
        self.loadProfiles = loadProfiles
        self.clock = clock
        self.disconnectControl = disconnectControl
        self.vectors = vectors
    }
}

/// The security level of a DLMS profile, naming keys by id only.
public enum DLMSSecuritySpec: Hashable, Sendable {
    case none
    /// LLS with the password stored under `passwordKey` in the meter's key file.
    case lowLevel(passwordKey: String)
    /// HLS-GMAC with security suite 0, the block cipher and authentication keys under these ids.
    case highLevelGMAC(encryptionKey: String, authenticationKey: String)

    public var name: String {
        switch self {
        case .none: return "none"
        case .lowLevel: return "lls"
        case .highLevelGMAC: return "hls-gmac"
        }
    }
}

/// One quantity in a DLMS meter: a COSEM object attribute and how its value becomes the quantity.
public struct DLMSObjectSpec: Hashable, Sendable {
    public var quantity: QuantityID
    /// 1 data, 3 register, 4 extended register.
    public var classID: UInt16
    public var logicalName: [UInt8]
    /// The value attribute, 2 for data and registers.
    public var attribute: Int8
    /// Scaler to use instead of reading attribute 3 (required for class 1).
    public var scaler: Int8?
    /// DLMS unit code to use instead of reading attribute 3 (required for class 1).
    public var unit: UInt8?
    /// Also recorded in the short load profile.
    public var inLoadProfile: Bool

    public init(quantity: QuantityID, classID: UInt16, logicalName: [UInt8], attribute: Int8 = 2, scaler: Int8? = nil,
                unit: UInt8? = nil, inLoadProfile: Bool = false) {
        self.quantity = quantity
        self.classID = classID
        self.logicalName = logicalName
        self.attribute = attribute
        self.scaler = scaler
        self.unit = unit
        self.inLoadProfile = inLoadProfile
    }

    /// Whether the scaler and unit come from the profile rather than from attribute 3.
    public var hasScalerUnitOverride: Bool { scaler != nil && unit != nil }
}

/// A profile generic object (class 7) the meter records by itself, read by range for backfill.
public struct DLMSLoadProfileSpec: Hashable, Sendable {
    public var logicalName: [UInt8]
    /// The capture period in seconds (900 for 15 minutes, 3600 for hourly).
    public var periodSeconds: Int
    /// The archive series its rows fill.
    public var series: SeriesKind
    /// The columns in the meter's capture order; the first is usually the clock.
    public var captureObjects: [DLMSCaptureObjectSpec]

    public init(logicalName: [UInt8], periodSeconds: Int, series: SeriesKind, captureObjects: [DLMSCaptureObjectSpec]) {
        self.logicalName = logicalName
        self.periodSeconds = periodSeconds
        self.series = series
        self.captureObjects = captureObjects
    }
}

/// One column of a load profile: the captured attribute, and the quantity it feeds (none for the
/// clock and status columns) with the scaler and unit to apply (a buffer carries raw values only).
public struct DLMSCaptureObjectSpec: Hashable, Sendable {
    public var classID: UInt16
    public var logicalName: [UInt8]
    public var attribute: Int8
    public var dataIndex: UInt16
    public var quantity: QuantityID?
    public var scaler: Int8?
    public var unit: UInt8?

    public init(classID: UInt16, logicalName: [UInt8], attribute: Int8, dataIndex: UInt16 = 0, quantity: QuantityID? = nil,
                scaler: Int8? = nil, unit: UInt8? = nil) {
        self.classID = classID
        self.logicalName = logicalName
        self.attribute = attribute
        self.dataIndex = dataIndex
        self.quantity = quantity
        self.scaler = scaler
        self.unit = unit
    }

    /// The clock column (class 8, 0-0:1.0.0.255, attribute 2).
    public var isClock: Bool { classID == 8 && attribute == 2 }
}

/// A captured (or standard-derived) answer of this meter model and the value it must decode to:
/// the A-XDR `Data` of the value attribute and, when the profile gives no override, of the
/// scaler_unit attribute. `Tests/MeterProtocolsTests/ShippedProfileTests` runs every vector.
public struct DLMSTestVector: Hashable, Sendable {
    public var quantity: QuantityID
    public var value: [UInt8]
    public var scalerUnit: [UInt8]?
    public var expected: Double
    /// Where the bytes come from.
    public var note: String?

    public init(quantity: QuantityID, value: [UInt8], scalerUnit: [UInt8]? = nil, expected: Double, note: String? = nil) {
        self.quantity = quantity
        self.value = value
        self.scalerUnit = scalerUnit
        self.expected = expected
        self.note = note
    }
}

extension MeterErrorCode {
    /// A DLMS data-access-result refusing one attribute: 0x200 + the result (0x204 = object undefined,
    /// 0x203 = read-write denied). Stable codes, like the Modbus exceptions at 0x100.
    public static func dlmsAccess(_ result: UInt8) -> MeterErrorCode { MeterErrorCode(rawValue: 0x200 | UInt16(result)) }

    /// The data-access-result, if this is a DLMS access refusal.
    public var dlmsAccessResult: UInt8? { rawValue & 0xFF00 == 0x200 ? UInt8(rawValue & 0xFF) : nil }
}
