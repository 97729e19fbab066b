/// The mesh as `concentrator status`, the MQTT status document and the console show it
/// (Docs/mesh.md, "Integration" 6). Node addresses are 16 hex digits.
public struct MeshState: Hashable, Sendable, Codable {
    /// One neighbour: how well this node hears it, the link cost (256 · ETX) and whether it is a gateway.
    public struct Neighbour: Hashable, Sendable, Codable {
        public var node: String
        public var link: String
        public var reception: Double
        public var cost: Int
        public var uplinkHealth: Int

        public init(node: String, link: String, reception: Double, cost: Int, uplinkHealth: Int) {
            self.node = node
            self.link = link
            self.reception = reception
            self.cost = cost
            self.uplinkHealth = uplinkHealth
        }
    }

    /// The selected route toward a gateway; `hops` counts the hops from this node to it (1: the gateway is a neighbour).
    public struct Route: Hashable, Sendable, Codable {
        public var nextHop: String
        public var gateway: String
        public var metric: Int
        public var hops: Int

        public init(nextHop: String, gateway: String, metric: Int, hops: Int) {
            self.nextHop = nextHop
            self.gateway = gateway
            self.metric = metric
            self.hops = hops
        }
    }

    /// A radio link's duty-cycle ledger over the rolling window.
    public struct DutyBudget: Hashable, Sendable, Codable {
        public var link: String
        public var usedMilliseconds: Int64
        public var limitMilliseconds: Int64
        public var windowSeconds: Int64
        public var refusals: Int

        public init(link: String, usedMilliseconds: Int64, limitMilliseconds: Int64, windowSeconds: Int64, refusals: Int) {
            self.link = link
            self.usedMilliseconds = usedMilliseconds
            self.limitMilliseconds = limitMilliseconds
            self.windowSeconds = windowSeconds
            self.refusals = refusals
        }
    }

    /// Where the node's time comes from: its own synchronised clock (stratum 1), beacons (2…15), or nothing (16).
    public struct TimeSource: Hashable, Sendable, Codable {
        /// "ntp", "mesh" or "none".
        public var source: String
        public var stratum: Int
        public var offsetMilliseconds: Double
        public var driftPPM: Double
        public var errorMilliseconds: Double
        /// The neighbour whose beacons discipline the clock.
        public var from: String?

        public init(source: String, stratum: Int, offsetMilliseconds: Double, driftPPM: Double, errorMilliseconds: Double, from: String?) {
            self.source = source
            self.stratum = stratum
            self.offsetMilliseconds = offsetMilliseconds
            self.driftPPM = driftPPM
            self.errorMilliseconds = errorMilliseconds
            self.from = from
        }
    }

    public var node: String
    /// "gateway", "relay" or "isolated".
    public var role: String
    public var route: Route?
    public var neighbours: [Neighbour]
    public var relayQueueDepth: Int
    public var relayQueueBytes: Int
    public var dutyCycle: [DutyBudget]
    public var time: TimeSource
    /// Frames dropped as forged, replayed, malformed…, in total.
    public var rejectedFrames: Int
    public var relayed: Int
    public var publishedUpstream: Int
    /// The network key's fingerprint (never the key).
    public var keyFingerprint: String

    public init(node: String, role: String, route: Route?, neighbours: [Neighbour], relayQueueDepth: Int, relayQueueBytes: Int,
                dutyCycle: [DutyBudget], time: TimeSource, rejectedFrames: Int, relayed: Int, publishedUpstream: Int, keyFingerprint: String) {
        self.node = node
        self.role = role
        self.route = route
        self.neighbours = neighbours
        self.relayQueueDepth = relayQueueDepth
        self.relayQueueBytes = relayQueueBytes
        self.dutyCycle = dutyCycle
        self.time = time
        self.rejectedFrames = rejectedFrames
        self.relayed = relayed
        self.publishedUpstream = publishedUpstream
        self.keyFingerprint = keyFingerprint
    }
}
