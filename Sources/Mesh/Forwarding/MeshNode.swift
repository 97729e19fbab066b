import ConcentratorCore

/// How a node behaves. Defaults suit a LoRa deployment with a one-minute beacon; the simulator and
/// tests shorten the intervals.
public struct MeshNodeConfiguration: Sendable {
    public var deviceID: String
    public var links: [MeshLinkProperties]
    public var beaconIntervalMilliseconds: Int64 = 60_000
    /// Routes to a gateway not heard of (no new seqno, by any neighbour) for this many beacon
    /// intervals are dropped; gateways issue a seqno every interval, so 2 tolerates one lost wave.
    public var routeHoldIntervals: Double = 2.0
    /// A route a neighbour stopped announcing is dropped after this many intervals (one lost beacon
    /// is tolerated).
    public var entryHoldIntervals: Double = 2.5
    /// A triggered beacon follows a new seqno after a random delay of this share of the interval.
    public var triggeredDelayFraction: ClosedRange<Double> = 0.005...0.02
    public var defaultTTL: UInt8 = 24
    /// Retransmission backoff of a routed frame that got no hop-ack: initial, doubling, capped.
    public var retransmitInitialMilliseconds: Int64 = 4_000
    public var retransmitMaximumMilliseconds: Int64 = 120_000
    /// A gateway waits this long for the broker before it offers an upward message again.
    public var upstreamTimeoutMilliseconds: Int64 = 60_000
    /// Relay queue bounds: entries, payload bytes, and the share every origin keeps when it is busy.
    public var relayCapacity = 2_048
    public var relayPayloadCapacityBytes = 8 << 20
    public var relayMinimumShare = 16
    /// Downward messages (acks, commands) that find no path within this time are dropped.
    public var downwardLifetimeMilliseconds: Int64 = 3_600_000
    /// Routed frames sent per dispatch at most (a burst bound).
    public var transmissionsPerDispatch = 8
    public var reportsPerBeacon = 6
    public var reassemblyTimeoutMilliseconds: Int64 = 30_000
    /// Seeds the node's jitter (deterministic simulations).
    public var seed: UInt64 = 1
    /// The first seqno this node uses as a gateway (persisted or derived from time by the caller).
    public var initialGatewaySeqno: UInt16 = 0

    public init(deviceID: String, links: [MeshLinkProperties]) {
        self.deviceID = deviceID
        self.links = links
    }

    public var routeHoldMilliseconds: Int64 { Int64(Double(beaconIntervalMilliseconds) * routeHoldIntervals) }
}

/// One concentrator's mesh logic: frames in, actions out. It authenticates and replay-checks what it
/// receives, reassembles fragments, learns neighbours and routes from beacons (Babel-style distance
/// vector toward the gateways), takes routed messages into its relay queue and hop-acks them, sends
/// what it holds toward the next hop with retransmission and backoff, within each radio's duty-cycle
/// budget, in priority and fairness order, and disciplines its clock from beacons. It never reads a
/// clock and never does I/O itself: the runtime passes instants in and performs the returned
/// `MeshAction`s; the relay queue and the frame counter live behind stores. Confined to one thread.
public final class MeshNode {
    public let configuration: MeshNodeConfiguration
    public let id: MeshNodeID
    let authenticator: MeshFrameAuthenticator
    let counterStore: any MeshCounterStore
    public let relayQueue: any RelayQueueStore

    var frameCounter: MeshFrameCounter
    var replayGuard = MeshReplayGuard()
    var reassemblers: [MeshReassembler]
    var budgets: [DutyCycleBudget?]
    public internal(set) var neighbours: MeshNeighbourTable
    public internal(set) var routes: MeshRouteTable
    var reversePaths = MeshReversePaths()
    var seen = MeshDuplicateFilter()
    /// The neighbour each remembered message first came from (a bounce from another neighbour is carried).
    var seenFrom: [MeshMessageKey: MeshNodeID] = [:]
    public internal(set) var clock: MeshClockDiscipline
    public internal(set) var counters = MeshNodeCounters()
    var random: SeededRandom

    /// 0: no uplink. Otherwise this node is a gateway.
    public internal(set) var uplinkHealth: UInt8 = 0
    var gatewaySeqno: UInt16
    var helloSequence: UInt16 = 0
    var fragmentTag: UInt16 = 0
    var nextBeaconAt: Timestamp?
    var triggeredBeaconAt: Timestamp?
    /// The source and seqno this node last announced, for retractions when it loses its route.
    var lastAnnounced: MeshRouteAdvertisement?
    var retractionsLeft = 0

    /// A node after a (re)start. Reads the frame counter's reservation from `counterStore`.
    public init(configuration: MeshNodeConfiguration, authenticator: MeshFrameAuthenticator, counterStore: any MeshCounterStore,
                relayQueue: any RelayQueueStore) throws {
        self.configuration = configuration
        id = MeshNodeID(deviceID: configuration.deviceID)
        self.authenticator = authenticator
        self.counterStore = counterStore
        self.relayQueue = relayQueue
        frameCounter = MeshFrameCounter(persisted: try counterStore.loadReservation())
        reassemblers = configuration.links.map { _ in MeshReassembler(timeoutMilliseconds: configuration.reassemblyTimeoutMilliseconds) }
        budgets = configuration.links.map { link in link.dutyCycle.map { DutyCycleBudget(dutyCycle: $0) } }
        neighbours = MeshNeighbourTable(beaconIntervalMilliseconds: configuration.beaconIntervalMilliseconds)
        routes = MeshRouteTable(holdMilliseconds: configuration.routeHoldMilliseconds,
                                entryHoldMilliseconds: Int64(Double(configuration.beaconIntervalMilliseconds) * configuration.entryHoldIntervals),
                                sourceMemoryMilliseconds: configuration.beaconIntervalMilliseconds * 16)
        random = SeededRandom(seed: SeededRandom.mix(configuration.seed ^ id.rawValue))
        clock = MeshClockDiscipline(minimumSpacingMilliseconds: configuration.beaconIntervalMilliseconds / 2)
        gatewaySeqno = configuration.initialGatewaySeqno
    }

    public var isGateway: Bool { uplinkHealth > 0 }

    // MARK: - Inputs

    /// The uplink changed: health 1…255 makes this node a gateway (it announces itself at once);
    /// 0 makes it a relay again (it retracts its own route and sends what it holds over the mesh).
    public func setUplink(health: UInt8, at now: MeshInstant) -> [MeshAction] {
        let was = isGateway
        uplinkHealth = health
        if isGateway && !was {
            routes.clearSelection()
            nextBeaconAt = now.monotonic
        } else if !isGateway && was {
            lastAnnounced = MeshRouteAdvertisement(source: id, seqno: gatewaySeqno &+ 1, metric: MeshRouteAdvertisement.infinity, hopCount: 0)
            retractionsLeft = 2
            triggeredBeaconAt = now.monotonic
            // What waited for the broker goes over the mesh now.
            for entry in relayQueue.all() where entry.key.type.direction == .upward {
                try? relayQueue.postpone(entry.key, until: now.monotonic)
            }
            routes.select(cost: { self.neighbours.cost($0, at: now.monotonic) }, excluding: [id], at: now.monotonic)
        }
        var actions: [MeshAction] = []
        tick(at: now, into: &actions)
        return actions
    }

    /// Whether the local clock is synchronised (NTP, GNSS): then beacons carry stratum 1.
    public func setLocalClockSynchronised(_ synchronised: Bool) { clock.localClockSynchronised = synchronised }

    /// Timers: beacons, retransmissions, expiries. Call at `nextWakeup` (earlier is harmless).
    public func tick(at now: MeshInstant) -> [MeshAction] {
        var actions: [MeshAction] = []
        tick(at: now, into: &actions)
        return actions
    }

    /// Takes a message of this node's own (upward) or, on a gateway, one from the head-end
    /// (downward), and starts sending it.
    public func submit(_ message: MeshOutboundMessage, at now: MeshInstant) throws(MeshSubmitError) -> [MeshAction] {
        guard let direction = message.type.direction else { throw .wrongDirection(message.type) }
        guard !message.deviceID.isEmpty, message.deviceID.utf8.count <= MeshRoutedPayload.maximumDeviceIDLength else {
            throw .invalidDeviceID(message.deviceID)
        }
        let device = MeshNodeID(deviceID: message.deviceID)
        if direction == .upward && device != id { throw .wrongDirection(message.type) }
        guard relayQueue.count < configuration.relayCapacity else { throw .queueFull(held: relayQueue.count) }
        let route = MeshRouteHeader(ttl: configuration.defaultTTL, hopCount: 0, origin: direction == .upward ? id : .headEnd,
                                    destination: direction == .upward ? .headEnd : device, sequence: message.sequence,
                                    attempt: message.attempt)
        let key = MeshMessageKey(type: message.type, subject: device, sequence: message.sequence)
        let entry = RelayQueueEntry(key: key, route: route, priority: message.priority,
                                    payload: MeshRoutedPayload(deviceID: message.deviceID, body: message.body).encoded(),
                                    receivedFrom: nil, receivedAt: now.monotonic, nextAttemptAt: now.monotonic)
        do {
            _ = try relayQueue.insert(entry)
        } catch {
            throw .store(error)
        }
        seen.remember(key, attempt: message.attempt)
        var actions: [MeshAction] = []
        dispatch(at: now, into: &actions)
        return actions
    }

    /// Gateway: the broker accepted the upward message `key`; the gateway's part is done.
    public func upstreamDelivered(_ key: MeshMessageKey) {
        if (try? relayQueue.remove(key)) == true { counters.publishedUpstream += 1 }
    }

    /// Gateway: publishing `key` failed; it is offered again at `retryAt` (over the mesh if the
    /// uplink is gone by then).
    public func upstreamFailed(_ key: MeshMessageKey, retryAt: Timestamp) {
        try? relayQueue.postpone(key, until: retryAt)
    }

    /// When the node next needs `tick`.
    public func nextWakeup() -> Timestamp? {
        var candidates: [Timestamp] = []
        if let t = nextBeaconAt { candidates.append(t) } else { candidates.append(Timestamp(milliseconds: 0)) }
        if let t = triggeredBeaconAt { candidates.append(t) }
        if let t = relayQueue.earliestAttempt { candidates.append(t) }
        if let t = neighbours.nextExpiry { candidates.append(t) }
        if let t = routes.nextExpiry { candidates.append(t) }
        for r in reassemblers { if let t = r.nextExpiry { candidates.append(t) } }
        return candidates.min()
    }

    /// The node's state for status and the console.
    public func status(at now: MeshInstant) -> MeshNodeStatus {
        let role: MeshNodeStatus.Role = isGateway ? .gateway : routes.selected == nil ? .isolated : .relay
        let list = neighbours.neighbours.values.sorted { $0.key < $1.key }.map {
            MeshNodeStatus.Neighbour(key: $0.key, receptionRatio: neighbours.receptionRatio($0.key, at: now.monotonic),
                                     cost: neighbours.cost($0.key, at: now.monotonic), uplinkHealth: $0.uplinkHealth)
        }
        var duty: [String: DutyCycleStatus] = [:]
        for (i, link) in configuration.links.enumerated() {
            if var b = budgets[i] { duty[link.name] = b.status(at: now.monotonic) }
        }
        return MeshNodeStatus(node: id, role: role, route: isGateway ? nil : routes.selected, neighbours: list,
                              relayQueueDepth: relayQueue.count, relayQueueBytes: relayQueue.payloadBytes, dutyCycle: duty,
                              clock: clock.estimate(atLocal: now.wall), counters: counters)
    }

    // MARK: - Shared helpers

    /// The next frame counter, persisting a new reservation first when the block is used up.
    func nextCounter() -> UInt64? {
        while true {
            switch frameCounter.take() {
            case .ready(let c): return c
            case .reserve(let limit):
                do {
                    try counterStore.persistReservation(limit)
                    frameCounter.reserved(through: limit)
                } catch {
                    return nil
                }
            }
        }
    }

    /// Seals `frame` with a fresh counter and splits it for `link`; nil when no counter could be
    /// reserved or the frame does not fit even in fragments.
    func datagrams(for frame: MeshFrame, link: Int) -> [[UInt8]]? {
        guard let counter = nextCounter() else { return nil }
        var f = frame
        f.header.counter = counter
        let bytes = authenticator.seal(f)
        fragmentTag &+= 1
        return MeshFragment.datagrams(for: bytes, sender: id, tag: fragmentTag, mtu: configuration.links[link].mtu)
    }

    /// Whether the radio budget of `link` lets `datagrams` of `priority` go now; records them if so.
    func admit(_ datagrams: [[UInt8]], link: Int, priority: MeshPriority, at now: Timestamp) -> DutyCycleAdmission {
        let properties = configuration.links[link]
        let airtime = datagrams.reduce(Int64(0)) { $0 + properties.airtimeMicroseconds(byteCount: $1.count) }
        guard var budget = budgets[link] else { return .allowed }
        let verdict = budget.admission(airtimeMicroseconds: airtime, priority: priority, at: now)
        if verdict == .allowed { budget.record(airtimeMicroseconds: airtime, at: now) }
        budgets[link] = budget
        return verdict
    }

    /// Emits the transmit actions for `datagrams` and counts them.
    func emit(_ datagrams: [[UInt8]], link: Int, to destination: MeshLinkDestination, priority: MeshPriority,
              into actions: inout [MeshAction]) {
        counters.framesSent += 1
        for d in datagrams {
            counters.datagramsSent += 1
            counters.bytesSent += d.count
            let airtime = configuration.links[link].airtimeMicroseconds(byteCount: d.count)
            counters.airtimeMicroseconds += airtime
            counters.airtimeByPriority[priority, default: 0] += airtime
            actions.append(.transmit(link: link, destination: destination, datagram: d, priority: priority))
        }
    }

    /// Where to send a unicast to `neighbour` on its link.
    func destination(of neighbour: MeshNeighbourKey) -> MeshLinkDestination {
        guard let n = neighbours[neighbour], n.address != .radio else { return .broadcast }
        return .unicast(n.address)
    }

    /// A uniformly random delay in `fraction` of the beacon interval.
    func jitter(_ fraction: ClosedRange<Double>) -> Int64 {
        Int64(random.uniform(fraction) * Double(configuration.beaconIntervalMilliseconds))
    }
}
