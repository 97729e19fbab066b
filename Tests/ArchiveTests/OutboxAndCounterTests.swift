@testable import Archive
import ConcentratorCore
import Testing
import TestSupport

@Suite struct OutboxAndCounterTests {
    func item(_ n: Int, priority: Int = 0, hour: Int? = nil) -> OutboxItem {
        OutboxItem(created: testOrigin.adding(seconds: Int64(n)), kind: "readings", priority: priority,
                   intervals: hour.map { testOrigin.adding(seconds: hours($0))..<testOrigin.adding(seconds: hours($0 + 1)) },
                   payload: [UInt8(n), 0xFF, 0x00])
    }

    @Test func sequencesAreNeverReusedEvenAfterTheNewestIsAcknowledged() async throws {
        let dir = TemporaryDirectory("outbox")
        let (store, _) = try openStore(dir)
        let a = try await store.perform(.enqueueOutbox(item(1)))
        let b = try await store.perform(.enqueueOutbox(item(2)))
        #expect(b > a)
        #expect(try await store.perform(.acknowledgeOutbox(sequence: b)))
        #expect(try await store.perform(.acknowledgeOutbox(sequence: b)) == false)
        await store.close()
        // Also across a restart.
        let (again, _) = try openStore(dir)
        let c = try await again.perform(.enqueueOutbox(item(3)))
        #expect(c > b)
        await again.close()
    }

    @Test func pendingListsInTheRequestedOrderWithAttempts() async throws {
        let dir = TemporaryDirectory("outbox")
        let (store, _) = try openStore(dir)
        let s1 = try await store.perform(.enqueueOutbox(item(1, priority: 0, hour: 5)))
        let s2 = try await store.perform(.enqueueOutbox(item(2, priority: 9, hour: 3)))
        let s3 = try await store.perform(.enqueueOutbox(item(3, priority: 0)))
        #expect(try await store.perform(.recordOutboxAttempt(sequence: s2, at: testOrigin.adding(seconds: 60))))
        #expect(try await store.perform(.recordOutboxAttempt(sequence: s2, at: testOrigin.adding(seconds: 120))))

        let oldest = try await store.read { try $0.outboxPending(limit: 10) }
        #expect(oldest.map(\.sequence) == [s1, s2, s3])
        #expect(oldest[0].item == item(1, priority: 0, hour: 5))
        #expect(oldest[2].item.intervals == nil)
        #expect(oldest[1].attempts == 2 && oldest[1].lastAttempt == testOrigin.adding(seconds: 120))
        #expect(try await store.read { try $0.outboxPending(limit: 2, order: .newestFirst) }.map(\.sequence) == [s3, s2])
        #expect(try await store.read { try $0.outboxPending(limit: 10, order: .priorityThenOldest) }.map(\.sequence) == [s2, s1, s3])
        #expect(try await store.read { try $0.outboxDepth() } == 3)
        #expect(try await store.read { try $0.oldestUnacknowledgedInterval() } == testOrigin.adding(seconds: hours(3)))
        _ = try await store.perform(.acknowledgeOutbox(sequence: s2))
        #expect(try await store.read { try $0.oldestUnacknowledgedInterval() } == testOrigin.adding(seconds: hours(5)))
        #expect(try await store.read { try $0.outboxDepth() } == 2)
        await store.close()
    }

    @Test func countersPersistBeforeReturningAndOnlyGrow() async throws {
        let dir = TemporaryDirectory("counters")
        do {
            let (store, _) = try openStore(dir)
            #expect(try await store.perform(.nextCounterValue("nonce")) == 1)
            #expect(try await store.perform(.nextCounterValue("nonce")) == 2)
            #expect(try await store.perform(.nextCounterValue("batch")) == 1)
            #expect(try await store.perform(.raiseCounter("command", to: 10)))
            #expect(try await store.perform(.raiseCounter("command", to: 10)) == false, "a replayed counter is refused")
            #expect(try await store.perform(.raiseCounter("command", to: 9)) == false)
            await store.close()
        }
        // A separate connection (as after a crash) sees the values.
        let (store, _) = try openStore(dir)
        #expect(try await store.read { try $0.counterValue("nonce") } == 2)
        #expect(try await store.read { try $0.counterValue("command") } == 10)
        #expect(try await store.read { try $0.counterValue("never") } == nil)
        #expect(try await store.perform(.nextCounterValue("nonce")) == 3)
        await store.close()
    }

    @Test func eventsAndAuditEntriesRoundTrip() async throws {
        let dir = TemporaryDirectory("events")
        let (store, _) = try openStore(dir)
        let e1 = ArchiveEvent(time: testOrigin, bus: "bus1", meter: "m3", kind: "meter-silent", message: "no answer for 3 cycles")
        let e2 = ArchiveEvent(time: testOrigin.adding(seconds: 10), kind: "clock-set", message: "clock stepped +2 s")
        try await store.perform(.recordEvent(e2))
        try await store.perform(.recordEvent(e1))
        #expect(try await store.read { try $0.events(from: testOrigin, to: testOrigin.adding(seconds: 11)) } == [e1, e2])
        #expect(try await store.read { try $0.events(from: testOrigin, to: testOrigin.adding(seconds: 10)) } == [e1])
        let a = AuditEntry(time: testOrigin, keyID: "op-2026", role: "operator", verb: "set-interval",
                           arguments: "{\"minutes\":15}", result: "ok")
        try await store.perform(.recordAudit(a))
        #expect(try await store.read { try $0.auditEntries(from: testOrigin, to: testOrigin.adding(seconds: 1)) } == [a])
        await store.close()
    }
}

/// The two-step outbox: entries enqueued with their snapshots, sealed later by the uplink.
@Suite struct OutboxSealingTests {
    func recipe(hour: Int) -> OutboxItem {
        OutboxItem(created: testOrigin, kind: "interval", intervals: testOrigin.adding(seconds: hours(hour))..<testOrigin.adding(seconds: hours(hour + 1)),
                   payload: Array("recipe \(hour)".utf8), sealed: false)
    }

    @Test func aCommitEnqueuesItsEntryInTheSameTransactionOnlyWhenSomethingNewWasStored() async throws {
        let dir = TemporaryDirectory("outbox-seal")
        let (store, _) = try openStore(dir)
        let snapshots = [testSnapshot(meter: 1, hour: 0), testSnapshot(meter: 2, hour: 0)]
        let first = try await store.perform(.commit(snapshots, source: "bus1", outbox: recipe(hour: 0)))
        #expect(first.stored == 2)
        let sequence = try #require(first.outboxSequence)
        // The same snapshots again: nothing new, so no second entry reports them.
        let again = try await store.perform(.commit(snapshots, source: "bus1", outbox: recipe(hour: 0)))
        #expect(again.stored == 0 && again.outboxSequence == nil)
        #expect(try await store.read { try $0.outboxDepth() } == 1)
        // Unsealed entries are not ready to send.
        #expect(try await store.read { try $0.outboxPending(limit: 10) }.isEmpty)
        let unsealed = try await store.read { try $0.outboxUnsealed(limit: 10) }
        #expect(unsealed.map(\.sequence) == [sequence] && unsealed[0].item.payload == Array("recipe 0".utf8))
        #expect(try await store.perform(.sealOutbox(sequence: sequence, payload: [1, 2, 3])))
        #expect(try await store.perform(.sealOutbox(sequence: sequence, payload: [9])) == false, "sealed once, never again")
        let pending = try await store.read { try $0.outboxPending(limit: 10) }
        #expect(pending.map(\.item.payload) == [[1, 2, 3]] && pending[0].item.sealed)
        #expect(try await store.read { try $0.outboxUnsealed(limit: 10) }.isEmpty)
        await store.close()
    }

    @Test func entriesOlderThanTheRetentionAreDroppedAndReported() async throws {
        let dir = TemporaryDirectory("outbox-drop")
        let (store, _) = try openStore(dir)
        let old = try await store.perform(.enqueueOutbox(recipe(hour: 0)))
        let young = try await store.perform(.enqueueOutbox(recipe(hour: 10)))
        let events = try await store.perform(.enqueueOutbox(OutboxItem(created: testOrigin, kind: "events", payload: [1])))
        let dropped = try await store.perform(.dropOutbox(endingBefore: testOrigin.adding(seconds: hours(5))))
        #expect(dropped == [old])
        let left = try await store.read { try $0.outboxUnsealed(limit: 10) }.map(\.sequence)
        #expect(left.contains(young))
        #expect(try await store.read { try $0.outboxPending(limit: 10) }.map(\.sequence) == [events], "entries without intervals stay")
        await store.close()
    }
}
