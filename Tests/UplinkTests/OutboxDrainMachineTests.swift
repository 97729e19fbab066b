import ConcentratorCore
import Testing
@testable import Uplink
import Wire

/// A manual clock for the drain machine: instants advanced by hand.
struct DrainClock {
    private(set) var now = ContinuousClock.now
    mutating func advance(_ d: Duration) { now = now + d }
}

/// One unit test per policy of the drain state machine (issue 10 §3, §4a–d), with a manual clock.
@Suite struct OutboxDrainMachineTests {
    static let ackKey = try! KeyID(bytes: [1, 2, 3, 4, 5, 6, 7, 8])

    static func entry(_ seq: Int64, event: Bool = false, bytes: Int = 100) -> DrainEntry {
        DrainEntry(sequence: seq, isEvent: event, byteCount: bytes, digest: [UInt8(truncatingIfNeeded: seq), 0xAA])
    }

    static func ack(_ seq: Int64, _ status: BatchAck.Status, digest: [UInt8]? = nil) -> BatchAck {
        BatchAck(deviceID: "gw-0001", sequence: UInt64(seq), batchDigest: digest ?? entry(seq).digest, status: status, keyID: ackKey)
    }

    static func published(_ actions: [DrainAction]) -> [Int64] {
        actions.compactMap { if case .publish(let s) = $0 { return s }; return nil }
    }

    /// A connected machine past its start-up grace, with a generous rate.
    static func ready(_ clock: inout DrainClock, window: Int = 32, ackTimeout: Duration = .seconds(60),
                      rate: Int = 1_000_000, burst: Int = 1_000_000) -> OutboxDrainMachine {
        var m = OutboxDrainMachine(policy: .init(window: window, ackTimeout: ackTimeout, bytesPerSecond: rate, burstBytes: burst,
                                                 startupGrace: .seconds(2)), now: clock.now)
        clock.advance(.seconds(3))
        m.connected(now: clock.now)
        return m
    }

    @Test func nothingIsPublishedWhileDisconnected() {
        var clock = DrainClock()
        var m = Self.ready(&clock)
        m.disconnected(now: clock.now)
        #expect(m.listed([Self.entry(1)], eventsWaiting: false, now: clock.now).isEmpty)
        m.connected(now: clock.now)
        #expect(Self.published(m.listed([Self.entry(1)], eventsWaiting: false, now: clock.now)) == [1])
    }

    @Test func theInFlightWindowBoundsUnacknowledgedBatches() {
        var clock = DrainClock()
        var m = Self.ready(&clock, window: 3)
        let entries = (1...5).map { Self.entry(Int64($0)) }
        #expect(Self.published(m.listed(entries, eventsWaiting: false, now: clock.now)) == [1, 2, 3])
        #expect(m.inFlightCount == 3)
        #expect(Self.published(m.listed(entries, eventsWaiting: false, now: clock.now)).isEmpty)
        #expect(m.acked(Self.ack(2, .accepted), storedDigest: nil, now: clock.now) == [.delete(sequence: 2)])
        #expect(Self.published(m.listed(entries.filter { $0.sequence != 2 }, eventsWaiting: false, now: clock.now)) == [4])
    }

    @Test func anAckMustNameTheDigestOfWhatWasSent() {
        var clock = DrainClock()
        var m = Self.ready(&clock)
        _ = m.listed([Self.entry(7)], eventsWaiting: false, now: clock.now)
        let wrong = m.acked(Self.ack(7, .accepted, digest: [9, 9]), storedDigest: nil, now: clock.now)
        #expect(wrong.count == 1 && !wrong.contains(.delete(sequence: 7)))
        #expect(m.inFlightCount == 1)
        // After a restart nothing is in flight: the stored entry's digest decides; a gone entry is a no-op.
        var fresh = Self.ready(&clock)
        #expect(fresh.acked(Self.ack(7, .duplicate), storedDigest: Self.entry(7).digest, now: clock.now) == [.delete(sequence: 7)])
        #expect(fresh.acked(Self.ack(8, .accepted), storedDigest: nil, now: clock.now).isEmpty)
    }

    @Test func anUnacknowledgedBatchGoesAgainAfterTheAckTimeoutAndAfterAReconnect() {
        var clock = DrainClock()
        var m = Self.ready(&clock, ackTimeout: .seconds(30))
        let actions = m.listed([Self.entry(1)], eventsWaiting: false, now: clock.now)
        #expect(Self.published(actions) == [1])
        #expect(actions.contains(.wake(at: clock.now + .seconds(30))))
        clock.advance(.seconds(29))
        #expect(Self.published(m.listed([Self.entry(1)], eventsWaiting: false, now: clock.now)).isEmpty)
        clock.advance(.seconds(1))
        #expect(Self.published(m.listed([Self.entry(1)], eventsWaiting: false, now: clock.now)) == [1])
        m.connected(now: clock.now)
        #expect(m.inFlightCount == 0)
        #expect(Self.published(m.listed([Self.entry(1)], eventsWaiting: false, now: clock.now)) == [1])
    }

    @Test func aRefusalHoldsTheBatchAndTheFirstAcceptedAckReleasesIt() {
        var clock = DrainClock()
        var m = Self.ready(&clock)
        _ = m.listed([Self.entry(1), Self.entry(2)], eventsWaiting: false, now: clock.now)
        let first = m.acked(Self.ack(1, .refused(reasonCode: 1)), storedDigest: nil, now: clock.now)
        #expect(first.count == 1)  // one warning for the first refusal
        #expect(m.refusal == BatchRefusalReason.deviceNotRegistered.explanation)
        #expect(m.acked(Self.ack(2, .refused(reasonCode: 1)), storedDigest: nil, now: clock.now).isEmpty)  // same text: quiet
        clock.advance(.seconds(4))
        #expect(Self.published(m.listed([Self.entry(1), Self.entry(2)], eventsWaiting: false, now: clock.now)).isEmpty)
        clock.advance(.seconds(1))
        #expect(Self.published(m.listed([Self.entry(1)], eventsWaiting: false, now: clock.now)) == [1])
        // After a quarter of an hour of refusals the hold is five minutes.
        clock.advance(.seconds(900))
        _ = m.acked(Self.ack(1, .refused(reasonCode: 1)), storedDigest: nil, now: clock.now)
        clock.advance(.seconds(299))
        #expect(Self.published(m.listed([Self.entry(1), Self.entry(2)], eventsWaiting: false, now: clock.now)) == [2])
        #expect(m.acked(Self.ack(2, .accepted), storedDigest: nil, now: clock.now) == [.delete(sequence: 2)])
        #expect(m.refusal == nil)
        #expect(Self.published(m.listed([Self.entry(1)], eventsWaiting: false, now: clock.now)) == [1])
    }

    @Test func reasonOneReSealsOnceUnderTheSameSequence() {
        var clock = DrainClock()
        var m = Self.ready(&clock)
        _ = m.listed([Self.entry(4)], eventsWaiting: false, now: clock.now)
        let actions = m.acked(Self.ack(4, .rejected(reasonCode: 1)), storedDigest: nil, now: clock.now)
        #expect(actions.first == .reseal(sequence: 4))
        // Not offered while it is being sealed again.
        #expect(Self.published(m.listed([Self.entry(4)], eventsWaiting: false, now: clock.now)).isEmpty)
        m.resealStarted(sequence: 4)
        let resealed = DrainEntry(sequence: 4, isEvent: false, byteCount: 100, digest: [0xBB])
        #expect(Self.published(m.listed([resealed], eventsWaiting: false, now: clock.now)) == [4])
        // The current key is unknown too: no second re-seal, held with an event instead.
        let again = m.acked(Self.ack(4, .rejected(reasonCode: 1), digest: [0xBB]), storedDigest: nil, now: clock.now)
        #expect(!again.contains(.reseal(sequence: 4)))
        #expect(again.contains { if case .raise(.batchRejected, .error, _) = $0 { return true }; return false })
        #expect(Self.published(m.listed([resealed], eventsWaiting: false, now: clock.now)).isEmpty)
    }

    @Test func aReSealedBatchTheHeadEndAlreadyHoldsIsDeleted() {
        var clock = DrainClock()
        var m = Self.ready(&clock)
        _ = m.listed([Self.entry(4)], eventsWaiting: false, now: clock.now)
        _ = m.acked(Self.ack(4, .rejected(reasonCode: 1)), storedDigest: nil, now: clock.now)
        m.resealStarted(sequence: 4)
        let resealed = DrainEntry(sequence: 4, isEvent: false, byteCount: 100, digest: [0xBB])
        _ = m.listed([resealed], eventsWaiting: false, now: clock.now)
        let actions = m.acked(Self.ack(4, .rejected(reasonCode: 7), digest: [0xBB]), storedDigest: nil, now: clock.now)
        #expect(actions.first == .delete(sequence: 4))
    }

    @Test func aReSealThatIsImpossibleHoldsTheBatchWithAnEvent() {
        var clock = DrainClock()
        var m = Self.ready(&clock)
        _ = m.listed([Self.entry(4)], eventsWaiting: false, now: clock.now)
        _ = m.acked(Self.ack(4, .rejected(reasonCode: 1)), storedDigest: nil, now: clock.now)
        let actions = m.resealFailed(sequence: 4, reason: "no recipe")
        #expect(actions.contains { if case .raise(.batchRejected, _, _) = $0 { return true }; return false })
        #expect(Self.published(m.listed([Self.entry(4)], eventsWaiting: false, now: clock.now)).isEmpty)
    }

    @Test func otherRejectionsHoldTheBatchForThisUplinkAndRaiseOneEvent() {
        var clock = DrainClock()
        var m = Self.ready(&clock)
        _ = m.listed([Self.entry(5), Self.entry(6)], eventsWaiting: false, now: clock.now)
        let actions = m.acked(Self.ack(5, .rejected(reasonCode: 5)), storedDigest: nil, now: clock.now)
        let raised = actions.compactMap { a -> String? in if case .raise(.batchRejected, .error, let m) = a { return m }; return nil }
        #expect(raised.count == 1 && raised[0].contains("batch 5") && raised[0].contains("malformedBody"))
        clock.advance(.seconds(7200))
        m.connected(now: clock.now)
        #expect(Self.published(m.listed([Self.entry(5), Self.entry(6)], eventsWaiting: false, now: clock.now)) == [6])
        // A new uplink (restart, reload, keys.rotate) starts without holds.
        var restarted = Self.ready(&clock)
        #expect(Self.published(restarted.listed([Self.entry(5)], eventsWaiting: false, now: clock.now)) == [5])
    }

    @Test func eventsGoFirstAndIntervalBatchesWaitForPendingEventsAndTheStartupGrace() {
        var clock = DrainClock()
        var m = OutboxDrainMachine(policy: .init(ackTimeout: .seconds(60), bytesPerSecond: 1_000_000, startupGrace: .seconds(2)), now: clock.now)
        m.connected(now: clock.now)
        let backlog = [Self.entry(1), Self.entry(2), Self.entry(3, event: true)]
        // Start-up: only the event goes; the machine asks to be woken when the grace ends.
        let first = m.listed(backlog, eventsWaiting: false, now: clock.now)
        #expect(Self.published(first) == [3])
        #expect(first.contains(.wake(at: clock.now + .seconds(2))))
        clock.advance(.seconds(2))
        // Events still waiting to be queued or sealed: interval batches wait.
        #expect(Self.published(m.listed(Array(backlog.prefix(2)), eventsWaiting: true, now: clock.now)).isEmpty)
        #expect(Self.published(m.listed([Self.entry(1), Self.entry(9, event: true), Self.entry(2)], eventsWaiting: false, now: clock.now)) == [9, 1, 2])
    }

    @Test func eventsThatCannotBeSealedHoldIntervalBatchesOnlyForALimitedTime() {
        var clock = DrainClock()
        var m = Self.ready(&clock)
        let first = m.listed([Self.entry(1)], eventsWaiting: true, now: clock.now)
        #expect(Self.published(first).isEmpty)
        #expect(first.contains(.wake(at: clock.now + .seconds(10))))
        clock.advance(.seconds(9))
        #expect(Self.published(m.listed([Self.entry(1)], eventsWaiting: true, now: clock.now)).isEmpty)
        clock.advance(.seconds(1))
        // A full disk that keeps events unsealed must not stop the drain that frees the space.
        #expect(Self.published(m.listed([Self.entry(1)], eventsWaiting: true, now: clock.now)) == [1])
        // The last offer before stopping sends events only.
        var stopping = Self.ready(&clock)
        #expect(Self.published(stopping.listed([Self.entry(1), Self.entry(2, event: true)], eventsWaiting: false, eventsOnly: true,
                                               now: clock.now)) == [2])
    }

    @Test func theTokenBucketSpacesBatchesAndPaysEachOnce() {
        var clock = DrainClock()
        var m = Self.ready(&clock, rate: 1000, burst: 1000)
        let entries = [Self.entry(1, bytes: 1000), Self.entry(2, bytes: 500)]
        let first = m.listed(entries, eventsWaiting: false, now: clock.now)
        #expect(Self.published(first) == [1])
        #expect(first.last == .rateLimited(until: clock.now + .milliseconds(500)))
        clock.advance(.milliseconds(499))
        let early = m.listed(entries, eventsWaiting: false, now: clock.now)
        #expect(Self.published(early).isEmpty)
        #expect(early.last == .rateLimited(until: clock.now + .milliseconds(1)))
        clock.advance(.milliseconds(1))
        #expect(Self.published(m.listed(entries, eventsWaiting: false, now: clock.now)) == [2])
    }
}
