/// The configured identifier of a meter, unique within one concentrator (for example "m-017").
public struct MeterID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }
    public var description: String { rawValue }
    public static func < (a: MeterID, b: MeterID) -> Bool { a.rawValue < b.rawValue }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// The configured name of an RS-485 bus (for example "bus1").
public struct BusName: Hashable, Comparable, Sendable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }
    public var description: String { rawValue }
    public static func < (a: BusName, b: BusName) -> Bool { a.rawValue < b.rawValue }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// The protocol a meter speaks on its bus. Buses are protocol-neutral: meters of different
/// protocols may share one bus, and the bus owner switches line settings between transactions.
public enum MeterProtocolKind: String, Hashable, Sendable, Codable, CaseIterable {
    case modbus
    case iec62056_21 = "iec62056-21"
    case dlms
    /// Wired M-Bus (EN 13757-2/-3) behind a level converter.
    case mbus
    /// Wireless M-Bus (EN 13757-4, OMS) heard through a receiver on a serial port.
    case wmbus
}
