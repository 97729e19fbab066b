import ConcentratorCore
import Logging
import MQTT
import Platform

/// The running head-end: an MQTT v5 client subscribed to every device's batches, events and status
/// (batches and events through a shared subscription when a group is configured), an
/// `IngestProcessor` on its own database thread, and a sender for the signed acks.
///
/// Order per batch: verify, open, decode, store and commit (on the database thread), then publish
/// the ack; an ack therefore always means "durable at the head-end". A message that arrives while
/// the database fails is not acknowledged; the device sends it again.
public final class HeadEndService: @unchecked Sendable {
    public let configuration: HeadEndConfiguration
    private let keys: HeadEndPrivateKeys
    private let clock: any WallClock
    private let logger: Logger
    private let client: MQTTClient
    private let worker: SerialWorker
    private let lock = ConditionLock()
    private var processor: IngestProcessor?
    private var tasks: [Task<Void, Never>] = []
    private var subscribed = false
    /// Everything this worker counted since it started (messages, outcomes, rejections by reason,
    /// acks and their latency): what a metrics endpoint exposes.
    public let counters = HeadEndCounters()
    private var observer: IngestObserver?

    /// Sees every message's outcome and every delivered ack's latency (the dashboard's /metrics).
    public struct IngestObserver: Sendable {
        public var outcome: @Sendable (IngestOutcome) -> Void
        /// From the message's arrival to the broker's acknowledgement of the ack.
        public var ackDelivered: @Sendable (Duration) -> Void

        public init(outcome: @escaping @Sendable (IngestOutcome) -> Void, ackDelivered: @escaping @Sendable (Duration) -> Void) {
            self.outcome = outcome
            self.ackDelivered = ackDelivered
        }
    }

    /// Installs `observer`; call before `start()`.
    public func observe(_ observer: IngestObserver) { lock.withLock { self.observer = observer } }

    /// How many messages of each outcome this head-end has handled since it started.
    public struct IngestCounts: Hashable, Sendable {
        public var stored = 0
        public var duplicates = 0
        public var rejected = 0
        public var storageFailures = 0
        public var statusDocuments = 0
        public var acksSent = 0
        public var acksFailed = 0
        public var enrolments = 0
    }

    /// Reads the broker's secret files; nothing is opened or connected until `start()`.
    public init(configuration: HeadEndConfiguration, keys: HeadEndPrivateKeys, clock: any WallClock = SystemClock(),
                logger: Logger) throws(HeadEndError) {
        self.configuration = configuration
        self.keys = keys
        self.clock = clock
        self.logger = logger
        guard let clientID = configuration.broker.clientID else {
            throw .invalidRequest("broker.clientId is missing; every head-end needs its own stable client id")
        }
        let settings: MQTTClientSettings
        do {
            settings = try MQTTClientSettings(broker: configuration.broker, clientID: clientID,
                                              acknowledgementTimeout: .seconds(configuration.ingest.brokerAcknowledgementTimeoutSeconds))
        } catch {
            throw .secretFile(path: error.path, problem: error.problem)
        }
        do { try settings.validate() } catch { throw .mqtt(error) }
        client = MQTTClient(settings: settings, logger: logger)
        worker = SerialWorker(name: "headend-db")
    }

    /// Opens the database (on the database thread), then starts the MQTT client, which connects and
    /// subscribes in the background and reconnects by itself.
    public func start() async throws(HeadEndError) {
        let configuration = configuration, keys = keys, logger = logger
        let opened: Result<IngestProcessor, HeadEndError> = await (try? worker.run {
            Result { () throws(HeadEndError) -> IngestProcessor in
                let database = try HeadEndStores.open(configuration.databaseLocation,
                                                      busyTimeoutMilliseconds: configuration.ingest.databaseBusyTimeoutMilliseconds,
                                                      now: SystemClock().now(), applicationName: configuration.broker.clientID ?? "headend")
                return try IngestProcessor(database: database, keys: keys, topicPrefix: configuration.topicPrefix,
                                           settings: configuration.ingest, logger: logger)
            }
        }) ?? .failure(.other("the database thread stopped"))
        let processor = try opened.get()
        lock.withLock { self.processor = processor }
        let (acks, ackSink) = AsyncStream.makeStream(of: PendingAck.self, bufferingPolicy: .unbounded)
        let started = [
            Task { await self.watchConnection() },
            Task {
                await self.ingestMessages(processor, acks: ackSink)
                ackSink.finish()
            },
            Task { await self.sendAcks(acks) },
        ]
        lock.withLock { tasks = started }
        do { try client.start() } catch {
            await stop()
            throw .mqtt(error)
        }
        logger.info("head-end started: \(client.settings), database \(configuration.databaseLocation), \(keys)")
    }

    /// Disconnects, lets the messages already received finish, closes the database and ends the thread.
    public func stop() async {
        await client.stop()
        for task in lock.withLock({ tasks }) { await task.value }
        let processor = lock.withLock { () -> IngestProcessor? in
            defer { self.processor = nil }
            return self.processor
        }
        if let processor { _ = try? await worker.run { processor.database.close() } }
        worker.stop()
    }

    /// True once the subscriptions of the first connection are acknowledged by the broker.
    public var isSubscribed: Bool { lock.withLock { subscribed } }

    public var ingestCounts: IngestCounts {
        let c = counters.snapshot
        return IngestCounts(stored: c.stored, duplicates: c.duplicates, rejected: c.rejected, storageFailures: c.storageFailures,
                            statusDocuments: c.statusDocuments, acksSent: c.acksSent, acksFailed: c.acksFailed, enrolments: c.enrolments)
    }

    /// The filters this head-end subscribes to.
    public var subscriptionFilters: [String] { ["event", "batch", "status", "enrol"].map(configuration.subscriptionFilter(leaf:)) }

    private func watchConnection() async {
        for await event in client.connectionEvents {
            switch event {
            case .connected(let sessionPresent):
                logger.info("connected to the broker (session present: \(sessionPresent))")
                if !isSubscribed { await subscribe() }
            case .disconnected(let problem):
                logger.warning("disconnected from the broker: \(problem)")
            case .connectFailed(let problem):
                logger.debug("cannot connect to the broker: \(problem)")
            }
        }
    }

    /// Subscribes once; the client re-sends the subscriptions itself when the broker lost the session.
    private func subscribe() async {
        do {
            for filter in subscriptionFilters { try await client.subscribe(filter: filter, qos: .atLeastOnce) }
            lock.withLock { subscribed = true }
            logger.info("subscribed to \(subscriptionFilters.joined(separator: ", "))")
        } catch {
            logger.warning("subscribing failed, retried at the next connection: \(error)")
        }
    }

    /// An ack to publish and when its message arrived (for the latency histogram).
    private struct PendingAck: Sendable {
        let ack: OutgoingAck
        let arrived: ContinuousClock.Instant
    }

    private func ingestMessages(_ processor: IngestProcessor, acks: AsyncStream<PendingAck>.Continuation) async {
        let clock = clock
        for await message in client.messages {
            let arrived = ContinuousClock.now
            let now = clock.now()
            let topic = message.topic, payload = message.payload
            guard let outcome = try? await worker.run({ processor.process(topic: topic, payload: payload, now: now) }) else { continue }
            counters.record(outcome, payloadBytes: payload.count)
            lock.withLock { observer }?.outcome(outcome)
            if let ack = outcome.ack { acks.yield(PendingAck(ack: ack, arrived: arrived)) }
        }
    }

    private func sendAcks(_ acks: AsyncStream<PendingAck>) async {
        for await pending in acks {
            let ack = pending.ack
            do {
                _ = try await client.publish(topic: ack.topic, payload: ack.payload, qos: .atLeastOnce)
                let latency = ContinuousClock.now - pending.arrived
                counters.recordAck(sent: true, latency: latency)
                lock.withLock { observer }?.ackDelivered(latency)
            } catch {
                counters.recordAck(sent: false, latency: .zero)
                logger.warning("ack not delivered to the broker (the device will send the batch again): \(error)",
                               metadata: ["topic": "\(ack.topic)"])
            }
        }
    }
}
