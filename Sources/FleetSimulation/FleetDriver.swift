import ConcentratorCore
import Logging
import MQTT
import Platform
import Wire

/// Sends a simulated fleet's sealed batches to head-ends over one real MQTT connection, the way
/// every device's uplink drains its outbox: each device keeps at most `window` batches in flight,
/// publishes them to `<prefix>/<device>/batch` (QoS 1), deletes a batch only when a signed ack for
/// exactly it arrives on `<prefix>/<device>/ack` (verified with the head-end's ack key), and sends
/// again what has no ack after `resendAfter`. Records every ack and the time from the first
/// publish to the first ack (the ack latency).
public final class FleetDriver: @unchecked Sendable {
    /// One batch waiting for its ack.
    struct Pending {
        let bytes: [UInt8]
        let digest: [UInt8]
        let firstSent: ContinuousClock.Instant
        var lastSent: ContinuousClock.Instant
        var sends: Int
    }

    /// What the acks said, per device and sequence.
    public struct AckRecord: Sendable {
        public var statuses: [BatchAck.Status] = []
        public var latency: Duration?
    }

    public let topicPrefix: String
    private let client: MQTTClient
    private let ackKeys: [SigningPublicKey]
    private let window: Int
    private let resendAfter: Duration
    private let lock = ConditionLock()
    private var queues: [String: [(UInt64, SealedBatch)]] = [:]
    private var inFlight: [String: [UInt64: Pending]] = [:]
    private var records: [String: [UInt64: AckRecord]] = [:]
    private var refusedAcks = 0
    private var resends = 0
    private var listener: Task<Void, Never>?
    private var pump: Task<Void, Never>?

    public init(host: String, port: UInt16, clientID: String, ackKeys: [SigningPublicKey], topicPrefix: String = UplinkTopics.prefix,
                window: Int = 2, resendAfter: Duration = .seconds(8), logger: Logger) {
        var settings = MQTTClientSettings(host: host, port: port, clientID: clientID, keepaliveSeconds: 10, cleanStart: true,
                                          acknowledgementTimeout: .seconds(20))
        settings.sessionExpirySeconds = 0
        settings.reconnect = MQTTReconnectPolicy(initialDelay: .milliseconds(200), maxDelay: .seconds(2))
        client = MQTTClient(settings: settings, logger: logger)
        self.ackKeys = ackKeys
        self.topicPrefix = topicPrefix
        self.window = window
        self.resendAfter = resendAfter
    }

    /// Connects, subscribes to every device's ack topic and starts draining.
    public func start() async throws {
        try client.start()
        for await event in client.connectionEvents {
            if case .connected = event { break }
        }
        _ = try await client.subscribe(filter: "\(topicPrefix)/+/ack", qos: .atLeastOnce)
        listener = Task { [self] in
            for await message in client.messages { receive(message) }
        }
        pump = Task { [self] in await drain() }
    }

    /// Queues `batches` of `device` (sent in sequence order within the window).
    public func enqueue(device: String, batches: [(sequence: UInt64, batch: SealedBatch)]) {
        lock.withLock { queues[device, default: []] += batches.map { ($0.sequence, $0.batch) } }
    }

    /// Batches queued or in flight.
    public var outstanding: Int { lock.withLock { queues.values.reduce(0) { $0 + $1.count } + inFlight.values.reduce(0) { $0 + $1.count } } }

    /// Every ack received, by device and sequence.
    public var acks: [String: [UInt64: AckRecord]] { lock.withLock { records } }

    public var refusedAckCount: Int { lock.withLock { refusedAcks } }
    public var resendCount: Int { lock.withLock { resends } }

    /// Waits until nothing is outstanding or `timeout` passes; true when all were acknowledged.
    public func waitUntilDrained(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if outstanding == 0 { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return outstanding == 0
    }

    public func stop() async {
        pump?.cancel()
        await pump?.value
        await client.stop()
        await listener?.value
    }

    /// Ack latencies (first publish → first ack) of every acknowledged batch, sorted.
    public var latencies: [Duration] { lock.withLock { records.values.flatMap { $0.values.compactMap(\.latency) } }.sorted() }

    private func receive(_ message: MQTTMessage) {
        let levels = message.topic.split(separator: "/")
        guard levels.count >= 2, levels.last == "ack" else { return }
        let device = String(levels[levels.count - 2])
        let ack: BatchAck
        do { ack = try BatchAck.verify(message.payload, deviceID: device, trustedKeys: ackKeys) } catch {
            lock.withLock { refusedAcks += 1 }
            return
        }
        lock.withLock {
            var record = records[device]?[ack.sequence] ?? AckRecord()
            record.statuses.append(ack.status)
            if let pending = inFlight[device]?[ack.sequence], pending.digest == ack.batchDigest {
                record.latency = record.latency ?? (ContinuousClock.now - pending.firstSent)
                inFlight[device]?[ack.sequence] = nil
            }
            records[device, default: [:]][ack.sequence] = record
        }
    }

    /// Fills every device's window from its queue and resends what waited too long, every 20 ms.
    private func drain() async {
        while !Task.isCancelled {
            var toSend: [(String, UInt64, [UInt8])] = []
            let now = ContinuousClock.now
            lock.withLock {
                for device in Set(queues.keys).union(inFlight.keys) {
                    var flying = inFlight[device] ?? [:]
                    for (sequence, pending) in flying where now - pending.lastSent >= resendAfter {
                        flying[sequence]!.lastSent = now
                        flying[sequence]!.sends += 1
                        resends += 1
                        toSend.append((device, sequence, pending.bytes))
                    }
                    while flying.count < window, var queue = queues[device], !queue.isEmpty {
                        let (sequence, batch) = queue.removeFirst()
                        queues[device] = queue.isEmpty ? nil : queue
                        flying[sequence] = Pending(bytes: batch.bytes, digest: batch.digest, firstSent: now, lastSent: now, sends: 1)
                        toSend.append((device, sequence, batch.bytes))
                    }
                    inFlight[device] = flying.isEmpty ? nil : flying
                }
            }
            for (device, _, bytes) in toSend {
                // A failed publish is resent after resendAfter, like an unacknowledged one.
                _ = try? await client.publish(topic: "\(topicPrefix)/\(device)/batch", payload: bytes, qos: .atLeastOnce)
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}
