/// The `mesh` configuration section: relaying sealed batches through other concentrators
/// (Docs/mesh.md, Docs/configuration.md "mesh").
public struct MeshSettings: Hashable, Sendable {
    /// Whether this node may act as a gateway for others when its uplink works.
    public enum GatewayRole: String, Hashable, Sendable, CaseIterable {
        /// A gateway whenever its broker connection is up (the default).
        case auto
        /// Never announces itself: a relay or leaf only, even with a working uplink.
        case never
    }

    /// A UDP link on a LAN or Wi-Fi mesh.
    public struct UDPLink: Hashable, Sendable {
        public var name: String
        /// IPv4 address to bind ("0.0.0.0": every interface).
        public var bindAddress: String
        public var port: Int
        /// Where beacons and other broadcasts go: peers ("host:port") or a subnet broadcast address.
        public var peers: [String]

        public init(name: String = "udp0", bindAddress: String = "0.0.0.0", port: Int = 47_800, peers: [String] = []) {
            self.name = name
            self.bindAddress = bindAddress
            self.port = port
            self.peers = peers
        }
    }

    /// A LoRa modem (RN2483) on a serial port.
    public struct RadioLink: Hashable, Sendable {
        public var name: String
        public var port: String
        public var frequencyHz: Int
        public var spreadingFactor: Int
        public var bandwidthKHz: Int
        /// 1–4 for 4/5…4/8.
        public var codingRate: Int
        public var powerDbm: Int
        /// Percent of a rolling hour; nil: the limit of the frequency's EU868 sub-band.
        public var dutyCyclePercent: Double?

        public init(name: String = "lora0", port: String, frequencyHz: Int = 868_100_000, spreadingFactor: Int = 7, bandwidthKHz: Int = 125,
                    codingRate: Int = 1, powerDbm: Int = 14, dutyCyclePercent: Double? = nil) {
            self.name = name
            self.port = port
            self.frequencyHz = frequencyHz
            self.spreadingFactor = spreadingFactor
            self.bandwidthKHz = bandwidthKHz
            self.codingRate = codingRate
            self.powerDbm = powerDbm
            self.dutyCyclePercent = dutyCyclePercent
        }
    }

    public var enabled: Bool
    /// The per-deployment network key: 64 hex digits in a file of mode 0600 (set from the console).
    public var networkKeyFile: String
    public var keyEpoch: Int
    /// The previous key during a rollover (accepted, never used to send).
    public var previousNetworkKeyFile: String?
    public var gateway: GatewayRole
    public var beaconIntervalSeconds: Int
    public var ttl: Int
    public var relayQueueMaxMessages: Int
    public var relayQueueMaxBytes: Int
    public var udp: [UDPLink]
    public var radios: [RadioLink]

    public init(enabled: Bool = true, networkKeyFile: String, keyEpoch: Int = 0, previousNetworkKeyFile: String? = nil,
                gateway: GatewayRole = .auto, beaconIntervalSeconds: Int = 60, ttl: Int = 24, relayQueueMaxMessages: Int = 2_048,
                relayQueueMaxBytes: Int = 8 << 20, udp: [UDPLink] = [], radios: [RadioLink] = []) {
        self.enabled = enabled
        self.networkKeyFile = networkKeyFile
        self.keyEpoch = keyEpoch
        self.previousNetworkKeyFile = previousNetworkKeyFile
        self.gateway = gateway
        self.beaconIntervalSeconds = beaconIntervalSeconds
        self.ttl = ttl
        self.relayQueueMaxMessages = relayQueueMaxMessages
        self.relayQueueMaxBytes = relayQueueMaxBytes
        self.udp = udp
        self.radios = radios
    }
}
