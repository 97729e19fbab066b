import Foundation
import Testing
import Logging
import Archive
import ConcentratorCore
import Platform
import TestSupport
import KeyFiles
import Wire

/// Issue 17 #4 with the real programs: the agent's wall clock jumps +60 days, then −2 days, then back
/// (the test hook `test.clock-step`), with the broker down. Nothing archived is pruned and nothing
/// unacknowledged is dropped; a `clock_stepped` event is raised; once the broker is back every
/// archived value reaches the head-end exactly once. And a genuine 45-day outage with a good clock
/// still prunes as documented.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ClockJumpTests {
    static let origin = ISO8601.parse("2026-03-01T00:00:00Z")!
    static let day: Int64 = 86_400_000
    static let meters = (1...6).map { "bus1-m\($0)" }

    static func step(_ dir: TemporaryDirectory, milliseconds: Int64) throws {
        guard let client = ControlClient.connectIfRunning(path: dir.file("run/control.sock")) else {
            throw HarnessError("the agent's control socket does not answer")
        }
        _ = try client.call(ControlRequest(op: "test.clock-step", durationMilliseconds: Int(milliseconds)))
    }

    /// Every archived snapshot key and every outbox sequence, read from the file.
    static func contents(_ dir: TemporaryDirectory) throws -> (snapshots: Set<String>, outbox: Set<Int64>, events: [String]) {
        let reader = try ArchiveReader(path: dir.file("state/archive.sqlite"))
        defer { reader.close() }
        var keys = Set<String>()
        for meter in meters {
            for s in try reader.snapshots(meter: MeterID(meter), from: Timestamp(milliseconds: 0), to: Timestamp(milliseconds: 1 << 50)) {
                keys.insert("\(meter)/\(s.intervalStart.milliseconds)")
            }
        }
        let outbox = try reader.outboxPending(limit: 100_000) + reader.outboxUnsealed(limit: 100_000)
        let events = try reader.events(from: Timestamp(milliseconds: 0), to: Timestamp(milliseconds: 1 << 50), limit: 10_000).map(\.kind)
        return (keys, Set(outbox.map(\.sequence)), events)
    }

    @Test func jumpsWithTheBrokerDownPruneNothingAndDropNothing() async throws {
        let dir = TemporaryDirectory("e2e-clock")
        let broker = try await MosquittoBroker()
        await broker.stop()
        let headEnd = ContractHeadEnd()
        let sim = try MeterSimProcess(name: "bus1", directory: dir, meters: ["1-4:eastron-sdm120", "5-6:eastron-sdm630"],
                                      baud: 115_200, turnaround: "1-3")
        let keyFiles = try headEnd.writeKeyFiles(to: dir)
        var builder = AgentConfigBuilder(buses: [.init(name: "bus1", device: sim.link, baud: 115_200, addresses: Array(1...6),
                                                       profile: { $0 <= 4 ? "eastron-sdm120" : "eastron-sdm630" })])
        builder.extraSections["uplink"] = """
            {"broker": {"host": "127.0.0.1", "port": \(broker.port), "keepaliveSeconds": 5},
             "headEndKeys": [\(keyFiles.map { "\"\($0)\"" }.joined(separator: ", "))], "acknowledgementTimeoutSeconds": 10}
            """
        let config = try builder.write(to: dir)
        let shown = try runCommand(BuiltProducts.path("concentrator"), ["keys", "show", "--config", config])
        try #require(shown.status == 0, "keys show: \(shown.stderr)")
        headEnd.register(device: "gw-test", key: try DeviceKeyStore(stateDirectory: dir.file("state")).load().signing.publicKey)
        let agent = try AgentProcess(config: config, directory: dir, clockOrigin: Self.origin, clockRate: 1800,
                                     environment: ["CONCENTRATOR_TEST_HOOKS": "1"])
        #expect(agent.waitUntilRunning(), "\(agent.log.suffix(2000))")
        #expect(await eventuallyAsync(timeout: .seconds(30)) { agent.archivedLines.count >= 3 })

        var kept = try Self.contents(dir)
        #expect(!kept.snapshots.isEmpty && !kept.outbox.isEmpty)
        for (label, step) in [("+60 d", 60 * Self.day), ("-2 d", -62 * Self.day), ("back", 2 * Self.day)] {
            try Self.step(dir, milliseconds: step)
            try await Task.sleep(for: .seconds(3))
            let now = try Self.contents(dir)
            let pruned = kept.snapshots.subtracting(now.snapshots)
            let dropped = kept.outbox.subtracting(now.outbox)
            #expect(pruned.isEmpty, "\(label): \(pruned.count) archived snapshots pruned")
            #expect(dropped.isEmpty, "\(label): \(dropped.count) unacknowledged outbox entries dropped")
            kept = now
        }
        let stepped = kept.events.filter { $0 == "clock_stepped" }.count
        #expect(stepped >= 3, "clock_stepped events: \(stepped); \(agent.log.suffix(1500))")
        #expect(!kept.events.contains("retention_dropped_unsent"))

        // The broker comes back: everything archived, at whatever time it was stamped, arrives once.
        try await broker.start()
        try headEnd.start(port: broker.port)
        #expect(await eventuallyAsync(timeout: .seconds(60)) { agentDrained(agent) }, "\(agent.log.suffix(2000))")
        #expect(await eventuallyAsync(timeout: .seconds(20)) { headEnd.events.contains { $0.kind == .clockStepped } })
        #expect(agent.child.stop() == 0)
        let audit = try DeliveryAudit.check(stateDirectory: dir.file("state"), meters: Self.meters, headEnd: headEnd)
        #expect(audit.lost == 0 && audit.duplicated == 0 && audit.wrong == 0, "\(audit)")
        audit.record("clock +60 d, -2 d, back, broker down", measured: ["clockSteppedEvents": Double(stepped)])
        await headEnd.stop()
    }

    /// Not a fault: 50 days archived and never acknowledged (the uplink was down all along), the clock
    /// good. Retention prunes the first five days and drops their outbox entries, as documented.
    @Test func aGenuine45DayOutageStillPrunes() async throws {
        let dir = TemporaryDirectory("e2e-outage")
        let headEnd = ContractHeadEnd()
        let sim = try MeterSimProcess(name: "bus1", directory: dir, meters: ["1-2:eastron-sdm120"], baud: 115_200, turnaround: "1-3")
        var logger = Logger(label: "seed")
        logger.logLevel = .error
        let start = Self.origin.adding(milliseconds: -50 * Self.day)
        do {
            let store = try ArchiveStore.open(directory: dir.file("state"), clock: SystemClock(), logger: logger).store
            for day in 0..<50 {
                let dayStart = start.adding(milliseconds: Int64(day) * Self.day)
                let snapshots = (0..<24).flatMap { hour in
                    (1...2).map { m in
                        let t = dayStart.adding(seconds: Int64(hour) * 3600)
                        return MeterSnapshot(meter: MeterID("bus1-m\(m)"), intervalStart: t, gatewayTime: t.adding(seconds: 2),
                                             values: [QuantityValue(quantity: "voltage_l1", value: 230 + Double(day))])
                    }
                }
                let entry = OutboxItem(created: dayStart, kind: "readings", intervals: dayStart..<dayStart.adding(milliseconds: Self.day),
                                       payload: [UInt8](repeating: UInt8(day), count: 64))
                _ = try await store.perform(.commit(snapshots, source: "seed", outbox: entry))
            }
            await store.close()
        }
        let keyFiles = try headEnd.writeKeyFiles(to: dir)
        var builder = AgentConfigBuilder(buses: [.init(name: "bus1", device: sim.link, baud: 115_200, addresses: [1, 2],
                                                       profile: { _ in "eastron-sdm120" })])
        builder.extraSections["uplink"] = """
            {"broker": {"host": "127.0.0.1", "port": \(freeLoopbackPort()), "keepaliveSeconds": 5},
             "headEndKeys": [\(keyFiles.map { "\"\($0)\"" }.joined(separator: ", "))]}
            """
        let config = try builder.write(to: dir)
        let agent = try AgentProcess(config: config, directory: dir, clockOrigin: Self.origin.adding(seconds: 1800), clockRate: 1800)
        #expect(agent.waitUntilRunning(), "\(agent.log.suffix(2000))")
        #expect(await eventuallyAsync(timeout: .seconds(20)) { agent.log.contains("retention_dropped_unsent") || agent.log.contains("were dropped") },
                "\(agent.log.suffix(2000))")
        try await Task.sleep(for: .seconds(2))
        #expect(agent.child.stop() == 0)
        let reader = try ArchiveReader(path: dir.file("state/archive.sqlite"))
        defer { reader.close() }
        let cutoff = Self.origin.adding(milliseconds: -45 * Self.day)
        // The agent has stopped: reading its archive file directly, on this thread, is fine.
        let (old, kept, pending) = try { () throws -> ([MeterSnapshot], [MeterSnapshot], [OutboxEntry]) in
            (try reader.snapshots(meter: "bus1-m1", from: start, to: cutoff),
             try reader.snapshots(meter: "bus1-m1", from: cutoff.adding(milliseconds: Self.day), to: Self.origin),
             try reader.outboxPending(limit: 1000))
        }()
        #expect(old.isEmpty, "\(old.count) snapshots older than 45 days remain")
        #expect(kept.count == 44 * 24, "the last 44 full days are intact: \(kept.count)")
        let outbox = pending.compactMap(\.item.intervals?.lowerBound)
        #expect(outbox.allSatisfy { $0 >= cutoff.adding(milliseconds: -Self.day) }, "entries older than the retention remain")
        #expect(outbox.count >= 44, "only the expired entries were dropped: \(outbox.count) left")
        FaultMatrix.record(fault: "genuine 45-day outage (prunes as documented)", expected: 0, delivered: 0,
                           measured: ["outboxEntriesDropped": Double(50 - outbox.count), "snapshotsKeptPerMeter": Double(kept.count)])
    }
}
