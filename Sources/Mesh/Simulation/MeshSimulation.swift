import ConcentratorCore

/// The deterministic mesh simulator: N real `MeshNode`s (the production routing, store-carry-forward,
/// framing, MAC and fragmentation code) on a `SimulatedMedium` in virtual time, with a simulated
/// head-end behind the gateways and each node's outbox modelled as the drain will behave (resend
/// end to end until the head-end's ack arrives). It kills a gateway mid-run, checks for a routing
/// loop at every forwarding step, and measures delivery (exactly once at the head-end), convergence
/// after the kill in beacon intervals, relay-queue depth, airtime and overhead. Same configuration,
/// same seed: same report. Single-threaded: the medium calls back into it synchronously.
public final class MeshSimulation: @unchecked Sendable {
    enum Event {
        case tick(Int)
        case generate(Int)
        case generateEvent(Int)
        case resend(Int, UInt64)
        /// A gateway's publish reached the head-end (gateway −1: the origin's own direct uplink).
        case arrival(gateway: Int, MeshDeliveredMessage)
        case puback(Int, MeshMessageKey)
        /// The head-end sends a downward message through `gateway` (−1: directly to the device).
        case downward(gateway: Int, device: Int, MeshOutboundMessage)
        case command
        /// The head-end sends a command again when no reply came (as its command sender retries).
        case commandRetry(device: Int, MeshOutboundMessage, left: Int)
        case kill
        case sample
    }

    public let configuration: MeshSimulationConfiguration
    public let topology: MeshTopology
    let medium: SimulatedMedium
    var nodes: [MeshNode] = []
    var links: [SimulatedMeshLink] = []
    var alive: [Bool]
    var clocks: [(offset: Double, drift: Double)] = []
    var indexOf: [MeshNodeID: Int] = [:]
    var events = VirtualTimeQueue<Event>()
    var scheduledTick: [Timestamp?]
    let start: Timestamp
    var now: Timestamp
    var random: SeededRandom
    var outboxes: [SimulatedOutbox]
    var headEnd = SimulatedHeadEnd()
    let killedNode: Int?
    var measurements = SimulationMeasurements()
    var churnCut: Set<[Int]> = []
    /// Commands each device executed (a device runs a command once, however often it arrives).
    var executedCommands: Set<MeshMessageKey> = []

    public init(configuration: MeshSimulationConfiguration) throws(MeshSimulationError) {
        self.configuration = try configuration.validated()
        let c = self.configuration
        topology = MeshTopology(nodes: c.nodes, gateways: c.gateways, averageDegree: c.averageDegree,
                                bridgingAround: c.killGateway > 0 && c.killMode == .power ? c.killGateway - 1 : nil, seed: c.seed)
        killedNode = c.killGateway > 0 ? topology.gateways[c.killGateway - 1] : nil
        start = Timestamp(seconds: 1_767_225_600) // 2026-01-01T00:00:00Z
        now = start
        random = SeededRandom(seed: SeededRandom.mix(c.seed ^ 0x5349_4D55))
        let modulation: LoRaModulation? = c.link == .lora ? LoRaModulation() : nil
        medium = SimulatedMedium(configuration: .init(loss: c.loss, delayMilliseconds: c.link == .lora ? 0...5 : 1...20,
                                                      modulation: modulation, seed: SeededRandom.mix(c.seed ^ 0x4D45_4449)),
                                 start: start)
        alive = Array(repeating: true, count: c.nodes)
        scheduledTick = Array(repeating: nil, count: c.nodes)
        outboxes = Array(repeating: SimulatedOutbox(), count: c.nodes)
        let key = try! MeshNetworkKey(bytes: (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ Int(c.seed)) | 1 })
        let authenticator = MeshFrameAuthenticator(current: key)
        for i in 0..<c.nodes {
            let endpoint = medium.addEndpoint()
            let link = SimulatedMeshLink(medium: medium, endpoint: endpoint, mtu: c.link == .lora ? 200 : 1200,
                                         dutyCycle: c.link == .lora ? 0.01 : nil)
            var nc = MeshNodeConfiguration(deviceID: Self.deviceID(i), links: [link.properties])
            nc.beaconIntervalMilliseconds = c.beaconIntervalSeconds * 1000
            nc.seed = SeededRandom.mix(c.seed &+ UInt64(i))
            nc.retransmitInitialMilliseconds = c.link == .lora ? 4_000 : 1_000
            let node = try! MeshNode(configuration: nc, authenticator: authenticator, counterStore: InMemoryCounterStore(),
                                     relayQueue: InMemoryRelayQueueStore())
            indexOf[node.id] = i
            nodes.append(node)
            links.append(link)
            let isGateway = topology.gateways.contains(i)
            clocks.append(isGateway ? (0, 0) : (random.uniform(-120_000...120_000), random.uniform(-40e-6...40e-6)))
            node.setLocalClockSynchronised(isGateway)
        }
        for a in 0..<c.nodes { for b in topology.edges[a] where a < b { medium.connect(a, b) } }
        for i in 0..<c.nodes {
            try! links[i].start { [unowned self] datagram in self.received(datagram, at: i) }
        }
    }

    static func deviceID(_ i: Int) -> String {
        let digits = String(i)
        return "node-" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    var beaconMilliseconds: Int64 { configuration.beaconIntervalSeconds * 1000 }
    var trafficEnd: Timestamp { start.adding(seconds: configuration.trafficMinutes * 60) }

    /// The node's own wall clock (offset and drift from true time).
    func wall(_ i: Int) -> Timestamp {
        let elapsed = Double(now.milliseconds - start.milliseconds)
        return Timestamp(milliseconds: now.milliseconds + Int64((clocks[i].offset + elapsed * clocks[i].drift).rounded()))
    }

    func instant(_ i: Int) -> MeshInstant { MeshInstant(monotonic: now, wall: wall(i)) }

    /// Runs to the end (everything acknowledged after the traffic phase, or the drain time spent).
    public func run() -> MeshSimulationReport {
        let c = configuration
        for g in topology.gateways { perform(nodes[g].setUplink(health: 255, at: instant(g)), by: g) }
        for i in 0..<c.nodes {
            schedule(i)
            let phase = Int64(random.next() % UInt64(c.batchIntervalSeconds * 1000))
            events.schedule(.generate(i), at: start.adding(milliseconds: phase))
            if random.unitInterval() < c.eventShare {
                events.schedule(.generateEvent(i), at: start.adding(milliseconds: Int64(random.next() % UInt64(c.trafficMinutes * 60_000))))
            }
        }
        // Commands before the last batch interval of the traffic, so a device whose gateway died
        // sends one more batch (through a working gateway, which then carries the waiting command).
        let commandSpan = max(60_000, c.trafficMinutes * 60_000 - c.batchIntervalSeconds * 1000)
        for k in 0..<c.commands {
            events.schedule(.command, at: start.adding(milliseconds: commandSpan * Int64(k + 1) / Int64(c.commands + 1)))
        }
        if killedNode != nil {
            events.schedule(.kill, at: start.adding(milliseconds: Int64(Double(c.trafficMinutes * 60_000) * c.killAtFraction)))
        }
        events.schedule(.sample, at: start.adding(milliseconds: beaconMilliseconds / 10))
        let end = trafficEnd.adding(seconds: c.drainMinutes * 60)
        while true {
            let mediumNext = medium.nextDeliveryTime
            let eventNext = events.nextTime
            guard let next = [mediumNext, eventNext].compactMap({ $0 }).min(), next <= end else { break }
            if measurements.finished { break }
            now = next
            if let m = mediumNext, m <= next, eventNext == nil || m <= eventNext! {
                medium.deliverNext()
            } else if let (_, event) = events.pop() {
                medium.advance(to: now)
                handle(event)
            }
        }
        return report()
    }

    /// (Re)schedules node `i`'s tick at its next wake-up.
    func schedule(_ i: Int) {
        guard alive[i], let wake = nodes[i].nextWakeup() else { return }
        let at = max(wake, now)
        if let current = scheduledTick[i], current > now, current <= at { return }
        scheduledTick[i] = at
        events.schedule(.tick(i), at: at)
    }

    func received(_ datagram: MeshLinkDatagram, at i: Int) {
        guard alive[i] else { return }
        perform(nodes[i].receive(datagram, link: 0, at: instant(i)), by: i)
    }

    func handle(_ event: Event) {
        switch event {
        case .tick(let i):
            guard alive[i], scheduledTick[i] == now else { return }
            scheduledTick[i] = nil
            perform(nodes[i].tick(at: instant(i)), by: i)
        case .generate(let i):
            guard alive[i], now < trafficEnd else { return }
            generate(i, priority: .newestInterval)
            events.schedule(.generate(i), at: now.adding(seconds: configuration.batchIntervalSeconds))
        case .generateEvent(let i):
            guard alive[i], now < trafficEnd else { return }
            generate(i, priority: .event)
        case .resend(let i, let sequence):
            resend(i, sequence)
        case .arrival(let gateway, let message):
            arrived(message, via: gateway)
        case .puback(let g, let key):
            guard alive[g] else { return }
            nodes[g].upstreamDelivered(key)
            schedule(g)
        case .downward(let gateway, let device, let message):
            sendDownward(message, through: gateway, to: device)
        case .command:
            sendCommand()
        case .commandRetry(let device, let command, let left):
            let key = MeshMessageKey(type: .command, subject: nodes[device].id, sequence: command.sequence)
            guard alive[device], !executedCommands.contains(key) else { return }
            publish(command, to: device, retries: left)
        case .kill:
            kill()
        case .sample:
            sample()
            events.schedule(.sample, at: now.adding(milliseconds: beaconMilliseconds / 10))
        }
    }

    /// Carries out a node's actions.
    func perform(_ actions: [MeshAction], by i: Int) {
        for action in actions {
            switch action {
            case .transmit(_, let destination, let datagram, let priority):
                try? links[i].send(datagram, to: destination, priority: priority)
            case .publishUpstream(let message):
                events.schedule(.puback(i, message.key), at: now.adding(milliseconds: 150))
                events.schedule(.arrival(gateway: i, message), at: now.adding(milliseconds: 100))
            case .deliverLocally(let message):
                deliveredLocally(message, at: i)
            case .forwarded(let key, let next):
                checkForLoop(from: i, key: key, nextHop: next)
            case .handedOff, .refused:
                break
            }
        }
        measurements.maximumQueueDepth = max(measurements.maximumQueueDepth, nodes[i].relayQueue.count)
        schedule(i)
    }

    func kill() {
        guard let k = killedNode else { return }
        measurements.killedAt = now
        switch configuration.killMode {
        case .power:
            alive[k] = false
            medium.setAlive(k, false)
            measurements.stranded = outboxes[k].pending.count
            outboxes[k].pending = [:]
        case .uplink:
            perform(nodes[k].setUplink(health: 0, at: instant(k)), by: k)
        }
    }
}
