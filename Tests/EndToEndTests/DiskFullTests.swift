import Foundation
import Testing
import Archive
import ConcentratorCore
import Platform
import TestSupport
import KeyFiles
import Wire

/// Issue 17 #1–#3 with the real programs: the agent's state directory is a small tmpfs the test
/// mounts (root only; elsewhere the test is skipped and says so) and fills while the agent archives
/// and sends on a fast clock. Full, flickering, freed: every archived value reaches the head-end
/// exactly once, `storage_low` is raised and delivered, and the log stays quiet while the disk is full.
@Suite(.serialized, .timeLimit(.minutes(4)), .enabled(if: TemporaryFileSystem.mountingPermitted, "needs root to mount a tmpfs"))
struct DiskFullTests {
    static let origin = ISO8601.parse("2026-03-01T00:00:00Z")!
    /// One virtual hour every two seconds.
    // An hourly interval every 4 s: sealing a batch costs up to a second of CPU in a debug build on a
    // loaded two-core machine, and at 1800x the outbox grew faster than it could be sealed.
    static let rate = 900.0
    static let meters = (1...6).map { "bus1-m\($0)" }

    @Test func fullThenFlickeringThenFreedLosesNothing() async throws {
        let dir = TemporaryDirectory("e2e-diskfull")
        let disk = try TemporaryFileSystem(at: dir.file("state"), bytes: 16 << 20)
        let broker = try await MosquittoBroker()
        let headEnd = ContractHeadEnd()
        let sim = try MeterSimProcess(name: "bus1", directory: dir, meters: ["1-4:eastron-sdm120", "5-6:eastron-sdm630"],
                                      baud: 115_200, turnaround: "1-3")
        let keyFiles = try headEnd.writeKeyFiles(to: dir)
        var builder = AgentConfigBuilder(buses: [.init(name: "bus1", device: sim.link, baud: 115_200, addresses: Array(1...6),
                                                       profile: { $0 <= 4 ? "eastron-sdm120" : "eastron-sdm630" })])
        builder.archive = #"{"intervalMinutes": 60, "retentionDays": 45, "storageLowFreeBytes": 3145728, "storageReserveBytes": 524288}"#
        builder.extraSections["uplink"] = """
            {"broker": {"host": "127.0.0.1", "port": \(broker.port), "keepaliveSeconds": 5},
             "headEndKeys": [\(keyFiles.map { "\"\($0)\"" }.joined(separator: ", "))], "acknowledgementTimeoutSeconds": 10}
            """
        let config = try builder.write(to: dir)
        let shown = try runCommand(BuiltProducts.path("concentrator"), ["keys", "show", "--config", config])
        try #require(shown.status == 0, "keys show: \(shown.stderr)")
        headEnd.register(device: "gw-test", key: try DeviceKeyStore(stateDirectory: dir.file("state")).load().signing.publicKey)
        try headEnd.start(port: broker.port)
        let agent = try AgentProcess(config: config, directory: dir, clockOrigin: Self.origin, clockRate: Self.rate)
        #expect(agent.waitUntilRunning(), "\(agent.log.suffix(2000))")
        #expect(await eventuallyAsync(timeout: .seconds(30)) { headEnd.stored.count >= 12 }, "two intervals delivered first")

        // Low: below the 3 MiB threshold, but writes still work. storage_low comes before they fail.
        disk.fill("filler")
        disk.free("filler", bytes: 1536 << 10)
        #expect(await eventuallyAsync(timeout: .seconds(15)) { headEnd.events.contains { $0.kind == .storageLow && $0.severity == .warning } },
                "storage_low (warning) reached the head-end while the disk was only low: \(agent.log.suffix(2000))")

        // Full: nothing more fits.
        disk.fill("filler")
        let linesBefore = agent.log.split(separator: "\n").count
        try await Task.sleep(for: .seconds(10))
        let fullLog = agent.log.split(separator: "\n").dropFirst(linesBefore)
        let linesWhileFull = fullLog.count
        #expect(await eventuallyAsync(timeout: .seconds(15)) { headEnd.events.contains { $0.kind == .storageLow && $0.severity == .critical } },
                "storage_low (critical: full, reserve released) reached the head-end while the disk was full: \(fullLog.suffix(20).joined(separator: "\n"))")

        // Flickering: a little space comes and goes.
        for _ in 0..<4 {
            disk.free("filler", bytes: 384 << 10)
            try await Task.sleep(for: .seconds(1.5))
            disk.fill("filler")
            try await Task.sleep(for: .seconds(1.5))
        }

        // Freed.
        disk.free("filler")
        let archivedAfterFree = agent.archivedLines.count
        #expect(await eventuallyAsync(timeout: .seconds(60)) {
            agent.archivedLines.count >= archivedAfterFree + 3 && agentDrained(agent)
        }, "the delayed snapshots were stored and the outbox drained after the space came back: \(agent.log.suffix(3000))")
        if !agentDrained(agent) {
            if let r = try? agent.tool(["status", "--json"]), let st = try? JSONDecoder().decode(AgentStatus.self, from: Data(r.stdout.utf8)) {
                print("diagnostic: uplink \(String(describing: st.uplink)) pending \(st.buses.map(\.pendingCommits))")
            }
            print("diagnostic: log \(agent.log.split(separator: "\n").filter { !$0.contains(" archived ") && !$0.contains("delayed interval") }.suffix(40).joined(separator: "\n"))")
            let r = try runCommand("/usr/bin/sqlite3", [dir.file("state/archive.sqlite"), "select sealed, kind, count(*), min(sequence), max(sequence), sum(attempts), max(length(payload)) from outbox group by sealed, kind;"])
            print("diagnostic: outbox \(r.stdout) \(r.stderr)")
        }
        #expect(agent.child.stop() == 0)
        let audit = try DeliveryAudit.check(stateDirectory: dir.file("state"), meters: Self.meters, headEnd: headEnd)
        #expect(audit.lost == 0 && audit.duplicated == 0 && audit.wrong == 0, "\(audit)")
        #expect(audit.queued <= 3 * 142, "only the newest intervals may still be queued at the stop: \(audit)")
        #expect(audit.delivered > 0)
        // Two lines per second at most while full (the bus's one line per failed interval and the
        // archive's rate-limited summary fit well within it).
        #expect(linesWhileFull <= 20, "\(linesWhileFull) log lines in 10 s while the disk was full:\n\(fullLog.prefix(40).joined(separator: "\n"))")
        audit.record("disk full, flickering, freed (tmpfs)", measured: ["logLinesWhileFull10s": Double(linesWhileFull)])
        await headEnd.stop()
    }
}
