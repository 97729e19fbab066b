import Archive
import ConcentratorCore
import Logging
import Platform
import Wire

/// What happened to one received command message (for logs and tests).
public struct CommandHandling: Sendable {
    /// The signed reply published (or offered to the broker); nil when the message could not be answered.
    public var reply: [UInt8]?
    /// The reply code, or `duplicate` when the stored reply of an earlier run was sent again.
    public var code: String
    /// Whether the command ran (its counter was consumed and its reply stored).
    public var ran: Bool
    /// Whether the reply reached the broker.
    public var published: Bool
}

/// Verifies, authorises and runs signed commands, one at a time on its own thread, and answers each
/// with a reply signed by the device (Docs/mqtt-api.md §11.3 lists the checks in this order):
///
/// 1. split the frame ("CCUC", version, lengths) — otherwise no reply (nothing can be named);
/// 2. read the command id (and target) leniently — without an id there is no reply;
/// 3. the signer key id is a configured head-end key with a command role — `unknown-key`;
/// 4. the Ed25519 signature verifies — `bad-signature`;
/// 5. the body is a valid envelope — `malformed`;
/// 6. the target is this device — `wrong-target`;
/// 7. issued-at and expires-at bracket the device's clock (± `clockTolerance`) — `expired`;
/// 8. a command with this id already ran: the same signer gets the stored outcome, signed again as
///    the answer to this message (its digest), and nothing runs again; another signer gets `id-reused`;
/// 9. the counter is above the last one seen for the signer key — `replayed`;
/// 10. the verb is known — `unknown-verb`; the key's role allows it — `role-too-low`;
/// 11. the arguments — `invalid-arguments`, `unknown-meter`, `not-supported`;
/// 12. the counter is persisted (a crash after this point cannot make the command run twice);
/// 13. the executor runs it; the reply is stored under the command id, audited, published (QoS 1);
///     then the outcome's after-reply work runs.
///
/// Refusals at steps 3–11 change nothing but the audit log (and the event log for signed ones); their
/// replies are not stored, so a corrected command may reuse the id.
public final class CommandProcessor: @unchecked Sendable {
    public let deviceID: String
    /// How far issued-at may lie ahead of, and expires-at behind, the device's clock.
    public let clockTolerance: Duration
    /// The longest validity (expires-at − issued-at) accepted.
    public static let maximumValidity: Duration = .seconds(86_400)
    /// Commands waiting beyond this many are dropped (logged): a flood cannot grow memory.
    public static let queueLimit = 64
    /// Bytes of command messages waiting, at most (a message larger than a command frame can be is
    /// dropped at once, before it is queued).
    public static let queueByteLimit = 1 << 20
    /// Replies (and audit entries of their own) to messages that are not verifiably from the head-end,
    /// per minute at most (flood guard); the rest share one audit summary row per minute.
    public static let unauthenticatedRepliesPerMinute = 60

    private let archive: ArchiveStore
    private let clock: any WallClock
    private let logger: Logger
    private let channel: any CommandReplyChannel
    private let executor: any CommandExecutor
    private let onEvent: @Sendable (GatewayEvent) -> Void
    private let worker = SerialWorker(name: "commands")
    private let lock = ConditionLock()
    private var queued = 0
    private var queuedBytes = 0
    /// When the command now running started (nil while idle), for the watchdog.
    private var busySince: ContinuousClock.Instant?
    /// How long one command may run before the command thread counts as hung.
    public let hangLimit: Duration
    private var lastDropReport: ContinuousClock.Instant?
    private var stopping = false
    private var unauthenticated = MinuteAllowance(perMinute: CommandProcessor.unauthenticatedRepliesPerMinute)
    /// Unverifiable messages beyond the allowance this minute (guarded by `lock`; issue 17 #7).
    private var unverifiedSummary: UnverifiedAuditSummary?

    public init(deviceID: String, archive: ArchiveStore, clock: any WallClock, logger: Logger, channel: any CommandReplyChannel,
                executor: any CommandExecutor, clockTolerance: Duration = .seconds(300), hangLimit: Duration = .seconds(120),
                onEvent: @escaping @Sendable (GatewayEvent) -> Void = { _ in }) {
        self.hangLimit = hangLimit
        self.deviceID = deviceID
        self.archive = archive
        self.clock = clock
        self.logger = logger
        self.channel = channel
        self.executor = executor
        self.clockTolerance = clockTolerance
        self.onEvent = onEvent
    }

    /// Queues a message received on the command topic (never blocks the caller).
    public func submit(_ bytes: [UInt8]) {
        let largest = SignedCommandFrame.headerLength + CommandEnvelope.maximumBodyBytes + SignedCommandFrame.signatureLength
        let (admitted, report) = lock.withLock { () -> (Bool, Bool) in
            guard !stopping else { return (false, false) }
            guard bytes.count <= largest, queued < Self.queueLimit, queuedBytes + bytes.count <= Self.queueByteLimit else {
                let now = ContinuousClock.now
                let report = lastDropReport.map { now - $0 >= .seconds(60) } ?? true
                if report { lastDropReport = now }
                return (false, report)
            }
            queued += 1
            queuedBytes += bytes.count
            return (true, false)
        }
        guard admitted else {
            if report {
                logger.warning("commands: a \(bytes.count)-byte command message was dropped unread (at most \(Self.queueLimit) commands, \(Self.queueByteLimit) bytes, \(largest) bytes each); more drops this minute are not logged")
            }
            return
        }
        worker.enqueue { [self] in
            // Commands still queued at shutdown are not run: the head-end hears nothing and may ask again.
            if !lock.withLock({ stopping }) {
                lock.withLock { busySince = .now }
                _ = process(bytes)
            }
            lock.withLock {
                busySince = nil
                queued -= 1
                queuedBytes -= bytes.count
            }
        }
    }

    /// When the command thread last made progress, for the systemd watchdog (`ProgressWatchdog`):
    /// now while it is idle or a command has run less than `hangLimit` (a reload waits for the buses,
    /// a reply for the broker, both bounded below it); after that, the moment the limit passed, so a
    /// command thread blocked for good stops the watchdog pings like a hung bus thread.
    public var lastProgress: ContinuousClock.Instant {
        let since = lock.withLock { busySince }
        let now = ContinuousClock.now
        guard let since, now - since > hangLimit else { return now }
        return since + hangLimit
    }

    /// Takes no more commands, lets the one running finish (at most `timeout`) and ends the thread.
    public func stop(timeout: Duration = .seconds(30)) {
        lock.withLock { stopping = true }
        let done = ConditionLock()
        final class Flag: @unchecked Sendable { var value = false }
        let flag = Flag()
        worker.enqueue {
            done.withLock { flag.value = true }
            done.broadcast()
        }
        let deadline = ContinuousClock.now + timeout
        done.lock()
        while !flag.value, ContinuousClock.now < deadline { done.wait(for: .milliseconds(100)) }
        done.unlock()
        worker.stop()
    }

    /// Handles one command message completely (blocking; `submit` runs it on the command thread).
    @discardableResult
    public func process(_ bytes: [UInt8]) -> CommandHandling {
        let frame: SignedCommandFrame
        do {
            frame = try SignedCommandFrame.parse(bytes, magic: CommandEnvelope.magic, maximumBodyBytes: CommandEnvelope.maximumBodyBytes)
        } catch {
            return unanswerable(keyID: "", reason: "\(error)", bytes: bytes)
        }
        let peeked = CommandEnvelope.peekIdentity(frame.body)
        guard let commandID = peeked.id else {
            return unanswerable(keyID: frame.keyID.hex, reason: "the body names no readable command id", bytes: bytes)
        }
        // Every reply names the exact message it answers (issue 17 #6): a refusal of a tampered copy
        // can never be taken for the answer to the real command.
        let digest = CommandReply.envelopeDigest(of: bytes)
        var context = RefusalContext(commandID: commandID, keyID: frame.keyID.hex, role: "", verb: nil, arguments: "", envelopeDigest: digest)

        // Who signed it.
        let keys = channel.headEndSigningKeys().filter { $0.key.id == frame.keyID }
        guard let signer = keys.first(where: { CommandRole(rawValue: $0.role) != nil }),
              let role = CommandRole(rawValue: signer.role) else {
            let why = keys.first.map { "key \(frame.keyID) has role \"\($0.role)\", which cannot sign commands" }
                ?? "key \(frame.keyID) is not among the head-end keys in uplink.headEndKeys"
            return refuse(.unknownKey, why, context, authenticated: false)
        }
        context.role = role.rawValue
        guard frame.verifies(with: signer.key) else {
            return refuse(.badSignature, "the signature by key \(frame.keyID) does not verify (altered or forged)", context, authenticated: false)
        }
        let envelope: CommandEnvelope
        do {
            envelope = try CommandEnvelope.decode(body: frame.bodyObject())
        } catch {
            return refuse(.malformed, "\(error)", context, authenticated: true)
        }
        context.verb = envelope.verb
        context.arguments = Self.auditArguments(envelope.arguments)
        guard envelope.device == deviceID else {
            return refuse(.wrongTarget, "the command is for device \(envelope.device), this is \(deviceID)", context, authenticated: true)
        }
        if let problem = timeProblem(envelope) { return refuse(.expired, problem, context, authenticated: true) }

        // Idempotency: a command id that already ran is answered from the store.
        let stored: StoredCommandReply?
        do { stored = try archive.reader.commandReply(id: envelope.id) } catch {
            return refuse(.internalError, "the reply store cannot be read: \(error)", context, authenticated: true)
        }
        if let stored {
            guard stored.keyID == frame.keyID.hex else {
                return refuse(.idReused, "command id \(envelope.id) was already used by key \(stored.keyID)", context, authenticated: true)
            }
            // The outcome of the earlier run, answering this message (its own digest).
            let bytes = reissue(stored.reply, answering: digest) ?? stored.reply
            let published = channel.publishReply(bytes, timeout: .seconds(30))
            audit(context, result: "duplicate", message: "answered with the stored reply of the earlier run; not run again")
            logger.notice("command \(envelope.id) \(envelope.verb) received again: answered with the stored reply, not run again")
            return CommandHandling(reply: bytes, code: "duplicate", ran: false, published: published)
        }

        let counterName = "command:\(frame.keyID.hex)"
        let lastCounter: Int64?
        do { lastCounter = try archive.reader.counterValue(counterName) } catch {
            return refuse(.internalError, "the command counter cannot be read: \(error)", context, authenticated: true)
        }
        if let lastCounter, envelope.counter <= lastCounter {
            return refuse(.replayed, "counter \(envelope.counter) is not above \(lastCounter), the last seen for key \(frame.keyID)",
                          context, authenticated: true)
        }
        guard let verb = CommandVerb(rawValue: envelope.verb) else {
            return refuse(.unknownVerb, "unknown verb \"\(envelope.verb)\"; known: \(CommandVerb.allCases.map(\.rawValue).joined(separator: ", "))",
                          context, authenticated: true)
        }
        guard role >= verb.minimumRole else {
            return refuse(.roleTooLow, "\(verb.rawValue) needs role \(verb.minimumRole.rawValue); key \(frame.keyID) has role \(role.rawValue)",
                          context, authenticated: true)
        }
        let action: CommandAction
        do {
            action = try CommandAction.parse(verb: verb, arguments: envelope.arguments, context: executor.commandContext())
        } catch {
            return refuse(error.code, error.message, context, authenticated: true)
        }

        // Persist the counter before running: after a crash the command can never run again.
        do {
            guard try archive.performBlocking(.raiseCounter(counterName, to: envelope.counter)) else {
                return refuse(.replayed, "counter \(envelope.counter) was used meanwhile", context, authenticated: true)
            }
        } catch {
            return refuse(.internalError, "the command counter cannot be stored: \(error)", context, authenticated: true)
        }
        let outcome = executor.execute(action, envelope: envelope, signer: frame.keyID)
        let reply = CommandReply(device: deviceID, commandID: envelope.id, verb: envelope.verb, code: outcome.code,
                                 message: outcome.message, time: clock.now(), result: outcome.result, envelopeDigest: digest)
        guard let key = channel.replySigningKey() else {
            audit(context, result: outcome.code.rawValue, message: outcome.message + " (no reply: the device keys are unusable)")
            logger.error("command \(envelope.id) \(envelope.verb) ran (\(outcome.code.rawValue)), but no reply can be signed: the device keys are unusable")
            outcome.afterReply?()
            return CommandHandling(reply: nil, code: outcome.code.rawValue, ran: true, published: false)
        }
        let bytes = reply.signed(by: key)
        do {
            try archive.performBlocking(.storeCommandReply(StoredCommandReply(commandID: envelope.id, keyID: frame.keyID.hex,
                                                                              time: reply.time, reply: bytes)))
        } catch {
            logger.error("command \(envelope.id): its reply could not be stored (a resend would be refused as replayed): \(error)")
        }
        audit(context, result: outcome.code.rawValue, message: outcome.message)
        onEvent(GatewayEvent(time: reply.time, kind: .commandExecuted, severity: outcome.code == .ok ? .info : .warning,
                             message: "command \(envelope.id) \(envelope.verb) by key \(frame.keyID) (\(role.rawValue)): \(outcome.code.rawValue)"))
        logger.notice("command \(envelope.id) \(envelope.verb) by key \(frame.keyID) (\(role.rawValue)): \(outcome.code.rawValue) \(outcome.message)")
        let published = channel.publishReply(bytes, timeout: .seconds(30))
        if !published { logger.warning("command \(envelope.id): the reply did not reach the broker; the head-end can ask again with the same id") }
        outcome.afterReply?()
        return CommandHandling(reply: bytes, code: outcome.code.rawValue, ran: true, published: published)
    }

    /// Replaces the stored reply of `commandID` (a configuration trial that ended in a rollback) and
    /// publishes it. Blocking.
    public func amendReply(commandID: String, keyID: String, verb: String, code: CommandReplyCode, message: String) {
        guard let key = channel.replySigningKey() else { return }
        // It answers the same message as the reply it replaces.
        let original = (try? archive.reader.commandReply(id: commandID)).flatMap { $0 }.flatMap { Self.decodeReply($0.reply) }
        let reply = CommandReply(device: deviceID, commandID: commandID, verb: verb, code: code, message: message, time: clock.now(),
                                 envelopeDigest: original?.envelopeDigest)
        let bytes = reply.signed(by: key)
        do {
            try archive.performBlocking(.storeCommandReply(StoredCommandReply(commandID: commandID, keyID: keyID, time: reply.time, reply: bytes)))
        } catch {
            logger.error("command \(commandID): the amended reply could not be stored: \(error)")
        }
        if !channel.publishReply(bytes, timeout: .seconds(60)) {
            logger.warning("command \(commandID): the amended reply (\(code.rawValue)) did not reach the broker; it is stored for a resend")
        }
    }

    // MARK: Refusals

    private struct RefusalContext {
        var commandID: String
        var keyID: String
        var role: String
        var verb: String?
        var arguments: String
        var envelopeDigest: [UInt8]?
    }

    /// A stored reply (our own, signed earlier) with its body read back.
    private static func decodeReply(_ bytes: [UInt8]) -> CommandReply? {
        guard let frame = try? SignedCommandFrame.parse(bytes, magic: CommandReply.magic, maximumBodyBytes: CommandReply.maximumBodyBytes),
              let body = try? frame.bodyObject() else { return nil }
        return try? CommandReply.decode(body: body)
    }

    /// The stored reply of an earlier run, signed again as the answer to the message with `digest`;
    /// nil when the key that signed it is gone (a `keys.rotate` ran): the stored bytes are sent as they are.
    private func reissue(_ stored: [UInt8], answering digest: [UInt8]) -> [UInt8]? {
        guard var reply = Self.decodeReply(stored), let key = channel.replySigningKey(),
              let frame = try? SignedCommandFrame.parse(stored, magic: CommandReply.magic, maximumBodyBytes: CommandReply.maximumBodyBytes),
              frame.keyID == key.id else { return nil }
        reply.envelopeDigest = digest
        return reply.signed(by: key)
    }

    private func timeProblem(_ e: CommandEnvelope) -> String? {
        let now = clock.now()
        let tolerance = Int64(clockTolerance.inMilliseconds)
        if e.expiresAt.milliseconds - e.issuedAt.milliseconds > Int64(Self.maximumValidity.inMilliseconds) {
            return "valid from \(ISO8601.format(e.issuedAt)) to \(ISO8601.format(e.expiresAt)): longer than the allowed \(Int(Self.maximumValidity.inSeconds / 3600)) hours"
        }
        if now.milliseconds > e.expiresAt.milliseconds + tolerance {
            return "expired at \(ISO8601.format(e.expiresAt)); the device's clock says \(ISO8601.format(now))"
        }
        if e.issuedAt.milliseconds > now.milliseconds + tolerance {
            return "issued at \(ISO8601.format(e.issuedAt)), in the future of the device's clock \(ISO8601.format(now)); check both clocks"
        }
        return nil
    }

    /// A refusal: audited, logged, answered with a signed reply (not stored). Replies to messages not
    /// verifiably from the head-end are rate-limited.
    private func refuse(_ code: CommandReplyCode, _ message: String, _ c: RefusalContext, authenticated: Bool) -> CommandHandling {
        let now = clock.now()
        if !authenticated, !admitUnauthenticated(now) {
            summarise(reason: code.rawValue, digest: c.envelopeDigest ?? [], commandID: c.commandID, now: now)
            return CommandHandling(reply: nil, code: code.rawValue, ran: false, published: false)
        }
        audit(c, result: code.rawValue, message: message)
        logger.warning("command \(c.commandID) \(c.verb ?? "?") by key \(c.keyID.isEmpty ? "?" : c.keyID) refused: \(code.rawValue): \(message)")
        if authenticated {
            onEvent(GatewayEvent(time: now, kind: .commandRejected, severity: .warning,
                                 message: "command \(c.commandID) \(c.verb ?? "?") by key \(c.keyID): \(code.rawValue)"))
        }
        guard let key = channel.replySigningKey() else { return CommandHandling(reply: nil, code: code.rawValue, ran: false, published: false) }
        let bytes = CommandReply(device: deviceID, commandID: c.commandID, verb: c.verb, code: code, message: message, time: now,
                                 envelopeDigest: c.envelopeDigest).signed(by: key)
        let published = channel.publishReply(bytes, timeout: .seconds(30))
        return CommandHandling(reply: bytes, code: code.rawValue, ran: false, published: published)
    }

    /// A message without a readable command id: logged and audited, never answered.
    private func unanswerable(keyID: String, reason: String, bytes: [UInt8]) -> CommandHandling {
        let now = clock.now()
        if admitUnauthenticated(now) {
            logger.warning("commands: ignoring a command message that cannot be answered: \(reason)")
            audit(RefusalContext(commandID: "", keyID: keyID, role: "", verb: nil, arguments: ""), result: CommandReplyCode.malformed.rawValue,
                  message: "not answered: \(reason)")
        } else {
            summarise(reason: "unreadable", digest: CommandReply.envelopeDigest(of: bytes), commandID: "", now: now)
        }
        return CommandHandling(reply: nil, code: CommandReplyCode.malformed.rawValue, ran: false, published: false)
    }

    /// An unverifiable message beyond the allowance: counted in the minute's audit summary row, which
    /// is rewritten at once (so the audit is never behind), and the previous minute's summary logged.
    private func summarise(reason: String, digest: [UInt8], commandID: String, now: Timestamp) {
        let minute = now.milliseconds / 60_000
        let (summary, closed) = lock.withLock { () -> (UnverifiedAuditSummary, UnverifiedAuditSummary?) in
            var closed: UnverifiedAuditSummary?
            if var current = unverifiedSummary, current.minute == minute {
                current.add(reason: reason, digest: digest, commandID: commandID)
                unverifiedSummary = current
            } else {
                closed = unverifiedSummary
                unverifiedSummary = UnverifiedAuditSummary(minute: minute, reason: reason, digest: digest, commandID: commandID)
            }
            return (unverifiedSummary!, closed)
        }
        if let closed { logger.warning("commands: \(closed.entry().message)") }
        do { try archive.performBlocking(.replaceAuditSummary(summary.entry())) } catch {
            logger.error("commands: the audit summary of unverifiable command messages was not stored: \(error)")
        }
    }

    private func admitUnauthenticated(_ now: Timestamp) -> Bool {
        let decision = lock.withLock { unauthenticated.take(at: now) }
        if decision == .exhausted {
            logger.warning("commands: more than \(Self.unauthenticatedRepliesPerMinute) unverifiable command messages this minute; the rest are not answered and are counted in one audit summary row per minute (result \(UnverifiedAuditSummary.result))")
        }
        return decision.isAdmitted
    }

    private func audit(_ c: RefusalContext, result: String, message: String) {
        let entry = AuditEntry(time: clock.now(), keyID: c.keyID, role: c.role, verb: c.verb ?? "", arguments: c.arguments, result: result,
                               commandID: c.commandID.isEmpty ? nil : c.commandID, message: message)
        do { try archive.performBlocking(.recordAudit(entry)) } catch {
            logger.error("commands: audit entry for \(c.commandID) not stored: \(error)")
        }
    }

    /// The arguments as compact canonical JSON for the audit log, cut at 4 KiB (a whole configuration
    /// is summarised by its size). Configurations hold no secrets (passwords live in files).
    static func auditArguments(_ arguments: JSONValue) -> String {
        let text = String(decoding: CanonicalJSON.render(arguments), as: UTF8.self)
        guard text.utf8.count > 4096 else { return text }
        return String(decoding: Array(text.utf8.prefix(4000)), as: UTF8.self) + "…(\(text.utf8.count) bytes)"
    }
}
