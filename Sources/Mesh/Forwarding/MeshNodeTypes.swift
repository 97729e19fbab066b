import ConcentratorCore

/// "Now" for a node: a monotonic instant for every timer, and the local wall clock (which the
/// clock discipline corrects) for time stamps.
public struct MeshInstant: Hashable, Sendable {
    public var monotonic: Timestamp
    public var wall: Timestamp

    public init(monotonic: Timestamp, wall: Timestamp) {
        self.monotonic = monotonic
        self.wall = wall
    }
}

/// A message this node puts into the mesh: its own batch or command reply (upward), or, on a
/// gateway, a head-end ack or command for a device behind it (downward).
public struct MeshOutboundMessage: Hashable, Sendable {
    public var type: MeshFrameType
    /// Upward: this node's device id. Downward: the target device's id.
    public var deviceID: String
    public var sequence: UInt64
    /// 0 for the first send; the outbox's resend after an ack timeout raises it.
    public var attempt: UInt8
    public var priority: MeshPriority
    /// The sealed batch, signed reply, signed ack or command envelope, opaque to the mesh.
    public var body: [UInt8]

    public init(type: MeshFrameType, deviceID: String, sequence: UInt64, attempt: UInt8 = 0, priority: MeshPriority, body: [UInt8]) {
        self.type = type
        self.deviceID = deviceID
        self.sequence = sequence
        self.attempt = attempt
        self.priority = priority
        self.body = body
    }
}

/// A routed message leaving the mesh: on a gateway toward the broker, or at its destination device.
public struct MeshDeliveredMessage: Hashable, Sendable {
    public var key: MeshMessageKey
    public var deviceID: String
    public var attempt: UInt8
    /// Hops it travelled (the optional path note a gateway may publish).
    public var hopCount: UInt8
    public var body: [UInt8]
}

/// What the node asks its runtime (the phase-2 mesh thread, or the simulator) to do.
public enum MeshAction: Hashable, Sendable {
    /// Send this datagram on link `link`.
    case transmit(link: Int, destination: MeshLinkDestination, datagram: [UInt8], priority: MeshPriority)
    /// Gateway: publish this upward message to the broker under its device's topics, then call
    /// `upstreamDelivered` (broker accepted) or `upstreamFailed`.
    case publishUpstream(MeshDeliveredMessage)
    /// A downward message reached this node, its destination: a head-end ack for the drain, a
    /// command for the command processor.
    case deliverLocally(MeshDeliveredMessage)
    /// A routed frame left this node toward `nextHop` (status, the simulator's loop check).
    case forwarded(MeshMessageKey, nextHop: MeshNodeID)
    /// This node's own message is now held by the next hop.
    case handedOff(MeshMessageKey, to: MeshNodeID)
    /// The mesh will not carry this node's own message (refused on the way); the outbox resends
    /// it later, end to end.
    case refused(MeshMessageKey)
}

/// Why a node cannot take a message of its own.
public enum MeshSubmitError: Error, Hashable, Sendable, CustomStringConvertible {
    case queueFull(held: Int)
    case wrongDirection(MeshFrameType)
    case store(RelayQueueStoreError)
    case invalidDeviceID(String)

    public var description: String {
        switch self {
        case .queueFull(let n): return "mesh relay queue is full (\(n) messages); the outbox keeps the batch and tries again"
        case .wrongDirection(let t): return "a \(t) cannot be sent from here (upward messages from their own device, downward ones from a gateway)"
        case .store(let e): return "mesh relay queue: \(e)"
        case .invalidDeviceID(let id): return "device id \(id.prefix(70)) is not usable in the mesh (1–64 bytes)"
        }
    }
}

/// Counters of what a node did (status, the simulator's report).
public struct MeshNodeCounters: Hashable, Sendable {
    public var rejections = MeshRejectionCounters()
    public var beaconsSent = 0
    public var framesSent = 0
    public var datagramsSent = 0
    public var bytesSent = 0
    public var airtimeMicroseconds: Int64 = 0
    /// Airtime by traffic class (beacons count as events: they take the budget first).
    public var airtimeByPriority: [MeshPriority: Int64] = [:]
    /// Routed frames accepted into the relay queue, and those acknowledged as duplicates.
    public var relayed = 0
    public var duplicates = 0
    /// Refused because the queue (or the origin's share) was full.
    public var busy = 0
    /// Dropped for TTL or lifetime, and own messages that came back (a loop that the route table missed).
    public var ttlExpired = 0
    public var expired = 0
    public var loopsDetected = 0
    /// Retransmissions (transmissions of an entry beyond its first).
    public var retransmissions = 0
    /// Transmissions put off by the duty-cycle budget.
    public var dutyCycleDeferrals = 0
    public var deliveredLocally = 0
    public var publishedUpstream = 0

    public init() {}
}

/// Where the node stands, for `concentrator status`, the MQTT status document and the console.
public struct MeshNodeStatus: Hashable, Sendable {
    /// What the node is to the mesh now.
    public enum Role: String, Hashable, Sendable {
        /// Has a working uplink and announces itself.
        case gateway
        /// Relays toward a gateway over a mesh route.
        case relay
        /// No uplink and no route: holds what it has until a route appears.
        case isolated
    }

    /// One neighbour as the console shows it.
    public struct Neighbour: Hashable, Sendable {
        public var key: MeshNeighbourKey
        public var receptionRatio: Double
        public var cost: UInt16
        public var uplinkHealth: UInt8
    }

    public var node: MeshNodeID
    public var role: Role
    public var route: MeshSelectedRoute?
    public var neighbours: [Neighbour]
    public var relayQueueDepth: Int
    public var relayQueueBytes: Int
    public var dutyCycle: [String: DutyCycleStatus]
    public var clock: MeshClockEstimate
    public var counters: MeshNodeCounters
}
