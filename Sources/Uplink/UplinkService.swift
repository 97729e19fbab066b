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
    var inFlight: [Int64: (digest: [UInt8], sentAt: ContinuousClock.Instant)] = [:]
    /// Entries the head-end rejected: not resent before this time.
    var heldUntil: [Int64: ContinuousClock.Instant] = [:]
    /// Entries held because the head-end refused them (device not registered): released at the first accepted ack.
    var refusedHolds: Set<Int64> = []
    /// Since when the head-end refuses this device (nil: it does not).
    var refusedSince: ContinuousClock.Instant?
    /// The device keys (the enrolment request is signed with the signing key).
    let keys: DeviceKeys
    var workPending = true
    var pendingEvents: [GatewayEvent] = []
    var stopped = false
    var progress = ContinuousClock.now
    var state: UplinkState
    var tasks: [Task<Void, Never>] = []
    /// Receives every message on the device's command topic (set before `start`).
    var commandHandler: (@Sendable ([UInt8]) -> Void)?

    /// Published batches awaiting the head-end's ack at once, at most.
    static let window = 32
    /// How long a batch the head-end refused (device not registered) waits before it goes again:
    /// briefly for the first quarter of an hour (an installer is waiting for the approval), then
    /// five minutes, so an unregistered gateway does not keep its link busy.
    static func refusalHold(refusedFor: Duration) -> Duration { refusedFor < .seconds(900) ? .seconds(5) : .seconds(300) }

    public init(settings: UplinkSettings, deviceID: String, keys: DeviceKeys, archive: ArchiveStore,
                schedules: [SeriesKind: IntervalSchedule], clock: any WallClock, logger: Logger,
                busHealth: @escaping @Sendable () -> [UplinkStatusDocument.Bus]) throws(UplinkSetupError) {
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
    }

    static func clientSettings(_ s: UplinkSettings, deviceID: String, topics: UplinkTopics) throws(UplinkSetupError) -> MQTTClientSettings {
        let will = MQTTWill(topic: topics.status,
                            payload: UplinkStatusDocument(device: deviceID, state: "offline", unexpected: true).encoded())
        do {
            return try MQTTClientSettings(broker: s.broker, clientID: s.broker.clientID ?? deviceID, will: will)
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

    /// Says goodbye (offline status), disconnects cleanly and stops the tasks.
    public func stop() async {
        let running = lock.withLock { () -> [Task<Void, Never>] in
            stopped = true
            return tasks
        }
        if client.isConnected {
            _ = try? await client.publish(topic: topics.status, payload: UplinkStatusDocument(device: deviceID, state: "offline",
                                                                                              unexpected: false).encoded(), retain: true)
        }
        await client.stop()
        for t in running { t.cancel() }
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
            s.inFlight = inFlight.count
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
