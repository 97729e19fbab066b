import ConcentratorCore
import Logging
import MQTT
import Platform
import Wire

/// One command to send: the target, the verb and its arguments, the command id and how long it stays valid.
public struct CommandRequest: Hashable, Sendable {
    public var device: String
    public var verb: String
    public var arguments: JSONValue
    /// Unique per device; the device answers a repeated id with its stored reply instead of running again.
    public var id: String
    /// expires-at − issued-at.
    public var validity: Duration

    public init(device: String, verb: String, arguments: JSONValue = .object([]), id: String, validity: Duration = .seconds(300)) {
        self.device = device
        self.verb = verb
        self.arguments = arguments
        self.id = id
        self.validity = validity
    }
}

/// A command sent and its verified reply.
public struct CommandExchange: Sendable {
    public let envelope: CommandEnvelope
    /// The signed envelope as published.
    public let envelopeBytes: [UInt8]
    public let reply: CommandReply
    /// The device key that signed the reply.
    public let replyKey: KeyID
    /// For a successful `keys.rotate`: the new device keys now registered.
    public let registeredKeys: [KeyID]
    /// From `publish` to the verified reply.
    public let roundTrip: Duration
}

/// The head-end's side of commands (`headend command`): signs an envelope with a command key, takes
/// the counter from the database (persisted before use), publishes it to `<prefix>/<device>/cmd`,
/// waits for the signed reply on `<prefix>/<device>/reply`, and verifies it with the device's
/// registered keys. A verified `keys.rotate` reply registers the new device keys (the old stay, so
/// batches signed before the rotation still verify). Replies that do not verify are ignored.
public final class CommandSender: @unchecked Sendable {
    private let configuration: HeadEndConfiguration
    private let key: SigningPrivateKey
    private let store: HeadEndStoreWorker
    private let clock: any WallClock
    private let logger: Logger

    /// `store` (on its own thread) gives the counter, the device's keys, and keeps the audit trail.
    public init(configuration: HeadEndConfiguration, key: SigningPrivateKey, store: HeadEndStoreWorker, clock: any WallClock = SystemClock(),
                logger: Logger) {
        self.configuration = configuration
        self.key = key
        self.store = store
        self.clock = clock
        self.logger = logger
    }

    /// Sends `request` and waits at most `timeout` for its verified reply.
    public func send(_ request: CommandRequest, timeout: Duration) async throws(HeadEndError) -> CommandExchange {
        guard let topics = UplinkTopics(deviceID: request.device, prefix: configuration.topicPrefix) else {
            throw .invalidRequest("\"\(request.device)\" is not a device id (1–64 of A–Z a–z 0–9 . _ -)")
        }
        guard CommandEnvelope.isValidID(request.id) else { throw .invalidRequest("command id \"\(request.id)\" is not 1–64 of A–Z a–z 0–9 . _ -") }
        let device = request.device
        let deviceKeys = try await store.run { store throws(HeadEndError) in try store.signingKeys(ofDevice: device) }
        guard !deviceKeys.isEmpty else {
            throw .invalidRequest("device \(request.device) is not registered (headend devices add); its replies could not be verified")
        }
        let client = try connect()
        let outcome = await exchange(request, topics: topics, deviceKeys: deviceKeys, client: client, timeout: timeout)
        await client.stop()
        let (envelope, bytes, reply, replyKey, roundTrip) = try outcome.get()
        var registered: [KeyID] = []
        let audited = HeadEndCommandRecord.Reply(status: reply.status.rawValue, code: reply.code, message: reply.message, received: clock.now())
        do {
            try await store.run { store throws(HeadEndError) in
                try store.recordCommandReply(device: device, commandID: request.id, reply: audited)
            }
        } catch {
            logger.error("the reply to command \(request.id) could not be recorded in the audit trail: \(error)")
        }
        if reply.verb == "keys.rotate", reply.status == .ok { registered = try await registerRotatedKeys(reply) }
        return CommandExchange(envelope: envelope, envelopeBytes: bytes, reply: reply, replyKey: replyKey, registeredKeys: registered,
                               roundTrip: roundTrip)
    }

    /// Publishes the signed envelope on a connected client and waits for the verified reply.
    private func exchange(_ request: CommandRequest, topics: UplinkTopics, deviceKeys: [SigningPublicKey], client: MQTTClient,
                          timeout: Duration) async
        -> Result<(CommandEnvelope, [UInt8], CommandReply, KeyID, Duration), HeadEndError> {
        let deadline = ContinuousClock.now + timeout
        guard await waitForConnection(client, until: deadline) else {
            return .failure(.other("no connection to the broker \(client.settings.brokerAddress) within \(timeout)"))
        }
        do { try await client.subscribe(filter: topics.reply, qos: .atLeastOnce) } catch { return .failure(.mqtt(error)) }

        let now = clock.now()
        let counter: Int64
        let keyID = key.id
        do { counter = try await store.run { store throws(HeadEndError) in try store.nextCommandCounter(keyID: keyID, now: now) } } catch {
            return .failure(error)
        }
        let envelope = CommandEnvelope(device: request.device, id: request.id, issuedAt: now,
                                       expiresAt: now.adding(milliseconds: Int64(request.validity.inMilliseconds)), counter: counter,
                                       verb: request.verb, arguments: request.arguments)
        let audit = HeadEndCommandRecord(device: request.device, commandID: request.id, verb: request.verb, keyID: keyID, counter: counter,
                                      arguments: JSONWriter.render(request.arguments, pretty: false), issuedAt: now,
                                      expiresAt: envelope.expiresAt)
        do { try await store.run { store throws(HeadEndError) in try store.recordCommandSent(audit) } } catch { return .failure(error) }
        let bytes = envelope.signed(by: key)
        let sent = ContinuousClock.now
        do { _ = try await client.publish(topic: topics.command, payload: bytes, qos: .atLeastOnce) } catch { return .failure(.mqtt(error)) }
        logger.info("command \(request.id) \(request.verb) to \(request.device) published (key \(key.id), counter \(counter))")

        let digest = CommandReply.envelopeDigest(of: bytes)
        guard let (reply, replyKey) = await awaitReply(client, id: request.id, verb: request.verb, digest: digest, device: request.device,
                                                       keys: deviceKeys, until: deadline) else {
            return .failure(.other("no verified reply from \(request.device) to command \(request.id) within \(timeout); "
                + "it may still run: ask again with the same --id to get its reply without running it twice"))
        }
        return .success((envelope, bytes, reply, replyKey, ContinuousClock.now - sent))
    }

    private func connect() throws(HeadEndError) -> MQTTClient {
        let base = configuration.broker.clientID ?? "headend"
        let suffix = Hex.encode((0..<4).map { _ in UInt8.random(in: 0...255) })
        var broker = configuration.broker
        broker.clientID = String("\(base)-cmd-\(suffix)".prefix(64))
        var settings: MQTTClientSettings
        do {
            settings = try MQTTClientSettings(broker: broker, clientID: broker.clientID!, acknowledgementTimeout: .seconds(30))
        } catch {
            throw .secretFile(path: error.path, problem: error.problem)
        }
        settings.cleanStart = true
        settings.sessionExpirySeconds = 0
        settings.reconnect = MQTTReconnectPolicy(initialDelay: .milliseconds(200), maxDelay: .seconds(2))
        do { try settings.validate() } catch { throw .mqtt(error) }
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .warning)
        let client = MQTTClient(settings: settings, logger: quiet)
        do { try client.start() } catch { throw .mqtt(error) }
        return client
    }

    private func waitForConnection(_ client: MQTTClient, until deadline: ContinuousClock.Instant) async -> Bool {
        while ContinuousClock.now < deadline {
            if client.isConnected { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return client.isConnected
    }

    /// The first reply that verifies with the device's keys and answers exactly the message published
    /// (its `envelope` digest, issue 17 #6); nil at the deadline. A verified reply to another message
    /// with the same id (a refusal of a tampered copy, or of a replay) is logged and ignored. One
    /// exception (Docs/mqtt-api.md §11.5): a repeated `keys.rotate` is answered with the stored `ok`
    /// reply as it was, signed by the old key and naming the first envelope, because the device no
    /// longer holds that key; only a verified command can have run, so that reply is its real outcome.
    private func awaitReply(_ client: MQTTClient, id: String, verb: String, digest: [UInt8], device: String, keys: [SigningPublicKey],
                            until deadline: ContinuousClock.Instant) async -> (CommandReply, KeyID)? {
        let logger = logger
        return await withTaskGroup(of: (CommandReply, KeyID)?.self) { group in
            group.addTask {
                for await message in client.messages {
                    do {
                        let (reply, key) = try CommandReply.verify(message.payload, device: device, deviceKeys: keys)
                        guard reply.commandID == id else { continue }
                        if Self.answers(reply, id: id, verb: verb, digest: digest) { return (reply, key) }
                        logger.warning("ignoring a reply to command \(id) that answers another message (\(reply.code): \(reply.message)); someone sent the device a different copy of it")
                    } catch {
                        logger.warning("ignoring a reply on \(message.topic) that does not verify: \(error)")
                    }
                }
                return nil
            }
            group.addTask {
                try? await Task.sleep(until: deadline, clock: .continuous)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// Whether a verified `reply` answers the command `id` (`verb`) published as the message with
    /// SHA-256 `digest`: its `envelope` names that message, or it is the stored `ok` reply of a
    /// repeated `keys.rotate`, which the device can no longer sign again (Docs/mqtt-api.md §11.5).
    static func answers(_ reply: CommandReply, id: String, verb: String, digest: [UInt8]) -> Bool {
        guard reply.commandID == id else { return false }
        if reply.envelopeDigest == digest { return true }
        return verb == "keys.rotate" && reply.verb == verb && reply.status == .ok
    }

    /// Registers the new device keys a verified `keys.rotate` reply carries (role `device`, this device).
    private func registerRotatedKeys(_ reply: CommandReply) async throws(HeadEndError) -> [KeyID] {
        var documents: [PublicKeyDocument] = []
        for item in reply.result["keys"]?.arrayValue ?? [] {
            do {
                documents.append(try PublicKeyDocument.parse(JSONWriter.render(item, pretty: false), path: "keys.rotate reply"))
            } catch {
                throw .keyFile(error)
            }
        }
        guard !documents.isEmpty else { throw .invalidRequest("the keys.rotate reply carries no key documents") }
        let device = reply.device, now = clock.now(), keys = documents
        let added = try await store.run { store throws(HeadEndError) in try store.registerDevice(device, keys: keys, at: now) }
        logger.notice("device \(reply.device): registered rotated keys \(documents.map(\.id.hex).joined(separator: ", "))")
        return added
    }
}
