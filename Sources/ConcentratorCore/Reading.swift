/// Why a value could not be read. Stable numeric codes: they are stored in the archive and sent on
/// the wire, so existing codes never change meaning.
public struct MeterErrorCode: Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// The meter did not answer within the response timeout.
    public static let noResponse = MeterErrorCode(rawValue: 1)
    /// An answer arrived with a bad checksum (CRC or BCC).
    public static let badChecksum = MeterErrorCode(rawValue: 2)
    /// An answer arrived that does not parse as a response to the request.
    public static let malformedResponse = MeterErrorCode(rawValue: 3)
    /// The bus's serial port is missing or cannot be opened.
    public static let portUnavailable = MeterErrorCode(rawValue: 4)
    /// The registers arrived but do not decode to a number (NaN, out of range).
    public static let undecodableValue = MeterErrorCode(rawValue: 5)
    /// The meter was skipped this cycle (backing off after repeated failures).
    public static let skipped = MeterErrorCode(rawValue: 6)
    /// An I/O error other than a timeout on the serial line.
    public static let ioError = MeterErrorCode(rawValue: 7)
    /// Authentication or deciphering failed (wrong key or password, a replayed counter): the meter
    /// answers, but not to us. Fix the meter's key file.
    public static let securityFailure = MeterErrorCode(rawValue: 8)
    /// The meter refused the request (a DLMS exception or association refusal, an IEC `(ERROR)`).
    public static let meterRefused = MeterErrorCode(rawValue: 9)
    /// The meter dropped the association or the link in the middle of an exchange.
    public static let associationAborted = MeterErrorCode(rawValue: 10)

    /// A Modbus exception response: 0x100 + the exception code (0x102 = illegal data address).
    public static func modbusException(_ code: UInt8) -> MeterErrorCode { MeterErrorCode(rawValue: 0x100 | UInt16(code)) }

    /// The Modbus exception code, if this is a Modbus exception.
    public var modbusExceptionCode: UInt8? { rawValue & 0xFF00 == 0x100 ? UInt8(rawValue & 0xFF) : nil }

    public var description: String {
        if let e = modbusExceptionCode {
            let names: [UInt8: String] = [1: "illegal function", 2: "illegal data address", 3: "illegal data value",
                                          4: "server device failure", 5: "acknowledge", 6: "server busy",
                                          10: "gateway path unavailable", 11: "gateway target failed to respond"]
            return "modbus exception \(e) (\(names[e] ?? "unknown"))"
        }
        if let r = dlmsAccessResult {
            let names: [UInt8: String] = [1: "hardware fault", 2: "temporary failure", 3: "read-write denied", 4: "object undefined",
                                          9: "object class inconsistent", 11: "object unavailable", 12: "type unmatched"]
            return "DLMS access refused \(r) (\(names[r] ?? "other reason"))"
        }
        switch self {
        case .noResponse: return "no response"
        case .badChecksum: return "bad checksum"
        case .malformedResponse: return "malformed response"
        case .portUnavailable: return "port unavailable"
        case .undecodableValue: return "undecodable value"
        case .skipped: return "skipped (backing off)"
        case .ioError: return "serial I/O error"
        case .securityFailure: return "security failure (wrong key or password)"
        case .meterRefused: return "refused by the meter"
        case .associationAborted: return "association aborted by the meter"
        default: return "error \(rawValue)"
        }
    }

    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(UInt16.self) }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// The quality of one reading: ok, or an error code; and whether the gateway clock was synchronised.
public struct ReadingQuality: Hashable, Sendable, Codable {
    public var error: MeterErrorCode?
    public var clockUnsynced: Bool

    public init(error: MeterErrorCode? = nil, clockUnsynced: Bool = false) {
        self.error = error
        self.clockUnsynced = clockUnsynced
    }

    public static let ok = ReadingQuality()
    public var isOK: Bool { error == nil }
}

/// One value read from one meter.
public struct Reading: Hashable, Sendable, Codable {
    public var meter: MeterID
    public var quantity: QuantityID
    /// The value in the quantity's catalog unit; nil when `quality.error` is set.
    public var value: Double?
    public var unit: MeasurementUnit
    /// The meter's own timestamp, where the meter provides one (DLMS, IEC 62056-21 with clock).
    public var meterTime: Timestamp?
    /// When the gateway received the value.
    public var gatewayTime: Timestamp
    public var quality: ReadingQuality

    public init(meter: MeterID, quantity: QuantityID, value: Double?, unit: MeasurementUnit,
                meterTime: Timestamp? = nil, gatewayTime: Timestamp, quality: ReadingQuality = .ok) {
        self.meter = meter
        self.quantity = quantity
        self.value = value
        self.unit = unit
        self.meterTime = meterTime
        self.gatewayTime = gatewayTime
        self.quality = quality
    }
}

/// One quantity's outcome inside a snapshot: a value, or the error that prevented it.
public struct QuantityValue: Hashable, Sendable, Codable {
    public var quantity: QuantityID
    public var value: Double?
    public var error: MeterErrorCode?

    public init(quantity: QuantityID, value: Double) {
        self.quantity = quantity
        self.value = value
        error = nil
    }

    public init(quantity: QuantityID, error: MeterErrorCode) {
        self.quantity = quantity
        value = nil
        self.error = error
    }
}

/// Everything read from one meter for one interval: the unit of storage in the archive.
public struct MeterSnapshot: Hashable, Sendable, Codable {
    public var meter: MeterID
    /// Start of the interval this snapshot belongs to (aligned to the schedule).
    public var intervalStart: Timestamp
    /// When the gateway finished reading the meter.
    public var gatewayTime: Timestamp
    public var meterTime: Timestamp?
    public var clockUnsynced: Bool
    public var values: [QuantityValue]
    /// The raw value of the profile's status register read with the values (`ModbusStatusSpec`:
    /// named flags for alarm rules), when the profile declares one and it was read. Not archived.
    public var status: UInt64?

    public init(meter: MeterID, intervalStart: Timestamp, gatewayTime: Timestamp, meterTime: Timestamp? = nil,
                clockUnsynced: Bool = false, values: [QuantityValue], status: UInt64? = nil) {
        self.meter = meter
        self.intervalStart = intervalStart
        self.gatewayTime = gatewayTime
        self.meterTime = meterTime
        self.clockUnsynced = clockUnsynced
        self.values = values
        self.status = status
    }

    /// The snapshot as individual readings, with units from the quantity catalog.
    public var readings: [Reading] {
        values.map { v in
            Reading(meter: meter, quantity: v.quantity, value: v.value,
                    unit: QuantityCatalog.definition(of: v.quantity)?.unit ?? .none, meterTime: meterTime,
                    gatewayTime: gatewayTime, quality: ReadingQuality(error: v.error, clockUnsynced: clockUnsynced))
        }
    }
}

/// Which archive series a snapshot belongs to.
public enum SeriesKind: String, Hashable, Sendable, Codable, CaseIterable {
    /// The main interval archive (hourly by default).
    case interval
    /// The short load profile (15 minutes where configured).
    case profile
}
