import CMosquitto
import Logging

/// An MQTT v5 client over libmosquitto, for the agent's uplink and for the head-end.
///
/// - It connects with clean start off and a session expiry interval, QoS 1, optional TLS
///   (certificates or PSK), username and password, keepalive and a last will.
/// - After `start()` it stays connected by itself: every failed attempt or lost connection is
///   followed by a new attempt after an exponential backoff with jitter (`MQTTReconnectPolicy`),
///   forever, until `stop()`. When the broker lost the session it re-sends the subscriptions.
/// - libmosquitto's network loop runs on a dedicated thread; callers never block the cooperative
///   pool. See Docs/mqtt-client.md for the threading model and the error mapping.
///
/// `publish` fails fast when not connected and fails with `.disconnectedBeforeAck` when the
/// connection drops before the PUBACK. It does not wait across reconnects: the outbox above resends
/// unacknowledged batches, and the head-end deduplicates (libmosquitto itself may also resend an
/// in-flight message once the session resumes).
public final class MQTTClient: Sendable {
    public let settings: MQTTClientSettings
    /// Messages delivered to this client's subscriptions, in arrival order. One consumer. At most
    /// `settings.incomingQueueLimit` wait; more are dropped with a log line (libmosquitto has already
    /// acknowledged them: the outbox resends batches whose ack was lost, the head-end resends commands).
    public let messages: AsyncStream<MQTTMessage>
    /// Connection changes, one consumer; the newest 64 are kept if nobody reads them.
    public let connectionEvents: AsyncStream<MQTTConnectionEvent>
    private let connection: MQTTConnection

    public init(settings: MQTTClientSettings, logger: Logger) {
        let (messages, messageSink) = AsyncStream.makeStream(of: MQTTMessage.self,
                                                             bufferingPolicy: .bufferingOldest(max(1, settings.incomingQueueLimit)))
        let (events, eventSink) = AsyncStream.makeStream(of: MQTTConnectionEvent.self, bufferingPolicy: .bufferingNewest(64))
        self.settings = settings
        self.messages = messages
        connectionEvents = events
        connection = MQTTConnection(settings: settings, logger: logger, messageSink: messageSink, eventSink: eventSink)
    }

    deinit {
        connection.requestStop()
    }

    /// Validates the settings, creates the libmosquitto client and starts the network thread, which
    /// connects in the background. Watch `connectionEvents` for the outcome. A client starts once.
    public func start() throws(MQTTError) {
        try connection.start()
    }

    /// Sends DISCONNECT (so the broker does not publish the will), stops the network thread and
    /// finishes both streams. Waits at most `timeout` for the thread.
    public func stop(timeout: Duration = .seconds(5)) async {
        await connection.stop(timeout: timeout)
    }

    /// True between a successful CONNACK and the end of that connection.
    public var isConnected: Bool { connection.isConnected }

    /// Publishes `payload` to `topic` and, for QoS 1, returns when the broker's PUBACK arrives.
    ///
    /// Throws `.rejected` for a v5 PUBACK reason code ≥ 0x80 (mosquitto answers 0x87 "Not
    /// authorized" when its ACL denies the topic), `.notConnected` at once when offline,
    /// `.disconnectedBeforeAck` when the connection drops first, `.timeout` after
    /// `settings.acknowledgementTimeout`, `.cancelled` when the calling task is cancelled.
    public func publish(topic: String, payload: [UInt8], qos: MQTTQoS = .atLeastOnce, retain: Bool = false,
                        properties: MQTTMessageProperties? = nil) async throws(MQTTError) -> PublishReceipt {
        let operation = "publish to '\(topic)'"
        if payload.count > 268_435_455 {
            throw .invalidRequest(operation: operation, problem: "the payload of \(payload.count) bytes exceeds MQTT's limit")
        }
        var propertyList = try MQTTPropertyList.publish(properties ?? MQTTMessageProperties(), operation: operation)
        defer { mosquitto_property_free_all(&propertyList) }
        let list = propertyList
        let ack = await waitForAck(operation: operation, payloadSize: payload.count) { handle, messageID in
            payload.withUnsafeBytes {
                mosquitto_publish_v5(handle, messageID, topic, Int32(payload.count), $0.baseAddress, qos.rawValue, retain, list)
            }
        }
        let received = try ack.get()
        return PublishReceipt(messageID: received.messageID, reasonCode: received.reasonCode)
    }

    /// Subscribes to `filter` (wildcards and MQTT v5 shared subscriptions `$share/group/filter`
    /// allowed) and returns the QoS the broker granted once the SUBACK arrives. The client keeps
    /// the subscription and re-sends it after a reconnect when the broker lost the session.
    /// Throws `.notConnected` when offline (subscribe after `.connected`), `.rejected` for a SUBACK
    /// reason code ≥ 0x80, and the same timeout, disconnect and cancellation errors as `publish`.
    @discardableResult
    public func subscribe(filter: String, qos: MQTTQoS = .atLeastOnce) async throws(MQTTError) -> MQTTQoS {
        let operation = "subscribe to '\(filter)'"
        let ack = await waitForAck(operation: operation, payloadSize: 0) { handle, messageID in
            mosquitto_subscribe_v5(handle, messageID, filter, qos.rawValue, 0, nil)
        }
        let received = try ack.get()
        connection.remember(subscription: filter, qos: qos)
        return received.reasonCode == 0 ? .atMostOnce : .atLeastOnce
    }

    /// Test hook: the engine, to feed it callbacks directly.
    var connectionForTesting: MQTTConnection { connection }

    /// Test hook: stop servicing the network without DISCONNECT, like a device losing power.
    func haltNetworkForTesting() {
        connection.haltNetworkForTesting()
    }

    private func waitForAck(operation: String, payloadSize: Int,
                            _ call: (OpaquePointer, UnsafeMutablePointer<Int32>) -> Int32) async
        -> Result<BrokerAck, MQTTError>
    {
        let waiter = AckWaiter(operation: operation, deadline: .now + settings.acknowledgementTimeout)
        let connection = connection
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<BrokerAck, MQTTError>, Never>) in
                connection.lock.withLock { waiter.attach(continuation) }
                connection.send(waiter, payloadSize: payloadSize, call)
            }
        } onCancel: {
            connection.cancel(waiter)
        }
    }
}
