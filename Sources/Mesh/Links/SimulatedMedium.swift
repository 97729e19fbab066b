import ConcentratorCore

/// An in-memory radio or LAN for tests and the simulator, on virtual time and deterministic for a
/// seed: endpoints hear the endpoints they are connected to; each datagram to each receiver is lost
/// with probability `loss`, delayed by a random `delayMilliseconds` (so datagrams reorder) and, with
/// a LoRa modulation, by its airtime after the sender's previous transmission ended (one radio sends
/// one packet at a time). Pairs can be cut (partitions) and endpoints switched off. Collisions and
/// capture are not modelled.
public final class SimulatedMedium: @unchecked Sendable {
    /// Loss, delay range, optional LoRa modulation (airtime) and the seed.
    public struct Configuration: Sendable {
        public var loss: Double
        public var delayMilliseconds: ClosedRange<Int64>
        public var modulation: LoRaModulation?
        public var seed: UInt64

        public init(loss: Double = 0, delayMilliseconds: ClosedRange<Int64> = 1...20, modulation: LoRaModulation? = nil, seed: UInt64 = 1) {
            self.loss = loss
            self.delayMilliseconds = delayMilliseconds
            self.modulation = modulation
            self.seed = seed
        }
    }

    /// What each endpoint sent and received.
    public struct EndpointStatistics: Hashable, Sendable {
        public var datagramsSent = 0
        public var bytesSent = 0
        public var airtimeMicroseconds: Int64 = 0
        public var datagramsDelivered = 0
        public var datagramsLost = 0
    }

    struct Delivery {
        var to: Int
        var datagram: MeshLinkDatagram
    }

    public let configuration: Configuration
    public private(set) var now: Timestamp
    private var random: SeededRandom
    private var receivers: [(@Sendable (MeshLinkDatagram) -> Void)?] = []
    private var hears: [Set<Int>] = []
    private var alive: [Bool] = []
    private var busyUntil: [Timestamp] = []
    private var cut: Set<[Int]> = []
    private var queue = VirtualTimeQueue<Delivery>()
    public private(set) var statistics: [EndpointStatistics] = []

    public init(configuration: Configuration, start: Timestamp) {
        self.configuration = configuration
        now = start
        random = SeededRandom(seed: configuration.seed)
    }

    /// Adds an endpoint; returns its number (its `MeshLinkAddress.simulated` address).
    public func addEndpoint() -> Int {
        receivers.append(nil)
        hears.append([])
        alive.append(true)
        busyUntil.append(now)
        statistics.append(EndpointStatistics())
        return receivers.count - 1
    }

    public var endpointCount: Int { receivers.count }

    /// Makes `a` and `b` hear each other.
    public func connect(_ a: Int, _ b: Int) {
        guard a != b else { return }
        hears[a].insert(b)
        hears[b].insert(a)
    }

    public func neighbours(of endpoint: Int) -> Set<Int> { hears[endpoint] }

    /// Cuts (or restores) the pair `a`–`b` without forgetting that they are in range.
    public func setCut(_ a: Int, _ b: Int, _ isCut: Bool) {
        let pair = [min(a, b), max(a, b)]
        if isCut { cut.insert(pair) } else { cut.remove(pair) }
    }

    /// Splits the medium: endpoints in different groups no longer hear each other.
    public func partition(_ groups: [Set<Int>]) {
        var group: [Int: Int] = [:]
        for (i, g) in groups.enumerated() { for e in g { group[e] = i } }
        for a in 0..<hears.count {
            for b in hears[a] where a < b && group[a] != group[b] { cut.insert([a, b]) }
        }
    }

    /// Removes every cut.
    public func heal() { cut = [] }

    /// Switches an endpoint off (it neither sends nor receives) or on.
    public func setAlive(_ endpoint: Int, _ isAlive: Bool) { alive[endpoint] = isAlive }

    func setReceiver(_ endpoint: Int, _ receive: (@Sendable (MeshLinkDatagram) -> Void)?) { receivers[endpoint] = receive }

    /// Puts a datagram on the air now.
    public func transmit(from sender: Int, _ bytes: [UInt8], to destination: MeshLinkDestination) {
        guard alive[sender] else { return }
        var start = now
        var airtime: Int64 = 0
        if let modulation = configuration.modulation {
            start = max(now, busyUntil[sender])
            airtime = modulation.airtimeMicroseconds(payloadBytes: bytes.count)
            busyUntil[sender] = start.adding(milliseconds: (airtime + 999) / 1000)
        }
        statistics[sender].datagramsSent += 1
        statistics[sender].bytesSent += bytes.count
        statistics[sender].airtimeMicroseconds += airtime
        let targets: [Int]
        switch destination {
        case .broadcast: targets = hears[sender].sorted()
        case .unicast(.simulated(let n)): targets = hears[sender].contains(n) ? [n] : []
        case .unicast: targets = []
        }
        for target in targets where alive[target] && !cut.contains([min(sender, target), max(sender, target)]) {
            if random.unitInterval() < configuration.loss {
                statistics[sender].datagramsLost += 1
                continue
            }
            let spread = configuration.delayMilliseconds
            let delay = spread.lowerBound + Int64(random.next() % UInt64(spread.upperBound - spread.lowerBound + 1))
            let at = start.adding(milliseconds: (airtime + 999) / 1000 + delay)
            queue.schedule(Delivery(to: target, datagram: MeshLinkDatagram(bytes: bytes, source: .simulated(sender), receivedAt: at)), at: at)
        }
    }

    /// When the next datagram arrives, if any is under way.
    public var nextDeliveryTime: Timestamp? { queue.nextTime }

    /// Delivers everything due up to `time` (in time order) and moves the medium's clock there.
    public func run(until time: Timestamp) {
        while let next = queue.nextTime, next <= time {
            deliverNext()
        }
        if time > now { now = time }
    }

    /// Delivers the next datagram (moving the clock to its arrival).
    public func deliverNext() {
        guard let (time, delivery) = queue.pop() else { return }
        if time > now { now = time }
        guard alive[delivery.to] else { return }
        let sender: Int
        if case .simulated(let s) = delivery.datagram.source { sender = s } else { sender = -1 }
        if sender >= 0 { statistics[sender].datagramsDelivered += 1 }
        receivers[delivery.to]?(delivery.datagram)
    }

    /// Moves the clock without delivering (callers deliver first).
    public func advance(to time: Timestamp) { if time > now { now = time } }
}

/// One endpoint of a `SimulatedMedium` as a `MeshLink`.
public final class SimulatedMeshLink: MeshLink, @unchecked Sendable {
    public let medium: SimulatedMedium
    public let endpoint: Int
    public let properties: MeshLinkProperties
    private var started = false
    public private(set) var statistics = MeshLinkStatistics()

    public init(medium: SimulatedMedium, endpoint: Int, mtu: Int, dutyCycle: Double? = nil) {
        self.medium = medium
        self.endpoint = endpoint
        properties = MeshLinkProperties(name: "sim\(endpoint)", kind: .simulated, mtu: mtu, modulation: medium.configuration.modulation,
                                        dutyCycle: dutyCycle)
    }

    public func start(receive: @escaping @Sendable (MeshLinkDatagram) -> Void) throws(MeshLinkError) {
        started = true
        medium.setReceiver(endpoint) { [weak self] datagram in
            self?.statistics.datagramsReceived += 1
            self?.statistics.bytesReceived += datagram.bytes.count
            receive(datagram)
        }
    }

    public func send(_ bytes: [UInt8], to destination: MeshLinkDestination, priority: MeshPriority) throws(MeshLinkError) {
        guard started else { throw .closed(link: properties.name) }
        guard bytes.count <= properties.mtu else { throw .tooLarge(link: properties.name, bytes: bytes.count, mtu: properties.mtu) }
        statistics.datagramsSent += 1
        statistics.bytesSent += bytes.count
        statistics.airtimeMicroseconds += properties.airtimeMicroseconds(byteCount: bytes.count)
        medium.transmit(from: endpoint, bytes, to: destination)
    }

    public func stop() {
        started = false
        medium.setReceiver(endpoint, nil)
    }
}
