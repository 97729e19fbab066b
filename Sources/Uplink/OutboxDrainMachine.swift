import ConcentratorCore
import Wire

/// What the drain should do next; `UplinkService` performs these and nothing else decides.
public enum DrainAction: Hashable, Sendable {
    /// Send the sealed entry. Where it goes (the broker, a mesh route) is the performer's choice:
    /// the machine only decides that and when. Report the outcome with `published` or `publishFailed`.
    case publish(sequence: Int64)
    /// The head-end acknowledged the entry: remove it from the outbox.
    case delete(sequence: Int64)
    /// Seal the entry's content again, to the current head-end sealing key, under the same sequence
    /// (reason 1, `unknownSealingKey`). Report the outcome with `resealStarted` or `resealFailed`.
    case reseal(sequence: Int64)
    /// Tell the operator: record and send a gateway event.
    case raise(kind: GatewayEvent.Kind, severity: GatewayEvent.Severity, message: String)
    /// One log line.
    case log(DrainLogLevel, String)
    /// Offer the outbox again (`listed`) no later than this (a hold or an ack timeout ends).
    case wake(at: ContinuousClock.Instant)
    /// The byte rate holds the next batch back until then: offer the outbox again at that time.
    /// Always the last action of `listed`.
    case rateLimited(until: ContinuousClock.Instant)
}

/// How loud a drain log line is.
public enum DrainLogLevel: Hashable, Sendable {
    case notice, warning, error
    /// A warning about a bad ack, logged within the per-minute allowance for bad acks (issue 17 #12).
    case badAck
}

/// One sealed outbox entry as the drain sees it.
public struct DrainEntry: Hashable, Sendable {
    public var sequence: Int64
    /// Events go before interval data (`OutboxItem.priority > 0`).
    public var isEvent: Bool
    public var byteCount: Int
    /// SHA-256 of the sealed bytes (what the head-end's ack must name).
    public var digest: [UInt8]

    public init(sequence: Int64, isEvent: Bool, byteCount: Int, digest: [UInt8]) {
        self.sequence = sequence
        self.isEvent = isEvent
        self.byteCount = byteCount
        self.digest = digest
    }
}

/// The outbox drain's policy as a pure state machine (the shape of async-http-client's connection
/// pool state machines): events in (`connected`, `disconnected`, `listed`, `published`, `acked` …),
/// actions out (`DrainAction`). It does no I/O and reads no clock: every call gets `now`.
///
/// Policies:
/// - **In-flight window**: at most `window` published batches await their ack at once.
/// - **Ack digests**: an ack deletes an entry only if it names the digest of exactly the bytes sent
///   (or, after a restart, the stored bytes).
/// - **Resend timers**: a batch not acknowledged within `ackTimeout` goes again, byte-identical; a
///   reconnect lets everything unacknowledged go again.
/// - **Holds after a rejection**: reason 1 (unknown sealing key) re-seals the same content to the
///   current key under the same sequence, once per uplink; any other rejection (and a second reason 1)
///   keeps the entry out of the send queue until the uplink restarts (agent restart, reload of the
///   uplink settings, `keys.rotate`), with one `batch_rejected` event. Refusals (device or key not
///   registered) hold the entry 5 s for the first quarter of an hour, then 5 minutes; the first
///   accepted ack releases them.
/// - **Events first**: no interval batch goes while events wait to be queued or sealed, nor during
///   the start-up grace (the start-up events are still being raised).
/// - **Token bucket**: bytes per second with a burst, so a backlog never saturates the link.
public struct OutboxDrainMachine: Sendable {
    public struct Policy: Hashable, Sendable {
        public var window: Int
        public var ackTimeout: Duration
        public var bytesPerSecond: Int
        public var burstBytes: Int
        /// After start, interval batches wait this long, so the start-up events go first.
        public var startupGrace: Duration
        /// Interval batches wait for waiting events at most this long (events that cannot be queued
        /// or sealed, say on a full disk, must not stop the drain that frees the space).
        public var eventsFirstLimit: Duration

        public init(window: Int = 32, ackTimeout: Duration, bytesPerSecond: Int, burstBytes: Int = 256 * 1024,
                    startupGrace: Duration = .seconds(2), eventsFirstLimit: Duration = .seconds(10)) {
            self.window = window
            self.ackTimeout = ackTimeout
            self.bytesPerSecond = bytesPerSecond
            self.burstBytes = burstBytes
            self.startupGrace = startupGrace
            self.eventsFirstLimit = eventsFirstLimit
        }
    }

    public let policy: Policy
    private var bucket: TokenBucket
    private var connected = false
    private let intervalsFrom: ContinuousClock.Instant
    /// Since when events have been waiting to be queued or sealed (nil: none wait).
    private var eventsWaitingSince: ContinuousClock.Instant?
    /// Published, not acknowledged: the digest sent and when.
    private var inFlight: [Int64: (digest: [UInt8], sentAt: ContinuousClock.Instant)] = [:]
    /// Held after a refusal, until the time given.
    private var heldUntil: [Int64: ContinuousClock.Instant] = [:]
    private var refusedHolds: Set<Int64> = []
    private var refusedSince: ContinuousClock.Instant?
    /// Held for good (this uplink's life) after a rejection.
    private var rejected: Set<Int64> = []
    /// Being sealed again; re-sealed already (at most once per uplink).
    private var resealing: Set<Int64> = []
    private var resealed: Set<Int64> = []
    /// The entry whose bytes the bucket has paid for, and when it may go.
    private var paid: (sequence: Int64, at: ContinuousClock.Instant)?
    /// Why the head-end refuses this device (nil: it does not).
    public private(set) var refusal: String?

    public init(policy: Policy, now: ContinuousClock.Instant) {
        self.policy = policy
        bucket = TokenBucket(bytesPerSecond: policy.bytesPerSecond, burst: policy.burstBytes)
        intervalsFrom = now + policy.startupGrace
    }

    /// Batches published and awaiting their ack.
    public var inFlightCount: Int { inFlight.count }

    /// Whether the machine takes the way out as up (`connected` came after the last `disconnected`).
    public var isConnected: Bool { connected }

    /// The digest of what was sent under `sequence`, if it is in flight (else the performer looks up
    /// the stored entry for `acked`).
    public func digestInFlight(_ sequence: Int64) -> [UInt8]? { inFlight[sequence]?.digest }

    // MARK: Connection

    /// The broker connection is up: everything unacknowledged may go again.
    public mutating func connected(now: ContinuousClock.Instant) {
        connected = true
        inFlight.removeAll()
        paid = nil
    }

    public mutating func disconnected(now: ContinuousClock.Instant) {
        connected = false
        paid = nil
    }

    // MARK: Sending

    /// The sealed entries the outbox offers now (at most a few windows, in the configured order).
    /// `eventsWaiting`: events are pending or not sealed yet, so interval batches wait (at most
    /// `eventsFirstLimit`). `eventsOnly`: the last offer before the uplink stops.
    public mutating func listed(_ entries: [DrainEntry], eventsWaiting: Bool, eventsOnly: Bool = false,
                                now: ContinuousClock.Instant) -> [DrainAction] {
        guard connected else { return [] }
        var actions: [DrainAction] = []
        if eventsWaiting { eventsWaitingSince = eventsWaitingSince ?? now } else { eventsWaitingSince = nil }
        let holdForEvents = eventsWaitingSince.map { now - $0 < policy.eventsFirstLimit } ?? false
        let intervalsMayGo = !eventsOnly && !holdForEvents && now >= intervalsFrom
        let ordered = entries.filter(\.isEvent) + entries.filter { !$0.isEvent }
        if let p = paid, !ordered.contains(where: { $0.sequence == p.sequence }) { paid = nil }
        for entry in ordered {
            let seq = entry.sequence
            if !entry.isEvent && !intervalsMayGo { continue }
            if rejected.contains(seq) || resealing.contains(seq) { continue }
            if let held = heldUntil[seq] {
                if held > now { continue }
                heldUntil[seq] = nil
            }
            if let f = inFlight[seq] {
                if now - f.sentAt < policy.ackTimeout { continue }
            } else if inFlight.count >= policy.window {
                continue
            }
            if let p = paid, p.sequence == seq {
                if p.at > now {
                    actions.append(.rateLimited(until: p.at))
                    return actions
                }
            } else {
                let wait = bucket.take(entry.byteCount, now: now)
                if wait > .zero {
                    paid = (seq, now + wait)
                    actions.append(.rateLimited(until: now + wait))
                    return actions
                }
            }
            paid = nil
            inFlight[seq] = (entry.digest, now)
            actions.append(.publish(sequence: seq))
        }
        if let next = nextWake(after: now, intervalsMayGo: intervalsMayGo || eventsOnly) { actions.append(.wake(at: next)) }
        return actions
    }

    /// When a hold or an ack timeout ends (the outbox should be offered again then).
    private func nextWake(after now: ContinuousClock.Instant, intervalsMayGo: Bool) -> ContinuousClock.Instant? {
        var times = Array(heldUntil.values) + inFlight.values.map { $0.sentAt + policy.ackTimeout }
        if !intervalsMayGo {
            times.append(intervalsFrom)
            if let since = eventsWaitingSince { times.append(since + policy.eventsFirstLimit) }
        }
        return times.filter { $0 > now }.min()
    }

    /// The publish went to the broker.
    public mutating func published(sequence: Int64, now: ContinuousClock.Instant) {
        if inFlight[sequence] != nil { inFlight[sequence]?.sentAt = now }
    }

    /// The publish failed (disconnected, the broker refused): it goes again later.
    public mutating func publishFailed(sequence: Int64) {
        inFlight[sequence] = nil
    }

    // MARK: Acks

    /// A verified ack for this device arrived. `storedDigest`: the digest of the stored entry when it
    /// is not in flight (nil: the entry is gone, already acknowledged).
    public mutating func acked(_ ack: BatchAck, storedDigest: [UInt8]?, now: ContinuousClock.Instant) -> [DrainAction] {
        let seq = Int64(bitPattern: ack.sequence)
        guard let digest = inFlight[seq]?.digest ?? storedDigest else { return [] }
        guard digest == ack.batchDigest else {
            return [.log(.badAck, "ack for batch \(ack.sequence) names another batch's digest; ignored")]
        }
        inFlight[seq] = nil
        switch ack.status {
        case .accepted, .duplicate:
            // Registered now: what was refused before goes at once.
            for held in refusedHolds { heldUntil[held] = nil }
            refusedHolds.removeAll()
            refusedSince = nil
            refusal = nil
            resealed.remove(seq)
            return [.delete(sequence: seq)]
        case .rejected(let code):
            return rejected(seq, code: code)
        case .refused(let code):
            let text = BatchRefusalReason(rawValue: code)?.explanation ?? "the head-end refused the batch (reason \(code))"
            let since = refusedSince ?? now
            refusedSince = since
            // Sent again soon: an operator may approve the device any moment.
            heldUntil[seq] = now + Self.refusalHold(refusedFor: now - since)
            refusedHolds.insert(seq)
            defer { refusal = text }
            guard refusal != text else { return [] }
            return [.log(.warning, "uplink: \(text) (batch \(ack.sequence) refused); batches stay queued and are sent again until the head-end operator approves this device (headend devices pending)")]
        }
    }

    /// How long a refused batch waits before it goes again: briefly for the first quarter of an hour
    /// (an installer is waiting for the approval), then five minutes.
    static func refusalHold(refusedFor: Duration) -> Duration { refusedFor < .seconds(900) ? .seconds(5) : .seconds(300) }

    private mutating func rejected(_ seq: Int64, code: UInt16) -> [DrainAction] {
        let reason = BatchRejectionReason(rawValue: code)
        let name = reason.map { "\($0)" } ?? "reason \(code)"
        if reason == .unknownSealingKey, !resealed.contains(seq) {
            resealing.insert(seq)
            return [.reseal(sequence: seq),
                    .log(.notice, "uplink: the head-end no longer holds the sealing key of batch \(seq); sealing it again to the current key, same sequence")]
        }
        if reason == .sequenceReused, resealed.contains(seq) {
            // The first version of this re-sealed batch was stored after all (its ack was lost): the
            // head-end holds this sequence with the same content.
            resealed.remove(seq)
            return [.delete(sequence: seq),
                    .log(.notice, "uplink: batch \(seq) was stored by the head-end before it was sealed again; removed from the outbox")]
        }
        rejected.insert(seq)
        let cause = reason == .unknownSealingKey
            ? "the head-end does not hold the current sealing key either; check uplink.headEndKeys"
            : "check the head-end's log for this sequence"
        let message = "the head-end rejected batch \(seq) (\(name)); it stays in the outbox and is not sent again before the uplink restarts (\(cause))"
        return [.raise(kind: .batchRejected, severity: .error, message: message), .log(.error, "uplink: \(message)")]
    }

    // MARK: Re-sealing

    /// The entry is being sealed again (its sealed bytes were replaced by its recipe); it comes back
    /// through `listed` with its new digest.
    public mutating func resealStarted(sequence: Int64) {
        resealing.remove(sequence)
        resealed.insert(sequence)
    }

    /// The entry cannot be sealed again (sealed before this agent kept recipes): held like a rejection.
    public mutating func resealFailed(sequence: Int64, reason: String) -> [DrainAction] {
        resealing.remove(sequence)
        rejected.insert(sequence)
        let message = "batch \(sequence) is sealed to a sealing key the head-end no longer holds and cannot be sealed again (\(reason)); it stays in the outbox (restore the old key at the head-end to receive it)"
        return [.raise(kind: .batchRejected, severity: .error, message: message), .log(.error, "uplink: \(message)")]
    }
}
