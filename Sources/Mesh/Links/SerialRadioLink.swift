#if canImport(Glibc)
import Glibc
#endif
import ConcentratorCore
import Platform

/// A LoRa radio link through an RN2483 modem on a serial port (`RN2483Protocol`). The port is opened
/// by the caller (the agent opens it with the bus layer's serial port: lock, 57600 8N1, raw) and
/// handed over as a descriptor; a PTY pair stands in for the modem in tests. One dedicated thread
/// (`mesh-radio`) owns the descriptor: it configures the modem, keeps it listening, and for each
/// queued packet stops listening, transmits and listens again. `send` enforces the duty-cycle
/// budget (its own ledger, the last guard behind the node's scheduling) and queues.
public final class SerialRadioLink: MeshLink, @unchecked Sendable {
    /// The radio's frequency, modulation, power, duty-cycle limit, MTU and timeouts.
    public struct Settings: Sendable {
        public var name = "lora0"
        public var frequencyHz = 868_100_000
        public var modulation = LoRaModulation()
        public var powerDbm = 14
        /// Nil: the EU868 limit of the frequency (1 % in 868.0–868.6 MHz); a frequency without a
        /// known limit must be given one.
        public var dutyCycle: Double?
        public var dutyCycleWindowMilliseconds: Int64 = 3_600_000
        /// Bytes per packet (≤ 255 for the modem; 200 keeps airtime per packet moderate).
        public var mtu = 200
        public var responseTimeoutMilliseconds: Int32 = 2_000
        public var queueLimit = 64

        public init() {}
    }

    public let settings: Settings
    public let properties: MeshLinkProperties
    private let fd: Int32
    private let ownsDescriptor: Bool
    private let clock: any WallClock
    private let lock = ConditionLock()
    private var queue: [(packet: [UInt8], priority: MeshPriority)] = []
    /// Airtime queued but not yet on the air (admitted, not yet in the ledger).
    private var queuedAirtime: Int64 = 0
    private var budget: DutyCycleBudget
    private var counters = MeshLinkStatistics()
    private var running = false
    private var stopping = false
    private var finished = false
    private var decoder = RN2483Protocol.LineDecoder()
    private var receiver: (@Sendable (MeshLinkDatagram) -> Void)?
    /// Transmissions the modem confirmed, with the instant each was handed over (for tests and status).
    public private(set) var modemErrors = 0

    public init(fileDescriptor: Int32, ownsDescriptor: Bool, settings: Settings = Settings(),
                clock: any WallClock = MonotonicClock()) throws(MeshLinkError) {
        let modulation: LoRaModulation
        do { modulation = try settings.modulation.validated() } catch {
            throw .io(link: settings.name, detail: "radio settings: \(error)")
        }
        guard let duty = settings.dutyCycle ?? EU868DutyCycle.limit(forFrequencyHz: settings.frequencyHz) else {
            throw .io(link: settings.name, detail: "no duty-cycle limit known for \(settings.frequencyHz) Hz; configure one")
        }
        guard (20...RN2483Protocol.maximumPacket).contains(settings.mtu) else {
            throw .io(link: settings.name, detail: "MTU \(settings.mtu) outside 20…\(RN2483Protocol.maximumPacket)")
        }
        self.settings = settings
        fd = fileDescriptor
        self.ownsDescriptor = ownsDescriptor
        self.clock = clock
        budget = DutyCycleBudget(dutyCycle: duty, windowMilliseconds: settings.dutyCycleWindowMilliseconds)
        properties = MeshLinkProperties(name: settings.name, kind: .loraSerial, mtu: settings.mtu, modulation: modulation, dutyCycle: duty)
    }

    public var statistics: MeshLinkStatistics { lock.withLock { counters } }

    /// The duty-cycle ledger now.
    public func dutyCycleStatus() -> DutyCycleStatus {
        let now = clock.now()
        return lock.withLock { budget.status(at: now) }
    }

    public func start(receive: @escaping @Sendable (MeshLinkDatagram) -> Void) throws(MeshLinkError) {
        lock.lock()
        let refused = running || stopping
        if !refused {
            running = true
            receiver = receive
        }
        lock.unlock()
        if refused { throw .closed(link: settings.name) }
        DedicatedThread.start(name: "mesh-radio") { [self] in run() }
    }

    public func send(_ bytes: [UInt8], to destination: MeshLinkDestination, priority: MeshPriority) throws(MeshLinkError) {
        guard bytes.count <= properties.mtu else { throw .tooLarge(link: settings.name, bytes: bytes.count, mtu: properties.mtu) }
        let airtime = properties.airtimeMicroseconds(byteCount: bytes.count)
        let now = clock.now()
        lock.lock()
        let problem: MeshLinkError?
        if !running || stopping {
            problem = .closed(link: settings.name)
        } else if queue.count >= settings.queueLimit {
            problem = .queueFull(link: settings.name)
        } else {
            // Admitted with what is already queued counted in; recorded in the ledger when it goes on air.
            let verdict = budget.admission(airtimeMicroseconds: airtime + queuedAirtime, priority: priority, at: now)
            if verdict == .allowed {
                queuedAirtime += airtime
                queue.append((bytes, priority))
                problem = nil
            } else {
                problem = .dutyCycle(link: settings.name, verdict)
            }
        }
        lock.unlock()
        if let problem { throw problem }
        lock.broadcast()
    }

    public func stop() {
        lock.withLock { stopping = true }
        lock.broadcast()
        lock.withLock {
            while running && !finished { lock.wait(for: .milliseconds(100)) }
        }
        if ownsDescriptor { close(fd) }
    }

    // MARK: - The radio thread

    private var shouldStop: Bool { lock.withLock { stopping } }

    private func run() {
        defer {
            lock.withLock { finished = true }
            lock.broadcast()
        }
        var configured = false
        while !shouldStop && !configured {
            configured = configure()
            if !configured { sleepThread(.seconds(2)) }
        }
        var listening = false
        while !shouldStop {
            if !listening { listening = command(RN2483Protocol.listen, accept: { $0 == .ok }) }
            if let packet = nextPacketOnAir() {
                if listening {
                    _ = command(RN2483Protocol.stopListening, accept: { $0 == .ok })
                    listening = false
                }
                transmit(packet)
                continue
            }
            guard let bytes = FileDescriptorIO.read(fd, timeoutMilliseconds: 50) else {
                sleepThread(.milliseconds(200))
                continue
            }
            for response in decoder.feed(bytes) {
                switch response {
                case .received(let data):
                    deliver(data)
                    listening = false
                case .radioError:
                    listening = false
                default:
                    break
                }
            }
        }
    }

    /// The next queued packet once the ledger lets it go now; it is recorded as on air from this instant.
    private func nextPacketOnAir() -> [UInt8]? {
        while !shouldStop {
            let now = clock.now()
            let wait: Int64? = lock.withLock {
                guard let first = queue.first else { return nil }
                let airtime = properties.airtimeMicroseconds(byteCount: first.packet.count)
                switch budget.admission(airtimeMicroseconds: airtime, priority: first.priority, at: now) {
                case .allowed:
                    budget.record(airtimeMicroseconds: airtime, at: now)
                    queuedAirtime -= airtime
                    return 0
                case .deferred(let until): return max(1, until.milliseconds - now.milliseconds)
                case .tooLong:
                    queue.removeFirst()
                    queuedAirtime -= airtime
                    counters.datagramsDropped += 1
                    return 1
                }
            }
            guard let wait else { return nil }
            if wait == 0 { return lock.withLock { queue.removeFirst().packet } }
            sleepThread(.milliseconds(min(wait, 200)))
        }
        return nil
    }

    private func configure() -> Bool {
        for line in RN2483Protocol.configuration(modulation: properties.modulation!, frequencyHz: settings.frequencyHz,
                                                 powerDbm: settings.powerDbm) {
            guard command(line, accept: { if case .paused = $0 { return true }; return $0 == .ok }) else { return false }
        }
        return true
    }

    private func transmit(_ packet: [UInt8]) {
        guard command(RN2483Protocol.transmit(packet), accept: { $0 == .ok }) else {
            lock.withLock { counters.datagramsDropped += 1 }
            return
        }
        let airtimeMilliseconds = Int32(properties.airtimeMicroseconds(byteCount: packet.count) / 1000)
        let done = awaitResponse(timeoutMilliseconds: airtimeMilliseconds + settings.responseTimeoutMilliseconds) {
            $0 == .transmitted || $0 == .radioError
        }
        lock.withLock {
            if done == .transmitted {
                counters.datagramsSent += 1
                counters.bytesSent += packet.count
                counters.airtimeMicroseconds += properties.airtimeMicroseconds(byteCount: packet.count)
            } else {
                counters.datagramsDropped += 1
                modemErrors += 1
            }
        }
    }

    /// Writes a command and waits for a response `accept` likes; packets heard meanwhile are delivered.
    private func command(_ line: [UInt8], accept: (RN2483Protocol.Response) -> Bool) -> Bool {
        guard FileDescriptorIO.writeAll(fd, line) else { return false }
        return awaitResponse(timeoutMilliseconds: settings.responseTimeoutMilliseconds, accept) != nil
    }

    private func awaitResponse(timeoutMilliseconds: Int32, _ accept: (RN2483Protocol.Response) -> Bool) -> RN2483Protocol.Response? {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeoutMilliseconds))
        while ContinuousClock.now < deadline {
            guard let bytes = FileDescriptorIO.read(fd, timeoutMilliseconds: 20) else { return nil }
            for response in decoder.feed(bytes) {
                if case .received(let data) = response { deliver(data) }
                if accept(response) { return response }
            }
        }
        return nil
    }

    private func deliver(_ data: [UInt8]) {
        let receiver = lock.withLock {
            counters.datagramsReceived += 1
            counters.bytesReceived += data.count
            return self.receiver
        }
        receiver?(MeshLinkDatagram(bytes: data, source: .radio, receivedAt: clock.now()))
    }
}
