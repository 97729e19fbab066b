import ConcentratorCore

/// What a simulation runs: the field (nodes, gateways, radio and loss), the traffic, and the fault.
public struct MeshSimulationConfiguration: Hashable, Sendable {
    /// How the killed gateway dies.
    public enum KillMode: String, Hashable, Sendable, CaseIterable {
        /// Power lost: the node vanishes with what it held; origins resend end to end.
        case power
        /// Only its uplink is lost: it retracts its route and relays over the mesh like any node.
        case uplink
    }

    /// The medium the nodes share.
    public enum LinkProfile: String, Hashable, Sendable, CaseIterable {
        /// LoRa at SF7/125 kHz: 200-byte MTU (frames fragmented), airtime delays, 1 % duty cycle.
        case lora
        /// A LAN or Wi-Fi mesh: 1200-byte MTU, 1–20 ms delays, no duty cycle.
        case lan
    }

    public var nodes = 200
    public var gateways = 3
    /// Loss of each datagram on each link.
    public var loss = 0.1
    /// Which gateway dies (1…gateways), 0 for none; `killAtFraction` of the traffic phase in.
    public var killGateway = 1
    public var killAtFraction = 0.5
    public var killMode = KillMode.power
    public var seed: UInt64 = 1
    public var link = LinkProfile.lan
    /// Average number of nodes each node hears.
    public var averageDegree = 8.0
    /// 60 s suits a LAN; on LoRa at 1 % a planner takes 300 s or more (beacons cost airtime).
    public var beaconIntervalSeconds: Int64 = 60
    /// Every node makes one interval batch this often; `trafficMinutes` long, then the mesh drains
    /// for up to `drainMinutes`.
    public var batchIntervalSeconds: Int64 = 3_600
    public var trafficMinutes: Int64 = 180
    public var drainMinutes: Int64 = 240
    /// Values per interval batch and the sealed batch's size (the wire's ~160 bytes of header, key
    /// and signature plus the compressed values).
    public var valuesPerBatch = 40
    public var batchBytes = 220
    /// The share of nodes that also send one event batch per traffic phase.
    public var eventShare = 0.1
    /// Commands the head-end sends to random devices during the traffic phase.
    public var commands = 10
    /// The origin's outbox resends an unacknowledged batch after this long (doubling).
    public var endToEndTimeoutMinutes: Int64 = 30
    /// Whether to sample route convergence (costs time in large runs).
    public var measureConvergence = true
    /// Churn: at every tenth of a beacon interval each link in range is cut or restored with this
    /// probability (0: a stable field).
    public var linkChurn = 0.0
    /// Also walk every node's route at every sample looking for a cycle (on by default up to 300 nodes).
    public var checkRouteGraph: Bool?

    public init() {}

    /// Checks the ranges a planning engineer could get wrong.
    public func validated() throws(MeshSimulationError) -> MeshSimulationConfiguration {
        guard (2...5_000).contains(nodes) else { throw .invalid("--nodes must be 2…5000") }
        guard (1...nodes).contains(gateways) else { throw .invalid("--gateways must be 1…nodes") }
        guard (0...0.9).contains(loss) else { throw .invalid("--loss must be 0…0.9") }
        guard (0...gateways).contains(killGateway) else { throw .invalid("--kill-gateway must be 0 (none) or 1…gateways") }
        guard (5...3_600).contains(beaconIntervalSeconds) else { throw .invalid("--beacon-interval must be 5…3600 seconds") }
        guard (60...86_400).contains(batchIntervalSeconds) else { throw .invalid("--batch-interval must be 60…86400 seconds") }
        guard (1...10_080).contains(trafficMinutes), (0...10_080).contains(drainMinutes) else { throw .invalid("--minutes out of range") }
        guard (1...10_000).contains(valuesPerBatch), (40...30_000).contains(batchBytes) else { throw .invalid("batch size out of range") }
        guard (2.0...40.0).contains(averageDegree) else { throw .invalid("--degree must be 2…40") }
        guard (0...0.5).contains(linkChurn) else { throw .invalid("--churn must be 0…0.5") }
        return self
    }
}

/// A simulation that cannot run as asked.
public enum MeshSimulationError: Error, Hashable, Sendable, CustomStringConvertible {
    case invalid(String)
    public var description: String {
        switch self { case .invalid(let what): return what }
    }
}

/// Where the nodes stand and who hears whom: a random geometric graph in the unit square, made
/// connected, with gateways spread out, and with every node still reaching a gateway when the
/// gateway to be killed is gone. Deterministic for a seed.
public struct MeshTopology: Hashable, Sendable {
    public var positions: [(x: Double, y: Double)]
    public var edges: [Set<Int>]
    public var gateways: [Int]

    public static func == (a: MeshTopology, b: MeshTopology) -> Bool {
        a.edges == b.edges && a.gateways == b.gateways && a.positions.map(\.x) == b.positions.map(\.x)
            && a.positions.map(\.y) == b.positions.map(\.y)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(edges)
        hasher.combine(gateways)
    }

    /// `bridgingAround`: the index (in `gateways`) of a gateway that will die; every node must still
    /// reach another gateway without it.
    public init(nodes: Int, gateways: Int, averageDegree: Double, bridgingAround killedGateway: Int?, seed: UInt64) {
        var random = SeededRandom(seed: SeededRandom.mix(seed ^ 0x746F_706F))
        self.gateways = []
        positions = (0..<nodes).map { _ in (random.unitInterval(), random.unitInterval()) }
        let radius = (averageDegree / (Double.pi * Double(nodes))).squareRoot()
        edges = Array(repeating: [], count: nodes)
        for a in 0..<nodes {
            for b in (a + 1)..<nodes where distance(a, b) <= radius {
                edges[a].insert(b)
                edges[b].insert(a)
            }
        }
        // Gateways by farthest-point sampling from the node nearest the centre.
        let centre = (0..<nodes).min { hypot(positions[$0].x - 0.5, positions[$0].y - 0.5) < hypot(positions[$1].x - 0.5, positions[$1].y - 0.5) }!
        var chosen = [centre]
        while chosen.count < gateways {
            let next = (0..<nodes).filter { !chosen.contains($0) }.max { a, b in
                chosen.map { distance(a, $0) }.min()! < chosen.map { distance(b, $0) }.min()!
            }!
            chosen.append(next)
        }
        self.gateways = chosen
        bridge(without: nil)
        if let killedGateway, chosen.indices.contains(killedGateway) { bridge(without: chosen[killedGateway]) }
    }

    func distance(_ a: Int, _ b: Int) -> Double { hypot(positions[a].x - positions[b].x, positions[a].y - positions[b].y) }

    private func hypot(_ x: Double, _ y: Double) -> Double { (x * x + y * y).squareRoot() }

    /// Connects every component without a (surviving) gateway to the nearest node of one that has one.
    private mutating func bridge(without removed: Int?) {
        while true {
            let components = self.components(without: removed)
            let live = Set(gateways.filter { $0 != removed })
            guard let stranded = components.first(where: { $0.isDisjoint(with: live) }) else { return }
            let served = components.filter { !$0.isDisjoint(with: live) }.reduce(into: Set<Int>()) { $0.formUnion($1) }
            var best: (Int, Int)?
            for a in stranded.sorted() {
                for b in served.sorted() where best == nil || distance(a, b) < distance(best!.0, best!.1) { best = (a, b) }
            }
            guard let (a, b) = best else { return }
            edges[a].insert(b)
            edges[b].insert(a)
        }
    }

    /// Connected components, optionally without one node.
    public func components(without removed: Int?) -> [Set<Int>] {
        var seen = Set<Int>()
        var out: [Set<Int>] = []
        for start in 0..<edges.count where start != removed && !seen.contains(start) {
            var component: Set<Int> = [start]
            var stack = [start]
            seen.insert(start)
            while let n = stack.popLast() {
                for m in edges[n].sorted() where m != removed && !seen.contains(m) {
                    seen.insert(m)
                    component.insert(m)
                    stack.append(m)
                }
            }
            out.append(component)
        }
        return out
    }

    /// Hops from every node to the nearest of `gateways` (nil: unreachable), without `removed`.
    public func hopsToGateways(_ gateways: [Int], without removed: Int?) -> [Int?] {
        var hops = [Int?](repeating: nil, count: edges.count)
        var frontier = gateways.filter { $0 != removed }
        for g in frontier { hops[g] = 0 }
        var depth = 0
        while !frontier.isEmpty {
            depth += 1
            var next: [Int] = []
            for n in frontier {
                for m in edges[n].sorted() where m != removed && hops[m] == nil {
                    hops[m] = depth
                    next.append(m)
                }
            }
            frontier = next
        }
        return hops
    }
}
