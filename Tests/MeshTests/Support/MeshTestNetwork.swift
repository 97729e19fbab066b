import ConcentratorCore
@testable import Mesh

/// A handful of real `MeshNode`s on a `SimulatedMedium` with an explicit topology, stepped on
/// virtual time; records what leaves the mesh (publishes at gateways, local deliveries).
final class MeshTestNetwork: @unchecked Sendable {
    let medium: SimulatedMedium
    var nodes: [MeshNode] = []
    var links: [SimulatedMeshLink] = []
    var published: [(gateway: Int, message: MeshDeliveredMessage)] = []
    var delivered: [(node: Int, message: MeshDeliveredMessage)] = []
    var actions: [(node: Int, action: MeshAction)] = []
    var autoPuback = true
    var start: Timestamp { Timestamp(milliseconds: 1_000_000) }
    var now: Timestamp { medium.now }

    init(count: Int, edges: [(Int, Int)], loss: Double = 0, mtu: Int = 1200, modulation: LoRaModulation? = nil, dutyCycle: Double? = nil,
         beaconSeconds: Int64 = 10, seed: UInt64 = 1, configure: (inout MeshNodeConfiguration) -> Void = { _ in }) {
        medium = SimulatedMedium(configuration: .init(loss: loss, delayMilliseconds: 1...10, modulation: modulation, seed: seed),
                                 start: Timestamp(milliseconds: 1_000_000))
        for i in 0..<count {
            let link = SimulatedMeshLink(medium: medium, endpoint: medium.addEndpoint(), mtu: mtu, dutyCycle: dutyCycle)
            var c = MeshNodeConfiguration(deviceID: Self.device(i), links: [link.properties])
            c.beaconIntervalMilliseconds = beaconSeconds * 1000
            c.retransmitInitialMilliseconds = 1_000
            c.seed = seed &+ UInt64(i)
            configure(&c)
            nodes.append(try! MeshNode(configuration: c, authenticator: MeshFixtures.authenticator, counterStore: InMemoryCounterStore(),
                                       relayQueue: InMemoryRelayQueueStore()))
            links.append(link)
        }
        for (a, b) in edges { medium.connect(a, b) }
        for i in 0..<count {
            try! links[i].start { [unowned self] datagram in
                self.perform(self.nodes[i].receive(datagram, link: 0, at: self.instant(i)), by: i)
            }
        }
    }

    static func device(_ i: Int) -> String { "node-\(i)" }

    func instant(_ i: Int) -> MeshInstant { MeshInstant(monotonic: medium.now, wall: medium.now) }

    func perform(_ list: [MeshAction], by i: Int) {
        for action in list {
            actions.append((i, action))
            switch action {
            case .transmit(_, let destination, let datagram, let priority):
                try? links[i].send(datagram, to: destination, priority: priority)
            case .publishUpstream(let message):
                published.append((i, message))
                if autoPuback { nodes[i].upstreamDelivered(message.key) }
            case .deliverLocally(let message):
                delivered.append((i, message))
            default:
                break
            }
        }
    }

    func setGateway(_ i: Int, health: UInt8 = 255) { perform(nodes[i].setUplink(health: health, at: instant(i)), by: i) }

    func submit(_ message: MeshOutboundMessage, at i: Int) throws { perform(try nodes[i].submit(message, at: instant(i)), by: i) }

    /// Runs deliveries and node timers in time order until `time`.
    func run(until time: Timestamp) {
        while true {
            let wake = nodes.indices.compactMap { i in nodes[i].nextWakeup().map { (max($0, medium.now), i) } }.min { $0.0 < $1.0 }
            let delivery = medium.nextDeliveryTime
            let next = [wake?.0, delivery].compactMap { $0 }.min()
            guard let next, next <= time else { break }
            if let delivery, delivery <= next {
                medium.deliverNext()
            } else if let (at, i) = wake {
                medium.advance(to: at)
                perform(nodes[i].tick(at: instant(i)), by: i)
            }
        }
        medium.advance(to: time)
    }

    func run(seconds: Int64) { run(until: now.adding(seconds: seconds)) }

    func data(from i: Int, sequence: UInt64, attempt: UInt8 = 0, bytes: Int = 300, priority: MeshPriority = .newestInterval) -> MeshOutboundMessage {
        MeshOutboundMessage(type: .data, deviceID: Self.device(i), sequence: sequence, attempt: attempt, priority: priority,
                            body: [UInt8](repeating: UInt8(truncatingIfNeeded: sequence), count: bytes))
    }
}
