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
    private var counts = IngestCounts()

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
                let database = try HeadEndDatabase.open(path: configuration.databasePath,
                                                        busyTimeoutMilliseconds: configuration.ingest.databaseBusyTimeoutMilliseconds)
                return try IngestProcessor(database: database, keys: keys, topicPrefix: configuration.topicPrefix,
                                           settings: configuration.ingest, logger: logger)
            }
        }) ?? .failure(.other("the database thread stopped"))
        let processor = try opened.get()
        lock.withLock { self.processor = processor }
        let (acks, ackSink) = AsyncStream.makeStream(of: OutgoingAck.self, bufferingPolicy: .unbounded)
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
        logger.info("head-end started: \(client.settings), database \(configuration.databasePath), \(keys)")
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

    public var ingestCounts: IngestCounts { lock.withLock { counts } }

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

    private func ingestMessages(_ processor: IngestProcessor, acks: AsyncStream<OutgoingAck>.Continuation) async {
        let clock = clock
        for await message in client.messages {
            let now = clock.now()
            let topic = message.topic, payload = message.payload
            guard let outcome = try? await worker.run({ processor.process(topic: topic, payload: payload, now: now) }) else { continue }
            lock.withLock {
                switch outcome.result {
                case .stored: counts.stored += 1
                case .duplicate: counts.duplicates += 1
                case .rejected: counts.rejected += 1
                case .storageFailed: counts.storageFailures += 1
                case .statusRecorded: counts.statusDocuments += 1
                case .enrolment: counts.enrolments += 1
                case .ignored: break
                }
            }
            if let ack = outcome.ack { acks.yield(ack) }
        }
    }

    private func sendAcks(_ acks: AsyncStream<OutgoingAck>) async {
        for await ack in acks {
            do {
                _ = try await client.publish(topic: ack.topic, payload: ack.payload, qos: .atLeastOnce)
                lock.withLock { counts.acksSent += 1 }
            } catch {
                lock.withLock { counts.acksFailed += 1 }
                logger.warning("ack not delivered to the broker (the device will send the batch again): \(error)",
                               metadata: ["topic": "\(ack.topic)"])
            }
        }
    }
}
