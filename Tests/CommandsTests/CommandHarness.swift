import Archive
@testable import Commands
import ConcentratorCore
import Foundation
import Logging
import Platform
import TestSupport
import Wire

/// Head-end keys with roles, a device key, an archive in a temporary directory, and a recording
/// channel and executor around one `CommandProcessor`.
final class CommandHarness: @unchecked Sendable {
    static let deviceID = "gw-1"
    let dir = TemporaryDirectory("commands")
    let device = SigningPrivateKey.generate()
    let reader = SigningPrivateKey.generate()
    let operatorKey = SigningPrivateKey.generate()
    let admin = SigningPrivateKey.generate()
    let ack = SigningPrivateKey.generate()
    let clock = ManualClock(ISO8601.parse("2026-11-21T10:00:00Z")!)
    let archive: ArchiveStore
    let channel: RecordingChannel
    let executor = RecordingExecutor()
    let processor: CommandProcessor
    private var nextCounter: Int64 = 100

    init() throws {
        var logger = Logger(label: "commands-test")
        logger.logLevel = .critical
        archive = try ArchiveStore.open(directory: dir.file("state"), clock: clock, logger: logger).store
        channel = RecordingChannel(device: device, keys: [("reader", reader.publicKey), ("operator", operatorKey.publicKey),
                                                          ("admin", admin.publicKey), ("ack", ack.publicKey)])
        processor = CommandProcessor(deviceID: Self.deviceID, archive: archive, clock: clock, logger: logger, channel: channel,
                                     executor: executor)
    }

    deinit { archive.close() }

    /// An envelope valid now, with a fresh id and the next counter.
    func envelope(_ verb: String, _ args: JSONValue = .object([]), id: String? = nil, counter: Int64? = nil,
                  device: String = CommandHarness.deviceID) -> CommandEnvelope {
        nextCounter += 1
        let now = clock.now()
        return CommandEnvelope(device: device, id: id ?? "c-\(nextCounter)", issuedAt: now, expiresAt: now.adding(seconds: 300),
                               counter: counter ?? nextCounter, verb: verb, arguments: args)
    }

    /// The reply in `handling`, verified with the device key.
    func reply(_ handling: CommandHandling) throws -> CommandReply {
        guard let bytes = handling.reply else { throw HarnessError("no reply (code \(handling.code))") }
        return try CommandReply.verify(bytes, device: Self.deviceID, deviceKeys: [device.publicKey]).reply
    }

    func counter(of key: SigningPrivateKey) throws -> Int64? { try archive.reader.counterValue("command:\(key.id.hex)") }

    func audit() throws -> [AuditEntry] {
        try archive.reader.auditEntries(from: Timestamp(milliseconds: 0), to: clock.now().adding(seconds: 1))
    }
}

/// Signs replies with the device key, offers the head-end keys, records what is published.
final class RecordingChannel: CommandReplyChannel, @unchecked Sendable {
    let device: SigningPrivateKey
    let keys: [(role: String, key: SigningPublicKey)]
    private let lock = ConditionLock()
    private var sent: [[UInt8]] = []

    init(device: SigningPrivateKey, keys: [(role: String, key: SigningPublicKey)]) {
        self.device = device
        self.keys = keys
    }

    func replySigningKey() -> SigningPrivateKey? { device }
    func headEndSigningKeys() -> [(role: String, key: SigningPublicKey)] { keys }
    func publishReply(_ bytes: [UInt8], timeout: Duration) -> Bool {
        lock.withLock { sent.append(bytes) }
        return true
    }

    var published: [[UInt8]] { lock.withLock { sent } }
}

/// Two meters: m-1 with a relay and a clock, m-2 with neither, on bus1. Records every action run.
final class RecordingExecutor: CommandExecutor, @unchecked Sendable {
    private let lock = ConditionLock()
    private var actions: [CommandAction] = []
    /// What the next run returns (default: ok).
    var outcome = CommandOutcome(message: "done")
    /// Called inside `execute` (to look at the state while a command runs).
    var during: (@Sendable (CommandEnvelope) -> Void)?

    func commandContext() -> CommandContext {
        CommandContext(meters: ["m-1": .init(bus: "bus1", hasRelay: true, hasClock: true),
                                "m-2": .init(bus: "bus1", hasRelay: false, hasClock: false)],
                       buses: ["bus1"], series: [.interval])
    }

    func execute(_ action: CommandAction, envelope: CommandEnvelope, signer: KeyID) -> CommandOutcome {
        lock.withLock { actions.append(action) }
        during?(envelope)
        return outcome
    }

    var ran: [CommandAction] { lock.withLock { actions } }
}

/// A JSON object from key/value pairs, in order.
func json(_ pairs: (String, JSONValue)...) -> JSONValue { .object(pairs.map { JSONMember(key: $0.0, value: $0.1) }) }
