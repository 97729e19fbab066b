import ConcentratorCore
import Logging
import Mesh
import Platform
import Uplink

/// Why the mesh could not start. Names the file or link and what to do; never a key.
public enum MeshServiceError: Error, CustomStringConvertible {
    case key(MeshKeyFileError)
    case store(RelayQueueStoreError)
    case link(MeshLinkError)
    case setup(String)

    public var description: String {
        switch self {
        case .key(let e): return "\(e)"
        case .store(let e): return "\(e)"
        case .link(let e): return "mesh link: \(e)"
        case .setup(let s): return s
        }
    }
}

/// The mesh inside the agent (Docs/mesh.md, "Integration"): one dedicated thread (`mesh`) owns the
/// `MeshNode`, its links and the SQLite relay queue. Link threads and the agent hand it work through
/// an inbox; it ticks the node at its next wakeup and performs the node's actions: transmissions on
/// the links, relayed batches to the broker (on a gateway, through `MeshGatewayRelay`), head-end acks
/// to the uplink's drain and commands to the command processor (on a leaf). It is also the drain's
/// `BatchRoute` while the device's own broker is unreachable.
public final class MeshService: BatchRoute, @unchecked Sendable {
    public let settings: MeshSettings
    let deviceID: String
    let logger: Logger
    let stateDirectory: String
    private let monotonic = MonotonicClock()
    private let wallClock: any WallClock
    private let lock = ConditionLock()
    private var inbox: [(MeshNode, MeshInstant) -> [MeshAction]] = []
    private var stopped = false
    private var finished = false
    private var snapshot: MeshNodeStatus?
    private var routeAvailable = false
    private var links: [any MeshLink] = []
    private var fingerprint: String?
    /// The node and its store, owned by the mesh thread once it runs.
    private var running: (MeshNode, SQLiteRelayQueueStore)?
    private var lastProgressAt = ContinuousClock.now
    /// The gateway side: the broker connection for relayed traffic (nil without an uplink section).
    let relay: MeshGatewayRelay?
    /// A head-end ack for this device arrived over the mesh.
    private let onAck: @Sendable ([UInt8]) -> Void
    /// A command for this device arrived over the mesh.
    private let onCommand: @Sendable ([UInt8]) -> Void
    /// The device's own broker connection (gateway health needs both it and the relay connection).
    private let ownUplinkConnected: @Sendable () -> Bool

    public init(settings: MeshSettings, deviceID: String, stateDirectory: String, uplink: UplinkSettings?, clock: any WallClock,
                logger: Logger, ownUplinkConnected: @escaping @Sendable () -> Bool, onAck: @escaping @Sendable ([UInt8]) -> Void,
                onCommand: @escaping @Sendable ([UInt8]) -> Void) {
        self.settings = settings
        self.deviceID = deviceID
        self.stateDirectory = stateDirectory
        self.wallClock = clock
        var log = logger
        log[metadataKey: "mesh"] = .string(deviceID)
        self.logger = log
        self.ownUplinkConnected = ownUplinkConnected
        self.onAck = onAck
        self.onCommand = onCommand
        relay = uplink.flatMap { settings.gateway == .never ? nil : MeshGatewayRelay(uplink: $0, deviceID: deviceID, logger: log) }
    }

    /// The mesh database's path under the state directory.
    public static func databasePath(stateDirectory: String) -> String { FileSystem.join(stateDirectory, "mesh.sqlite") }

    // MARK: Lifecycle

    /// Reads the key, opens the relay queue, opens the links and starts the mesh thread.
    public func start() throws(MeshServiceError) {
        let key: MeshNetworkKey
        var accepted: [MeshNetworkKey] = []
        do {
            key = try MeshNetworkKeyFile.load(path: settings.networkKeyFile, epoch: UInt8(settings.keyEpoch))
            if let previous = settings.previousNetworkKeyFile {
                accepted.append(try MeshNetworkKeyFile.load(path: previous, epoch: UInt8((settings.keyEpoch + 255) % 256)))
            }
        } catch {
            throw .key(error)
        }
        let store: SQLiteRelayQueueStore
        do {
            store = try SQLiteRelayQueueStore(path: Self.databasePath(stateDirectory: stateDirectory), capacity: settings.relayQueueMaxMessages,
                                              payloadCapacityBytes: settings.relayQueueMaxBytes)
            try store.restartTimers(at: monotonic.now())
        } catch {
            throw .store(error)
        }
        let opened = try openLinks()
        var configuration = MeshNodeConfiguration(deviceID: deviceID, links: opened.map(\.properties))
        configuration.beaconIntervalMilliseconds = Int64(settings.beaconIntervalSeconds) * 1000
        configuration.defaultTTL = UInt8(settings.ttl)
        configuration.relayCapacity = settings.relayQueueMaxMessages
        configuration.relayPayloadCapacityBytes = settings.relayQueueMaxBytes
        configuration.seed = UInt64(bitPattern: wallClock.now().milliseconds) ^ 0x6D65_7368
        // Gateway seqnos continue above anything this node issued before (they form a Lamport clock).
        configuration.initialGatewaySeqno = UInt16(truncatingIfNeeded: wallClock.now().milliseconds / 1000)
        let node: MeshNode
        do {
            node = try MeshNode(configuration: configuration, authenticator: MeshFrameAuthenticator(current: key, accepted: accepted),
                                counterStore: store, relayQueue: store)
        } catch {
            for link in opened { link.stop() }
            throw .setup("mesh node: \(error)")
        }
        lock.withLock {
            links = opened
            fingerprint = key.fingerprint
        }
        for (index, link) in opened.enumerated() {
            do {
                try link.start { [weak self] datagram in
                    self?.post { node, now in node.receive(datagram, link: index, at: now) }
                }
            } catch {
                for l in opened { l.stop() }
                throw .link(error)
            }
        }
        relay?.start(onDownward: { [weak self] message in
            self?.post { node, now in (try? node.submit(message, at: now)) ?? [] }
        })
        logger.info("mesh: node \(node.id) on \(opened.map(\.properties.name).joined(separator: ", ")); \(key); relay queue holds \(store.count)")
        lock.withLock { running = (node, store) }
        DedicatedThread.start(name: "mesh") { [self] in
            guard let (node, store) = lock.withLock({ running }) else { return }
            run(node: node, store: store)
        }
    }

    /// Stops the thread, the links and the relay connection (what the relay queue holds stays on disk).
    public func stop() {
        let running = lock.withLock { () -> [any MeshLink] in
            stopped = true
            return links
        }
        lock.broadcast()
        for link in running { link.stop() }
        lock.withLock { while !finished { _ = lock.wait(for: .milliseconds(200)) } }
        relay?.stop()
    }

    private func openLinks() throws(MeshServiceError) -> [any MeshLink] {
        var opened: [any MeshLink] = []
        for u in settings.udp {
            var s = UDPMeshLink.Settings()
            s.name = u.name
            guard case .ipv4(let host, _)? = MeshLinkAddress.ipv4(parsing: "\(u.bindAddress):\(u.port)") else {
                throw .setup("mesh link \(u.name): bind address \(u.bindAddress) is not IPv4")
            }
            s.bindHost = host
            s.port = UInt16(u.port)
            s.broadcastTargets = u.peers.compactMap { MeshLinkAddress.ipv4(parsing: $0) }
            do { opened.append(try UDPMeshLink(settings: s, clock: monotonic)) } catch {
                for l in opened { l.stop() }
                throw .link(error)
            }
        }
        for r in settings.radios {
            do { opened.append(try MeshRadioOpener.open(r, clock: monotonic)) } catch {
                for l in opened { l.stop() }
                throw error
            }
        }
        return opened
    }

    /// Hands `job` to the mesh thread.
    func post(_ job: @escaping (MeshNode, MeshInstant) -> [MeshAction]) {
        lock.withLock { inbox.append(job) }
        lock.broadcast()
    }

    // MARK: The mesh thread

    private func run(node: MeshNode, store: SQLiteRelayQueueStore) {
        var lastHealth: UInt8 = 0
        var nextHousekeeping = ContinuousClock.now
        while true {
            lock.lock()
            if stopped {
                finished = true
                lock.unlock()
                lock.broadcast()
                store.close()
                return
            }
            if inbox.isEmpty {
                let wake = node.nextWakeup().map { $0.milliseconds - monotonic.now().milliseconds } ?? 1_000
                _ = lock.wait(for: .milliseconds(max(1, min(wake, 500))))
            }
            let jobs = inbox
            inbox = []
            lastProgressAt = .now
            lock.unlock()
            let now = MeshInstant(monotonic: monotonic.now(), wall: wallClock.now())
            var actions: [MeshAction] = []
            if ContinuousClock.now >= nextHousekeeping {
                nextHousekeeping = .now + .seconds(1)
                let health: UInt8 = (relay?.isConnected ?? false) && ownUplinkConnected() ? 255 : 0
                if health != lastHealth {
                    logger.notice("mesh: \(health > 0 ? "gateway: the broker is reachable, announcing" : "relay: no broker, not announcing")")
                    actions += node.setUplink(health: health, at: now)
                    lastHealth = health
                }
                node.setLocalClockSynchronised(ClockSynchronisation.isSynchronised())
            }
            for job in jobs { actions += job(node, now) }
            if let wake = node.nextWakeup(), wake <= now.monotonic { actions += node.tick(at: now) }
            perform(actions, node: node)
            if !jobs.isEmpty || !actions.isEmpty || ContinuousClock.now >= nextHousekeeping - .milliseconds(900) {
                let status = node.status(at: now)
                lock.withLock {
                    snapshot = status
                    routeAvailable = status.role == .relay
                }
            }
        }
    }

    private func perform(_ actions: [MeshAction], node: MeshNode) {
        let current = lock.withLock { links }
        for action in actions {
            switch action {
            case .transmit(let link, let destination, let datagram, let priority):
                do { try current[link].send(datagram, to: destination, priority: priority) } catch {
                    logger.debug("mesh: send on \(current[link].properties.name) failed: \(error)")
                }
            case .publishUpstream(let message):
                guard let relay else {
                    node.upstreamFailed(message.key, retryAt: monotonic.now().adding(milliseconds: 10_000))
                    continue
                }
                relay.publish(message) { [weak self] delivered in
                    guard let self else { return }
                    let retry = monotonic.now().adding(milliseconds: 10_000)
                    post { node, _ in
                        if delivered { node.upstreamDelivered(message.key) } else { node.upstreamFailed(message.key, retryAt: retry) }
                        return []
                    }
                }
            case .deliverLocally(let message):
                switch message.key.type {
                case .headEndAck: onAck(message.body)
                case .command: onCommand(message.body)
                default: break
                }
            case .refused(let key):
                logger.info("mesh: \(key) refused on the way; the outbox sends it again")
            case .forwarded, .handedOff:
                break
            }
        }
    }

    // MARK: BatchRoute (this device's own traffic)

    /// Whether the mesh has a route to a gateway now.
    public var isAvailable: Bool { lock.withLock { routeAvailable } }

    public func send(sealedBatch: [UInt8], sequence: Int64, attempt: Int, isEvent: Bool, isBackfill: Bool) async throws {
        let message = MeshOutboundMessage(type: .data, deviceID: deviceID, sequence: UInt64(bitPattern: sequence),
                                          attempt: UInt8(clamping: attempt), priority: isEvent ? .event : isBackfill ? .backlog : .newestInterval,
                                          body: sealedBatch)
        try await submit(message)
    }

    /// Sends a signed command reply over the mesh (when the device's broker is unreachable);
    /// returns whether the mesh took it.
    public func sendReply(_ bytes: [UInt8]) -> Bool {
        guard isAvailable else { return false }
        let message = MeshOutboundMessage(type: .commandReply, deviceID: deviceID, sequence: MeshOutboundMessage.number(for: bytes),
                                          priority: .control, body: bytes)
        return waitForAsync { [self] () async -> Bool in
            do { try await submit(message) } catch { return false }
            return true
        }
    }

    private func submit(_ message: MeshOutboundMessage) async throws {
        let outcome = await withCheckedContinuation { (continuation: CheckedContinuation<MeshSubmitError?, Never>) in
            post { node, now in
                do throws(MeshSubmitError) {
                    let actions = try node.submit(message, at: now)
                    continuation.resume(returning: nil)
                    return actions
                } catch {
                    continuation.resume(returning: error)
                    return []
                }
            }
        }
        if let outcome { throw outcome }
    }

    // MARK: Status

    /// The node's state as of the mesh thread's last round (nil before the first).
    public var status: MeshNodeStatus? { lock.withLock { snapshot } }

    /// The network key's fingerprint once started.
    var keyFingerprint: String? { lock.withLock { fingerprint } }

    /// The links' names by index.
    var linkNamesByIndex: [String] { lock.withLock { links.map(\.properties.name) } }

    /// When the mesh thread last went round (for the systemd watchdog).
    public var lastProgress: ContinuousClock.Instant { lock.withLock { lastProgressAt } }
}
