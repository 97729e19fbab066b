import ConcentratorCore
import Logging
import Mesh
import MQTT
import Platform
import Wire

/// A gateway's broker connection for the devices behind it (Docs/mesh.md, "Integration" 3): its own
/// MQTT client (client id `<device>-mesh`, the uplink's broker and credentials), so the device's
/// own uplink is untouched. Publishes relayed sealed batches and command replies under the ORIGIN
/// device's topics (the head-end cannot tell them from direct ones), subscribes to the `ack` and
/// `cmd` topics of every device it relayed for, and hands what arrives there back to the mesh,
/// routed by device id.
final class MeshGatewayRelay: @unchecked Sendable {
    let uplink: UplinkSettings
    let deviceID: String
    let logger: Logger
    private let lock = ConditionLock()
    private var client: MQTTClient?
    private var subscribed: Set<String> = []
    private var tasks: [Task<Void, Never>] = []
    private var onDownward: (@Sendable (MeshOutboundMessage) -> Void)?

    init(uplink: UplinkSettings, deviceID: String, logger: Logger) {
        self.uplink = uplink
        self.deviceID = deviceID
        self.logger = logger
    }

    var isConnected: Bool { lock.withLock { client }?.isConnected ?? false }

    /// Connects (retrying in the background) and starts handing downward messages to `onDownward`.
    func start(onDownward: @escaping @Sendable (MeshOutboundMessage) -> Void) {
        let settings: MQTTClientSettings
        do {
            settings = try MQTTClientSettings(broker: uplink.broker, clientID: "\(uplink.broker.clientID ?? deviceID)-mesh")
            try settings.validate()
        } catch {
            logger.error("mesh: no gateway relay: \(error)")
            return
        }
        let client = MQTTClient(settings: settings, logger: logger)
        do { try client.start() } catch {
            logger.error("mesh: gateway relay not started: \(error)")
            return
        }
        let t1 = Task { [self] in
            for await event in client.connectionEvents {
                if case .connected = event {
                    // A new session: subscribe again to every device relayed for so far.
                    let devices = lock.withLock { () -> Set<String> in
                        defer { subscribed.removeAll() }
                        return subscribed
                    }
                    for d in devices { await subscribe(device: d) }
                }
            }
        }
        let t2 = Task { [self] in
            for await message in client.messages { received(message) }
        }
        lock.withLock {
            self.client = client
            self.onDownward = onDownward
            tasks = [t1, t2]
        }
    }

    func stop() {
        let (client, running) = lock.withLock { (self.client, tasks) }
        if let client { waitForAsync { await client.stop() } }
        for t in running { t.cancel() }
    }

    /// Publishes an upward message under its origin's topics; `done(true)` at the broker's PUBACK.
    func publish(_ message: MeshDeliveredMessage, done: @escaping @Sendable (Bool) -> Void) {
        guard let client = lock.withLock({ client }), let topics = UplinkTopics(deviceID: message.deviceID, prefix: uplink.topicPrefix) else {
            done(false)
            return
        }
        let topic: String
        switch message.key.type {
        case .data:
            // The sealed header is readable: it must name the device the mesh says sent it.
            guard let sealed = try? SealedBatch.parse(message.body), sealed.header.deviceID == message.deviceID else {
                logger.warning("mesh: a relayed batch of \(message.deviceID) is not a sealed batch of that device; dropped")
                done(true)
                return
            }
            topic = sealed.header.kind == .events ? topics.event : topics.batch
        case .commandReply:
            topic = topics.reply
        default:
            done(true)
            return
        }
        Task { [self] in
            await subscribe(device: message.deviceID)
            do {
                _ = try await client.publish(topic: topic, payload: message.body, qos: .atLeastOnce)
                done(true)
            } catch {
                logger.info("mesh: relayed \(message.key) not published: \(error)")
                done(false)
            }
        }
    }

    private func subscribe(device: String) async {
        guard device != deviceID, let client = lock.withLock({ client }), client.isConnected,
              let topics = UplinkTopics(deviceID: device, prefix: uplink.topicPrefix) else { return }
        guard lock.withLock({ subscribed.insert(device).inserted }) else { return }
        do {
            try await client.subscribe(filter: topics.ack)
            try await client.subscribe(filter: topics.command)
            logger.info("mesh: relaying acks and commands for \(device)")
        } catch {
            _ = lock.withLock { subscribed.remove(device) }
            logger.warning("mesh: cannot subscribe for \(device): \(error)")
        }
    }

    /// An ack or command for a device behind this gateway: into the mesh, routed by device id.
    private func received(_ message: MQTTMessage) {
        let levels = message.topic.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard levels.count >= 2, let leaf = levels.last else { return }
        let device = levels[levels.count - 2]
        let type: MeshFrameType
        switch leaf {
        case "ack": type = .headEndAck
        case "cmd": type = .command
        default: return
        }
        guard device != deviceID, let handler = lock.withLock({ onDownward }) else { return }
        handler(MeshOutboundMessage(type: type, deviceID: device, sequence: MeshOutboundMessage.number(for: message.payload), priority: .control,
                                    body: message.payload))
    }
}
