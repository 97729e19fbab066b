import Foundation
import Testing
import ConcentratorCore
import Platform
import TestSupport
@testable import Bus
import MeterProtocols
import MeterSimulator

/// Load-profile series, the live cadence, and snapshots kept while the archive refuses them.
@Suite(.serialized) struct BusScheduleTests {
    @Test func quarterHourBoundariesStoreTheLoadProfileAndTheHourStoresBoth() throws {
        let field = try SimulatedField(count: 2, profiles: ["eastron-sdm630"])
        let sink = MemorySink()
        // 09:44:58 at 60× real time: 09:45 (profile only) then 10:00 (both) within about 16 s.
        let clock = AcceleratedClock(origin: ISO8601.parse("2026-11-21T09:44:58Z")!, rate: 60)
        let owner = BusOwner(settings: field.busSettings(), meters: field.meters,
                             schedule: BusSchedule(archive: ArchiveSettings(profileIntervalMinutes: 15)), clock: clock, sink: sink,
                             logger: testLogger, clockSynchronised: { true })
        owner.start()
        defer { owner.stop() }
        #expect(waitUntil(timeout: .seconds(40)) { sink.commits.contains { $0.series == .interval } })
        let commits = sink.commits
        let quarter = try #require(commits.first { $0.interval == ISO8601.parse("2026-11-21T09:45:00Z") })
        #expect(quarter.series == .profile)
        let profileQuantities = Set(field.meters[0].1.profileQuantities)
        #expect(!profileQuantities.isEmpty)
        #expect(quarter.snapshots.allSatisfy { Set($0.values.map(\.quantity)) == profileQuantities },
                "only the load-profile quantities at a quarter hour")
        let hour = ISO8601.parse("2026-11-21T10:00:00Z")!
        let atHour = commits.filter { $0.interval == hour }
        #expect(Set(atHour.map(\.series)) == [.interval, .profile], "the hour stores both series from one read")
        let full = try #require(atHour.first { $0.series == .interval })
        #expect(full.snapshots[0].values.count == field.meters[0].1.quantities.count)
        // Meter 1 was asked once at 09:45 (the profile blocks) and once at 10:00 (all blocks): one
        // read serves both series at the hour.
        let map = field.meters[0].1.modbus!
        let profileBlocks = ModbusBlockPlanner.plan(map, quantities: profileQuantities).count
        #expect(field.served.filter { $0.slave == 1 }.count == profileBlocks + ModbusPlanCount.blocks(map))
    }

    @Test func theLiveCadenceReadsItsQuantitiesAndBacksOffFromADeadMeter() throws {
        let field = try SimulatedField(count: 3, profiles: ["eastron-sdm120"], faults: [.meter(.slave(3), .silence)])
        let sink = MemorySink()
        let live = LiveCadence(periodSeconds: 1, quantities: ["active_power_total", "voltage_l1"])
        // Real-time pace, 20 minutes into an hour: neither a boundary nor the catch-up window after
        // one (the wall clock in its first 10 minutes would add a late interval snapshot).
        let clockMidInterval = AcceleratedClock(origin: ISO8601.parse("2026-11-21T09:20:00Z")!, rate: 1)
        let owner = BusOwner(settings: field.busSettings(timeouts: 50...100), meters: field.meters,
                             schedule: BusSchedule(archive: ArchiveSettings(), live: live), clock: clockMidInterval, sink: sink,
                             logger: testLogger, clockSynchronised: { true })
        owner.start()
        Thread.sleep(forTimeInterval: 8)
        owner.stop()
        let served = field.served
        // Live reads ask only for the live quantities' registers, about once a second.
        let liveReads = served.filter { $0.slave == 1 }
        #expect(liveReads.count >= 5 && liveReads.count <= 12, "\(liveReads.count) live reads of meter 1 in 8 s")
        #expect(liveReads.allSatisfy { Set($0.values.keys).isSuperset(of: ["active_power_total", "voltage_l1"]) })
        // The silent meter is probed with back-off (after 1, 2, 4 s …), not every second.
        let probes = served.filter { $0.slave == 3 && $0.fault == "silence" }.count
        #expect(probes >= 2 && probes <= 5, "\(probes) probes of the silent meter in 8 s")
        #expect(probes < liveReads.count)
        let status = owner.status().meters.first { $0.id == "m3" }
        #expect(status?.state == .offline)
        #expect(sink.commits.isEmpty, "the live cadence keeps values in memory, not in the archive")
    }

    @Test func snapshotsTheArchiveRefusesAreKeptAndStoredWhenItRecovers() throws {
        let field = try SimulatedField(count: 2, profiles: ["eastron-sdm120"])
        let sink = FlakySink()
        let events = EventLog()
        var schedule = BusSchedule(archive: ArchiveSettings())
        schedule.commitRetryInterval = .milliseconds(500)
        let owner = BusOwner(settings: field.busSettings(), meters: field.meters, schedule: schedule,
                             clock: clockBeforeBoundary(secondsBefore: 0.5), sink: sink, logger: testLogger,
                             clockSynchronised: { true }, onEvent: { events.add($0) })
        owner.start()
        defer { owner.stop() }
        #expect(waitUntil(timeout: .seconds(20)) { owner.status().pendingCommits == 1 }, "kept in memory while refused")
        #expect(events.all.contains { $0.kind == .archiveError })
        sink.healthy = true
        #expect(waitUntil(timeout: .seconds(10)) { sink.stored.count == 1 && owner.status().pendingCommits == 0 })
        #expect(sink.stored.first?.count == 2)
        #expect(events.all.contains { $0.kind == .archiveRecovered })
    }
}

/// A sink that fails like a full disk until it is told it is healthy.
final class FlakySink: SnapshotSink, @unchecked Sendable {
    private let lock = ConditionLock()
    private var isHealthy = false
    private var kept: [[MeterSnapshot]] = []

    struct DiskFull: Error, CustomStringConvertible { var description: String { "disk full (test)" } }

    var healthy: Bool {
        get { lock.withLock { isHealthy } }
        set { lock.withLock { isHealthy = newValue } }
    }

    var stored: [[MeterSnapshot]] { lock.withLock { kept } }

    func store(bus: BusName, series: SeriesKind, intervalStart: Timestamp, snapshots: [MeterSnapshot]) throws {
        try lock.withLock {
            guard isHealthy else { throw DiskFull() }
            kept.append(snapshots)
        }
    }

    func storedMeters(bus: BusName, series: SeriesKind, intervalStart: Timestamp) throws -> Set<MeterID> { [] }
}
