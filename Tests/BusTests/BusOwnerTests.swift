import Foundation
import Testing
import ConcentratorCore
import Platform
import TestSupport
@testable import Bus
import MeterProtocols
import MeterSimulator

/// The bus owner against meter-sim on a real PTY, with real line timing.
@Suite(.serialized) struct BusOwnerTests {
    @Test func scheduledSnapshotStoresWhatTheMetersServed() throws {
        let field = try SimulatedField(count: 10)
        let sink = MemorySink()
        let clock = clockBeforeBoundary(secondsBefore: 1)
        let owner = BusOwner(settings: field.busSettings(), meters: field.meters, schedule: BusSchedule(archive: ArchiveSettings()),
                             clock: clock, sink: sink, logger: testLogger, clockSynchronised: { true })
        owner.start()
        defer { owner.stop() }
        #expect(waitUntil(timeout: .seconds(60)) { !sink.commits.isEmpty })
        let commit = try #require(sink.commits.first)
        #expect(commit.series == .interval)
        #expect(IntervalSchedule(minutes: 60).isBoundary(commit.interval))
        #expect(commit.snapshots.count == 10)
        let served = ServedLogReader.servedValues(field.served)
        var compared = 0
        for snapshot in commit.snapshots {
            let profile = field.meters.first { $0.0.id == snapshot.meter }!.1
            #expect(snapshot.values.map(\.quantity) .sorted() == profile.quantities.sorted(), "every quantity of \(profile.id)")
            #expect(snapshot.intervalStart == commit.interval)
            let slave = Int(snapshot.meter.rawValue.dropFirst())!
            for v in snapshot.values {
                guard let value = v.value else {
                    Issue.record("\(snapshot.meter) \(v.quantity): \(v.error.map(String.init(describing:)) ?? "no value")")
                    continue
                }
                #expect(served["\(slave)/\(v.quantity.rawValue)"]?.contains(value) == true,
                        "\(snapshot.meter) \(v.quantity) = \(value) was not served")
                compared += 1
            }
        }
        #expect(compared > 200)
        let status = owner.status()
        #expect(status.cyclesCompleted == 1)
        #expect(status.metersOnline == 10)
    }

    @Test func deadAndBadCRCMetersCostOneFailedTransactionEachPerCycle() throws {
        // 8 meters; address 3 is silent, address 6 answers with a bad CRC.
        let field = try SimulatedField(count: 8, faults: [.meter(.slave(3), .silence), .meter(.slave(6), .badCRC)])
        let sink = MemorySink()
        let clock = AcceleratedClock(origin: ISO8601.parse("2026-11-21T09:59:59Z")!, rate: 60)
        let owner = BusOwner(settings: field.busSettings(timeouts: 50...400), meters: field.meters,
                             schedule: BusSchedule(archive: ArchiveSettings()), clock: clock, sink: sink, logger: testLogger,
                             clockSynchronised: { true })
        owner.start()
        defer { owner.stop() }
        // Two cycles: the first meets the meters, the second runs with learned timeouts.
        #expect(waitUntil(timeout: .seconds(150)) { sink.commits.count >= 2 })
        let served = field.served
        for (i, commit) in sink.commits.prefix(2).enumerated() {
            let dead = commit.snapshots.first { $0.meter == "m3" }!
            let noisy = commit.snapshots.first { $0.meter == "m6" }!
            #expect(dead.values.allSatisfy { $0.error == .noResponse })
            #expect(noisy.values.allSatisfy { $0.error == .badChecksum })
            #expect(commit.snapshots.filter { $0.meter != "m3" && $0.meter != "m6" }.allSatisfy { s in s.values.allSatisfy { $0.error == nil } })
            _ = i
        }
        // One request per cycle to each failing meter: no per-block retries, no retry for a meter
        // that never answered.
        let badCRCAnswers = served.filter { $0.slave == 6 }
        #expect(badCRCAnswers.count == 2, "one bad-CRC answer per cycle, got \(badCRCAnswers.count)")
        let report = try #require(owner.status().lastCycle)
        // The silent meter cost at most one response timeout (its upper bound, 400 ms, as it was
        // never heard) plus the request's wire time and scheduling slack.
        #expect(report.worstFailedMeterMilliseconds <= 400 + 60, "worst failed meter took \(report.worstFailedMeterMilliseconds) ms")
        #expect(report.failed == 2)
        #expect(report.answered == 6)
        // Every value of two cycles is committed: read, or marked with why it is missing.
        let values = sink.commits.prefix(2).flatMap(\.snapshots).flatMap { s in s.values.map { (s.meter, $0) } }
        let accounted = values.filter { meter, v in
            meter == "m3" ? v.error == .noResponse : meter == "m6" ? v.error == .badChecksum : v.error == nil
        }
        FaultMatrix.record(fault: "bus fault: a silent and a bad-CRC meter (values, errors marked)", expected: values.count,
                           delivered: accounted.count)
    }

    @Test func exceptionsAreRecordedNotRetried() throws {
        let field = try SimulatedField(count: 3, profiles: ["eastron-sdm630"], faults: [.meter(.slave(2), .exception(4))])
        let sink = MemorySink()
        let owner = BusOwner(settings: field.busSettings(), meters: field.meters, schedule: BusSchedule(archive: ArchiveSettings()),
                             clock: clockBeforeBoundary(secondsBefore: 0.5), sink: sink, logger: testLogger, clockSynchronised: { true })
        owner.start()
        defer { owner.stop() }
        #expect(waitUntil(timeout: .seconds(30)) { !sink.commits.isEmpty })
        let snapshot = sink.commits[0].snapshots.first { $0.meter == "m2" }!
        #expect(snapshot.values.allSatisfy { $0.error == .modbusException(4) })
        let blocks = field.meters[1].1.modbus.map { ModbusPlanCount.blocks($0) } ?? 0
        let requests = field.served.filter { $0.slave == 2 }.count
        #expect(requests == blocks, "each block asked exactly once (\(requests) requests for \(blocks) blocks)")
        #expect(owner.status().meters.first { $0.id == "m2" }?.state == .degraded)
    }

    @Test func onDemandReadJumpsTheQueueBetweenMeters() throws {
        let field = try SimulatedField(count: 16, baud: 9600, turnaround: 20...40)
        let sink = MemorySink()
        let owner = BusOwner(settings: field.busSettings(), meters: field.meters, schedule: BusSchedule(archive: ArchiveSettings()),
                             clock: clockBeforeBoundary(secondsBefore: 0.2), sink: sink, logger: testLogger, clockSynchronised: { true })
        owner.start()
        defer { owner.stop() }
        // Wait until the cycle is under way, then ask for the last meter.
        #expect(waitUntil(timeout: .seconds(20)) { owner.status().meters.filter { $0.lastSuccess != nil }.count >= 2 })
        let asked = ContinuousClock.now
        let result = owner.readNow(meter: "m16")
        let took = ContinuousClock.now - asked
        let snapshot = try result.get()
        #expect(snapshot.values.allSatisfy { $0.error == nil })
        #expect(sink.commits.isEmpty, "the read finished before the cycle did")
        #expect(took < .seconds(3), "waited at most one meter's poll before its own (\(took))")
        #expect(waitUntil(timeout: .seconds(60)) { !sink.commits.isEmpty })
    }

    @Test func vanishedPortIsReopenedAndMetersReturn() throws {
        let field = try SimulatedField(count: 2, profiles: ["eastron-sdm120"])
        let events = EventLog()
        let owner = BusOwner(settings: field.busSettings(timeouts: 50...200), meters: field.meters,
                             schedule: .onDemandOnly, clock: SystemClock(), sink: MemorySink(), logger: testLogger,
                             clockSynchronised: { true }, onEvent: { events.add($0) })
        owner.start()
        defer { owner.stop() }
        #expect((try? owner.readNow(meter: "m1").get()) != nil)
        field.simulator.vanish(seconds: 1.5)
        Thread.sleep(forTimeInterval: 0.2)
        #expect(throws: BusError.self) { try owner.readNow(meter: "m1").get() }
        // After the port comes back under the same link, reads work again without a restart.
        #expect(waitUntil(timeout: .seconds(15), poll: .milliseconds(300)) { (try? owner.readNow(meter: "m1").get()) != nil })
        #expect(events.all.contains { $0.kind == .meterOnline && $0.meter == "m1" })
    }

    @Test func scanFindsTheMetersAndNamesTheirModels() throws {
        let field = try SimulatedField(count: 3, addresses: [3, 10, 11],
                                       profiles: ["eastron-sdm630", "abb-b23", "carlo-gavazzi-em24"])
        let owner = BusOwner(settings: field.busSettings(), meters: [], schedule: .onDemandOnly, clock: SystemClock(),
                             sink: MemorySink(), logger: testLogger)
        owner.start()
        defer { owner.stop() }
        let seen = EventLog()
        let profiles = Array(ShippedProfiles.library.profiles.values)
        let hits = try owner.scan(addresses: 1...14, profiles: profiles, timeout: .milliseconds(80)) { p in
            seen.add(GatewayEvent(time: Timestamp(milliseconds: Int64(p.done)), kind: .commandExecuted, severity: .info, message: ""))
        }.get()
        #expect(hits.map(\.address) == [3, 10, 11])
        #expect(hits.map(\.profile) == ["eastron-sdm630", "abb-b23", "carlo-gavazzi-em24"])
        #expect(seen.all.count == 14, "progress after every address")
    }

    @Test func catchUpAfterRestartReadsOnlyMetersMissingTheSnapshot() throws {
        let field = try SimulatedField(count: 4, profiles: ["eastron-sdm120"])
        let sink = MemorySink()
        sink.preStored = ["m1", "m2"]
        // Restarted 30 s after the 10:00 boundary: within the catch-up window.
        let clock = AcceleratedClock(origin: ISO8601.parse("2026-11-21T10:00:30Z")!, rate: 1)
        let owner = BusOwner(settings: field.busSettings(), meters: field.meters, schedule: BusSchedule(archive: ArchiveSettings()),
                             clock: clock, sink: sink, logger: testLogger, clockSynchronised: { true })
        owner.start()
        defer { owner.stop() }
        #expect(waitUntil(timeout: .seconds(20)) { !sink.commits.isEmpty })
        let commit = sink.commits[0]
        #expect(commit.interval == ISO8601.parse("2026-11-21T10:00:00Z"))
        #expect(Set(commit.snapshots.map(\.meter)) == ["m3", "m4"])
        #expect(Set(field.served.map(\.slave)) == [3, 4], "meters already stored were not read again")
    }
}

/// How many requests the planner makes for a whole register map.
enum ModbusPlanCount {
    static func blocks(_ map: ModbusRegisterMap) -> Int {
        ModbusBlockPlanner.plan(map).count
    }
}
