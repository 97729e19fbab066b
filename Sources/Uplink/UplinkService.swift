import Archive
import ConcentratorCore
import Crypto
import FoundationEssentials
import KeyFiles
import Logging
import MQTT
import Platform
import Wire

/// Why the uplink cannot start with its configuration.
public enum UplinkSetupError: Error, CustomStringConvertible {
    case keys(KeyFileError)
    case secretFile(SecretFileError)
    case settings(MQTTError)
    case deviceID(String)

    public var description: String {
        switch self {
        case .keys(let e): return "head-end keys: \(e)"
        case .secretFile(let e): return "uplink secret file: \(e)"
        case .settings(let e): return "uplink settings: \(e)"
        case .deviceID(let id): return "device id \(id) cannot be used in MQTT topics"
        }
    }
}

/// The device side of the uplink: seals outbox entries, publishes them to the broker at a bounded
/// rate, and deletes each one only when the head-end's signed ack for exactly that batch arrives
/// (rule 5: a broker PUBACK is not enough). Unacknowledged batches are resent, byte-identical, after
/// a reconnect or when the ack does not come in time. Events go first. A retained status document
/// and a last will tell the head-end whether the device is online.
public final class UplinkService: @unchecked Sendable {
    public let settings: UplinkSettings
    let deviceID: String
    let topics: UplinkTopics
    let archive: ArchiveStore
    /// The head-end keys from `uplink.headEndKeys`: the sealing key, ack keys and command keys with roles.
    public let headEnd: HeadEndKeys
    let clock: any WallClock
    let logger: Logger
    let client: MQTTClient
    let sealer: OutboxSealer
    let busHealth: @Sendable () -> [UplinkStatusDocument.Bus]
    let startedAt: Timestamp

    // Shared state, guarded by `lock`.
    let lock = ConditionLock()
    /// The drain's policy (window, acks, resends, holds, events first, rate); the service performs its actions.
    var machine: OutboxDrainMachine
    /// Where the drain's events go (the agent's event recorder; by default straight to this uplink).
    var eventSink: (@Sendable (GatewayEvent) -> Void)?
    /// The device keys (the enrolment request is signed with the signing key).
    let keys: DeviceKeys
    var workPending = true
    var pendingEvents: [GatewayEvent] = []
    var stopped = false
    var progress = ContinuousClock.now
    var state: UplinkState
    var tasks: [Task<Void, Never>] = []
    /// Bad acks (not verifying, or naming another batch) logged individually this minute (issue 17 #12).
    var badAcks = MinuteAllowance(perMinute: UplinkService.badAcksLoggedPerMinute)
    /// Receives every message on the device's command topic (set before `start`).
    var commandHandler: (@Sendable ([UInt8]) -> Void)?
    /// The way to the head-end while the broker is unreachable (the mesh); nil: the broker only.
    var alternateRoute: (any BatchRoute)?
    /// Adds to the status document before it is published (the mesh's state).
    var statusDecorator: (@Sendable (inout UplinkStatusDocument) -> Void)?
    /// Whether the drain machine was told "connected" because of the alternate route (not the broker).
    var routeActive = false

    /// Bad acks logged one line each per minute, at most; the rest are counted (as commands are).
    public static let badAcksLoggedPerMinute = 60
    /// Published batches awaiting the head-end's ack at once, at most.
    static let window = 32
    /// Events waiting to be queued while the archive refuses them, at most (the oldest go first).
    static let pendingEventLimit = 500
    /// The largest MQTT packet the device accepts: a command frame of the largest body, its header,
    /// signature, topic and properties.
    public static let maximumIncomingPacket = CommandEnvelope.maximumBodyBytes + 4096
    /// How long `stop()` waits for the acks of the last events (agent_stopping) before it disconnects.
    static let finalEventsWait: Duration = .seconds(2)

    public init(settings: UplinkSettings, deviceID: String, keys: DeviceKeys, archive: ArchiveStore,
                schedules: [SeriesKind: IntervalSchedule], clock: any WallClock, logger: Logger,
                startupGrace: Duration = .seconds(2), busHealth: @escaping @Sendable () -> [UplinkStatusDocument.Bus]) throws(UplinkSetupError) {
        self.settings = settings
        self.deviceID = deviceID
        self.keys = keys
        guard let topics = UplinkTopics(deviceID: deviceID, prefix: settings.topicPrefix) else { throw .deviceID(deviceID) }
        self.topics = topics
        self.archive = archive
        self.clock = clock
        var log = logger
        log[metadataKey: "uplink"] = .string(settings.broker.host)
        self.logger = log
        self.busHealth = busHealth
        startedAt = clock.now()
        do { headEnd = try HeadEndKeys.load(paths: settings.headEndKeyFiles) } catch { throw .keys(error) }
        let sealer: BatchSealer
        do {
            sealer = try BatchSealer(deviceID: deviceID, signingKey: keys.signing, headEndSealingKey: headEnd.sealingKey)
        } catch {
            throw .keys(.malformed(path: "head-end sealing key", reason: "\(error)"))
        }
        self.sealer = OutboxSealer(archive: archive, sealer: sealer, schedules: schedules, logger: log)
        let mqtt = try Self.clientSettings(settings, deviceID: deviceID, topics: topics)
        do { try mqtt.validate() } catch { throw .settings(error) }
        client = MQTTClient(settings: mqtt, logger: log)
        state = UplinkState(broker: mqtt.brokerAddress)
        machine = OutboxDrainMachine(policy: .init(window: Self.window, ackTimeout: .seconds(settings.acknowledgementTimeoutSeconds),
                                                   bytesPerSecond: settings.drain.maxBytesPerSecond, startupGrace: startupGrace),
                                     now: .now)
    }

    static func clientSettings(_ s: UplinkSettings, deviceID: String, topics: UplinkTopics) throws(UplinkSetupError) -> MQTTClientSettings {
        let will = MQTTWill(topic: topics.status,
                            payload: UplinkStatusDocument(device: deviceID, state: "offline", unexpected: true).encoded())
        do {
            var settings = try MQTTClientSettings(broker: s.broker, clientID: s.broker.clientID ?? deviceID, will: will)
            // The largest thing the head-end sends is a signed command; the broker never sends more
            // (issue 17 #5: a retained 64 MiB message on the command topic OOM-killed the agent).
            settings.maximumPacketSize = UInt32(Self.maximumIncomingPacket)
            settings.incomingQueueLimit = 16
            return settings
        } catch {
            throw .secretFile(error)
        }
    }

    // MARK: Lifecycle

    /// Connects (in the background, retrying forever) and starts draining the outbox.
    public func start() throws(MQTTError) {
        try client.start()
        let t1 = Task { [self] in await watchConnection() }
        let t2 = Task { [self] in await receiveMessages() }
        let t3 = Task { [self] in await drain() }
        lock.withLock { tasks = [t1, t2, t3] }
        logger.info("uplink: device \(deviceID) to \(client.settings.brokerAddress); head-end sealing key \(headEnd.sealingKey.id)")
    }

    /// Queues the events still pending (agent_stopping) in the outbox, so they are sent after a
    /// restart at the latest; sends them now and waits briefly for their acks when connected; then
    /// says goodbye (offline status), disconnects cleanly and stops the tasks.
    public func stop() async {
        let running = lock.withLock { () -> [Task<Void, Never>] in
            stopped = true
            return tasks
        }
        await sendFinalEvents()
        for t in running { t.cancel() }
        if client.isConnected {
            _ = try? await client.publish(topic: topics.status, payload: UplinkStatusDocument(device: deviceID, state: "offline",
                                                                                              unexpected: false).encoded(), retain: true)
        }
        await client.stop()
        sealer.stop()
    }

    /// `stop()` for a dedicated (non-async) thread: blocks it until done.
    public func stopBlocking() {
        waitForAsync { [self] in await stop() }
    }

    /// Subscribes to the device's command topic from the next connection on and hands every message
    /// on it to `handler` (raw bytes; the handler verifies them). Call before `start()`.
    public func receiveCommands(_ handler: @escaping @Sendable ([UInt8]) -> Void) {
        lock.withLock { commandHandler = handler }
    }

    /// Publishes a signed command reply to the device's reply topic (QoS 1); returns at the broker's PUBACK.
    public func publishReply(_ bytes: [UInt8]) async throws(MQTTError) {
        _ = try await client.publish(topic: topics.reply, payload: bytes, qos: .atLeastOnce)
    }

    /// Sends batches through `route` whenever the broker is unreachable and the route is available.
    public func useAlternateRoute(_ route: (any BatchRoute)?) { lock.withLock { alternateRoute = route; workPending = true } }

    /// Lets `decorate` add to every status document this service publishes.
    public func decorateStatus(_ decorate: (@Sendable (inout UplinkStatusDocument) -> Void)?) { lock.withLock { statusDecorator = decorate } }

    /// A signed ack that came another way than the broker (the mesh): handled like one from the broker.
    public func acknowledgementArrived(_ bytes: [UInt8]) async { await handleAck(bytes) }

    /// Sends the drain's events (a rejected batch) to `sink` instead of straight to this uplink (the
    /// agent records them first). Call before `start()`.
    public func reportEvents(to sink: @escaping @Sendable (GatewayEvent) -> Void) {
        lock.withLock { eventSink = sink }
    }

    /// Whether the broker connection is up now.
    public var isConnected: Bool { client.isConnected }

    /// New outbox entries exist (a snapshot was committed): seal and send them soon.
    public func workArrived() { lock.withLock { workPending = true } }

    /// An event to send right away (batched with others arriving within a fraction of a second).
    public func enqueue(event: GatewayEvent) {
        lock.withLock {
            pendingEvents.append(event)
            workPending = true
        }
    }

    /// When the drain loop last made progress (for the systemd watchdog).
    public var lastProgress: ContinuousClock.Instant { lock.withLock { progress } }

    /// The uplink's state, with the outbox figures read now.
    public func currentState() -> UplinkState {
        var s = lock.withLock { () -> UplinkState in
            var s = state
            s.inFlight = machine.inFlightCount
            s.refusal = machine.refusal
            s.connected = client.isConnected
            return s
        }
        s.outboxDepth = (try? archive.reader.outboxDepth()) ?? s.outboxDepth
        s.oldestUnacknowledgedInterval = try? archive.reader.oldestUnacknowledgedInterval()
        return s
    }

    /// When the last head-end ack this service accepted arrived (agent clock); nil before the first.
    public var lastAcknowledged: Timestamp? { lock.withLock { state.lastAcknowledged } }

    /// Counts entries dropped by retention (the agent's maintenance drops them).
    public func recordDropped(_ count: Int) { lock.withLock { state.droppedUnsent += count } }

    /// Enqueues the archive's snapshots of `meters` in `from..<to` again as backfill batches, one per
    /// day and series; returns how many entries were enqueued.
    public func backfill(from: Timestamp, to: Timestamp, meters: [MeterID], series: [SeriesKind]) async throws(ArchiveError) -> Int {
        var count = 0
        var start = from
        while start < to {
            let end = min(to, start.adding(seconds: 86_400))
            for s in series {
                let recipe = BatchRecipe.snapshots(series: s, from: start, to: end, meters: meters, backfill: true)
                _ = try await archive.perform(.enqueueOutbox(OutboxItem(created: clock.now(), kind: recipe.outboxKind, priority: recipe.priority,
                                                                         intervals: start..<end, payload: recipe.encoded(), sealed: false)))
                count += 1
            }
            start = end
        }
        workArrived()
        return count
    }
}
