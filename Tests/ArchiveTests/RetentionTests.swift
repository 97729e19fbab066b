@testable import Archive
import ConcentratorCore
import Platform
import Testing
import TestSupport

/// Retention in virtual time: 50 days of data are written while a ManualClock advances, and pruning
/// runs as the agent would. No test waits in real time.
@Suite struct RetentionTests {
    static let meters = 3
    static let day: Int64 = 86_400

    /// Writes days `firstDay..<firstDay + days` of hourly snapshots (3 meters), a 15-minute profile (meter 0), and one
    /// event and one audit entry per day, advancing `clock` through them.
    func fill(_ store: ArchiveStore, clock: ManualClock, firstDay: Int = 0, days: Int) throws {
        for d in firstDay..<(firstDay + days) {
            var hourly: [MeterSnapshot] = []
            var profile: [MeterSnapshot] = []
            for h in 0..<24 {
                hourly += (0..<Self.meters).map { testSnapshot(meter: $0, hour: d * 24 + h) }
                for q in 0..<4 {
                    let start = testOrigin.adding(seconds: Int64(d) * Self.day + Int64(h * 3600 + q * 900))
                    profile.append(MeterSnapshot(meter: "m0", intervalStart: start, gatewayTime: start,
                                                 values: [QuantityValue(quantity: "active_power_total", value: Double(q))]))
                }
            }
            _ = try store.performBlocking(.commit(hourly, source: "bus1"))
            _ = try store.performBlocking(.commit(profile, series: .profile, source: "bus1"))
            let noon = testOrigin.adding(seconds: Int64(d) * Self.day + 43_200)
            try store.performBlocking(.recordEvent(ArchiveEvent(time: noon, bus: "bus1", kind: "day", message: "day \(d)")))
            try store.performBlocking(.recordAudit(AuditEntry(time: noon, keyID: "k1", role: "operator", verb: "read-now",
                                                              arguments: "m0", result: "ok")))
            clock.advance(milliseconds: Self.day * 1000)
        }
    }

    @Test func pruningAtDayFiftyKeepsExactlyTheLastFortyFiveDays() throws {
        let dir = TemporaryDirectory("retention")
        let clock = ManualClock(testOrigin)
        let (store, _) = try openStore(dir, options: ArchiveOptions(pruneRowsPerStep: 100), clock: clock)
        defer { store.close() }
        try fill(store, clock: clock, days: 50)
        let outbox = try store.performBlocking(.enqueueOutbox(OutboxItem(created: testOrigin, kind: "readings", payload: [1])))
        #expect(clock.now() == testOrigin.adding(seconds: 50 * Self.day))

        let result = try store.pruneBlocking(now: clock.now(), retentionDays: 45, budget: .seconds(60))
        let cutoff = testOrigin.adding(seconds: 5 * Self.day)
        #expect(result.complete)
        // 5 days × (3 meters × 24 + 96 profile rows) = 840 snapshots, 100 per step, then events and audit.
        #expect(result.snapshotsRemoved == 840)
        #expect(result.eventsRemoved == 5 && result.auditEntriesRemoved == 5)
        #expect(result.steps == 11)
        print("retention: \(result.steps) steps, longest \(result.longestStep.inMilliseconds) ms")

        let end = clock.now()
        let r = store.reader
        #expect(try r.snapshotCount(from: testOrigin, to: cutoff) == 0)
        #expect(try r.snapshotCount(from: testOrigin, to: cutoff, series: .profile) == 0)
        #expect(try r.storedRange() == cutoff...end.adding(seconds: -3600))
        #expect(try r.storedRange(series: .profile) == cutoff...end.adding(seconds: -900))
        for m in 0..<Self.meters {
            let kept = try r.snapshots(meter: MeterID("m\(m)"), from: testOrigin, to: end)
            #expect(kept == (120..<1200).map { testSnapshot(meter: m, hour: $0) })
        }
        #expect(try r.snapshotCount(from: cutoff, to: end, series: .profile) == 45 * 96)
        #expect(try r.events(from: testOrigin, to: end).map(\.message) == (5..<50).map { "day \($0)" })
        #expect(try r.auditEntries(from: testOrigin, to: end).count == 45)
        #expect(try r.outboxPending(limit: 10).map(\.sequence) == [outbox], "unacknowledged outbox entries are never pruned")

        // Nothing more to do: a second call removes nothing.
        let again = try store.pruneBlocking(now: clock.now(), retentionDays: 45)
        #expect(again.complete && again.steps == 0 && again.snapshotsRemoved == 0)
    }

    @Test func dailyPruningWhileTimePassesHoldsTheWindow() throws {
        let dir = TemporaryDirectory("retention")
        let clock = ManualClock(testOrigin)
        let (store, _) = try openStore(dir, clock: clock)
        defer { store.close() }
        var longest = Duration.zero
        for day in 0..<50 {
            try fill(store, clock: clock, firstDay: day, days: 1)
            let result = try store.pruneBlocking(now: clock.now(), retentionDays: 45)
            #expect(result.complete)
            longest = max(longest, result.longestStep)
        }
        // Day d's data was written while the clock showed day d (fill advances it afterwards), so the
        // window after 50 days starts at day 5.
        #expect(try store.reader.storedRange() == testOrigin.adding(seconds: 5 * Self.day)...testOrigin.adding(seconds: 50 * Self.day - 3600))
        print("retention (daily): longest step \(longest.inMilliseconds) ms")
    }

    @Test func retentionMustBePositive() throws {
        let dir = TemporaryDirectory("retention")
        let (store, _) = try openStore(dir)
        defer { store.close() }
        #expect(throws: ArchiveError.self) { try store.pruneBlocking(now: testOrigin, retentionDays: 0) }
    }
}
