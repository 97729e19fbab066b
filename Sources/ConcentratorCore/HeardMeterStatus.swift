/// A wireless M-Bus meter a receiver hears that is not in the configuration: what the installer
/// sees to adopt it (commissioning by listening). The address is the 16-hex-digit secondary
/// address the configuration takes (`"protocol": "wmbus", "address": …`).
public struct HeardMeterStatus: Hashable, Sendable, Codable {
    public var address: String
    /// The 8 id digits, the manufacturer's three letters, the medium code.
    public var id: String
    public var manufacturer: String
    public var medium: UInt8
    public var lastRSSI: Int?
    public var count: Int
    public var lastHeard: Timestamp
    /// The OMS security mode of the last telegram (0 none, 5, 7).
    public var securityMode: UInt8?

    public init(address: String, id: String, manufacturer: String, medium: UInt8, lastRSSI: Int?, count: Int, lastHeard: Timestamp,
                securityMode: UInt8?) {
        self.address = address
        self.id = id
        self.manufacturer = manufacturer
        self.medium = medium
        self.lastRSSI = lastRSSI
        self.count = count
        self.lastHeard = lastHeard
        self.securityMode = securityMode
    }
}
