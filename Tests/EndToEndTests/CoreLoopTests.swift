import Archive
import ConcentratorCore
import Foundation
import SQLite
import Testing
import TestSupport

/// meter-sim → concentrator → SQLite, with real processes, PTYs and files.
@Suite(.serialized) struct CoreLoopTests {
    @Test func twoBusesOf64MetersArchiveEveryValueAsServed() throws {
        let dir = TemporaryDirectory("e2e-core")
        let sim1 = try MeterSimProcess(name: "bus1", directory: dir, meters: mixedBusOf64)
        let sim2 = try MeterSimProcess(name: "bus2", directory: dir, meters: mixedBusOf64)
        let config = try AgentConfigBuilder(buses: [
            .init(name: "bus1", device: sim1.link, addresses: Array(1...64)),
            .init(name: "bus2", device: sim2.link, addresses: Array(1...64)),
        ]).write(to: dir)
        let (origin, boundary) = originBeforeNextHour(secondsBefore: 3)
        let agent = try AgentProcess(config: config, directory: dir, clockOrigin: origin)
        #expect(agent.waitUntilRunning())
        #expect(waitUntil(timeout: .seconds(120), poll: .milliseconds(250)) { agent.archivedLines.count >= 2 }, "\(agent.log.suffix(2000))")
        #expect(agent.child.stop() == 0, "clean exit on SIGTERM")
        for line in agent.archivedLines { #expect(line.meters == 64 && line.interval == boundary) }

        let reader = try ArchiveReader(path: dir.file("state/archive.sqlite"))
        defer { reader.close() }
        let snapshots = try reader.snapshots(intervalStart: boundary)
        #expect(snapshots.count == 128, "a complete snapshot for all 128 meters")
        var compared = 0
        for (bus, sim) in [("bus1", sim1), ("bus2", sim2)] {
            let served = ServedLogReader.servedValues(sim.served)
            for snapshot in snapshots where snapshot.meter.rawValue.hasPrefix(bus + "-") {
                let address = Int(snapshot.meter.rawValue.split(separator: "m").last!)!
                for v in snapshot.values {
                    guard let value = v.value else {
                        Issue.record("\(snapshot.meter) \(v.quantity): \(v.error.map { "\($0)" } ?? "no value")")
                        continue
                    }
                    #expect(served["\(address)/\(v.quantity.rawValue)"]?.contains(value) == true,
                            "\(snapshot.meter) \(v.quantity) = \(value) differs from what meter-sim served")
                    compared += 1
                }
            }
        }
        #expect(compared > 3000, "compared \(compared) values")
    }

    @Test func killMinus9DuringCommitsLosesNothingLoggedAndDuplicatesNothing() throws {
        let dir = TemporaryDirectory("e2e-kill")
        let sim = try MeterSimProcess(name: "bus1", directory: dir, meters: ["1-6:eastron-sdm120"], baud: 115_200, turnaround: "1-2")
        let config = try AgentConfigBuilder(buses: [.init(name: "bus1", device: sim.link, addresses: Array(1...6))]).write(to: dir)
        // One virtual hour every 100 ms: the agent commits a snapshot about ten times a second, and
        // the virtual timeline continues across restarts.
        let rate = 36_000.0
        let origin0 = ISO8601.parse("2026-01-01T00:00:00Z")!
        let realStart = Date()
        var archived: [(bus: String, interval: Timestamp, meters: Int)] = []
        var generator = SystemRandomNumberGenerator()
        let kills = Int(ProcessInfo.processInfo.environment["KILL_ITERATIONS"] ?? "50")!
        for i in 0..<kills {
            let origin = origin0.adding(milliseconds: Int64(Date().timeIntervalSince(realStart) * 1000 * rate))
            let agent = try AgentProcess(config: config, directory: dir, name: "agent-\(i)", clockOrigin: origin, clockRate: rate,
                                         logLevel: "info")
            // Kill while it is committing: after its first commit, at a random moment among the next ones.
            #expect(waitUntil(timeout: .seconds(20), poll: .milliseconds(10)) { !agent.archivedLines.isEmpty }, "run \(i) committed")
            Thread.sleep(forTimeInterval: Double.random(in: 0...0.25, using: &generator))
            agent.child.stop(signal: SIGKILL)
            archived += agent.archivedLines
        }
        #expect(archived.count >= kills, "the agents logged \(archived.count) commits over \(kills) kills")
        // A long run (KILL_ITERATIONS=1000 covers some 250 virtual days) outlives the 45-day retention:
        // the agents rightly prune the oldest intervals. An agent prunes below its own virtual now minus
        // the retention, which is never later than this cutoff, so everything from the cutoff on must be there.
        let virtualEnd = origin0.adding(milliseconds: Int64(Date().timeIntervalSince(realStart) * 1000 * rate))
        let retentionCutoff = virtualEnd.adding(seconds: -86_400 * 45)
        let mustBeStored = archived.filter { $0.interval >= retentionCutoff }
        #expect(mustBeStored.count >= min(kills, 50), "\(mustBeStored.count) logged commits inside the retention window")
        let reader = try ArchiveReader(path: dir.file("state/archive.sqlite"))
        defer { reader.close() }
        let check = try SQLiteConnection(path: dir.file("state/archive.sqlite"), mode: .readOnly)
        #expect(try check.queryText("PRAGMA integrity_check") == "ok")
        var storedSnapshots = 0
        for line in mustBeStored {
            let stored = try reader.snapshots(intervalStart: line.interval).filter { $0.meter.rawValue.hasPrefix(line.bus + "-") }
            #expect(stored.count >= line.meters, "interval \(line.interval) logged as archived with \(line.meters) meters; \(stored.count) stored")
            storedSnapshots += min(stored.count, line.meters)
        }
        let all = try reader.snapshots(meter: "bus1-m1", from: origin0, to: origin0.adding(seconds: 86_400 * 3650))
        #expect(Set(all.map(\.intervalStart)).count == all.count, "no interval stored twice")
        // Counted in meter snapshots whose commit the agent logged (the archive's side of exactly once).
        FaultMatrix.record(fault: "kill -9 during archive commits (snapshots)", runs: kills,
                           expected: mustBeStored.reduce(0) { $0 + $1.meters }, delivered: storedSnapshots,
                           duplicated: all.count - Set(all.map(\.intervalStart)).count)
    }

    @Test func badConfigurationsExit78WithEveryProblemListed() throws {
        let dir = TemporaryDirectory("e2e-config")
        let path = dir.file("bad.json")
        try """
        {"device": {"id": "gw 1"}, "buses": [{"name": "bus1", "device": "/dev/ttyX", "baud": 12345}],
         "meters": [{"id": "m1", "bus": "bus9", "address": 300, "profile": "no-such-meter"}], "archive": {"retentionDays": 90}}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let check = try runCommand(BuiltProducts.path("concentrator"), ["config", "check", path])
        #expect(check.status == 78)
        for fragment in ["$.device.id", "$.buses[0].baud", "$.meters[0].bus", "$.meters[0].address", "$.meters[0].profile",
                         "$.archive.retentionDays"] {
            #expect(check.stderr.contains(fragment), "\(fragment) reported: \(check.stderr)")
        }
        let run = try runCommand(BuiltProducts.path("concentrator"), ["run", "--config", path], timeout: .seconds(30))
        #expect(run.status == 78, "the agent refuses to start with exit 78 (EX_CONFIG)")
        #expect(run.stderr.contains("$.meters[0].profile"))
        let missing = try runCommand(BuiltProducts.path("concentrator"), ["config", "check", dir.file("nope.json")])
        #expect(missing.status == 78)
        #expect(missing.stderr.contains("nope.json"))
    }

    @Test func toolsGoThroughTheRunningAgentAndDirectWhenItIsStopped() throws {
        let dir = TemporaryDirectory("e2e-tools")
        let sim = try MeterSimProcess(name: "bus1", directory: dir, meters: ["3:eastron-sdm630", "5:abb-b23", "9:carlo-gavazzi-em24"])
        let models = [3: "eastron-sdm630", 5: "abb-b23", 9: "carlo-gavazzi-em24"]
        let config = try AgentConfigBuilder(buses: [.init(name: "bus1", device: sim.link, addresses: [3, 5, 9],
                                                          profile: { models[$0]! })]).write(to: dir)
        let (origin, boundary) = originBeforeNextHour(secondsBefore: 2)
        let agent = try AgentProcess(config: config, directory: dir, clockOrigin: origin)
        #expect(agent.waitUntilRunning())
        let socket = try FileManager.default.attributesOfItem(atPath: dir.file("run/control.sock"))
        #expect((socket[.posixPermissions] as? Int) == 0o660, "the control socket is 0660")

        let read = try agent.tool(["read", "--meter", "bus1-m3"])
        #expect(read.status == 0, "\(read.stderr)")
        #expect(read.stdout.contains("voltage_l1") && read.stdout.contains(" V "), "\(read.stdout)")
        #expect(read.stdout.contains("active_energy_import") && read.stdout.contains("kWh"))

        let scan = try agent.tool(["scan", "--bus", "bus1", "--from", "1", "--to", "10", "--timeout-ms", "100"])
        #expect(scan.status == 0, "\(scan.stderr)")
        #expect(scan.stdout.contains("3 meters answered"), "\(scan.stdout)")
        #expect(scan.stdout.contains("eastron-sdm630") && scan.stdout.contains("abb-b23") && scan.stdout.contains("carlo-gavazzi-em24"))
        #expect(scan.stderr.contains("10/10"), "a progress bar on stderr")

        let status = try agent.tool(["status"])
        #expect(status.status == 0)
        #expect(status.stdout.contains("bus bus1") && status.stdout.contains("3 configured"), "\(status.stdout)")

        // Export while the agent runs (the archive is read beside the writer).
        #expect(waitUntil(timeout: .seconds(30)) { !agent.archivedLines.isEmpty })
        let from = ISO8601.format(boundary), to = ISO8601.format(boundary.adding(seconds: 3600))
        let csv = try agent.tool(["archive", "export", "--from", from, "--to", to, "--format", "csv"])
        #expect(csv.status == 0, "\(csv.stderr)")
        let lines = csv.stdout.split(separator: "\n")
        let expectedRows = models.values.reduce(0) { $0 + ShippedProfileCounts.quantities($1) }
        #expect(lines.first?.hasPrefix("interval_start,") == true, "a CSV header")
        #expect(lines.count == 1 + expectedRows, "one line per meter and quantity: \(lines.count - 1) of \(expectedRows)")
        #expect(csv.stderr.contains("exported"), "a summary on stderr")
        let json = try agent.tool(["archive", "export", "--from", from, "--to", to, "--format", "json", "--meter", "bus1-m5"])
        let snapshots = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]]
        #expect(snapshots?.count == 1, "one snapshot of one meter")
        #expect((snapshots?.first?["meter"] as? String) == "bus1-m5")
        #expect((snapshots?.first?["values"] as? [Any])?.count == ShippedProfileCounts.quantities("abb-b23"))

        // The agent owns the port: the CLI went through it (the agent logged nothing about a second
        // master, and the port lock would have refused a direct open).
        #expect(agent.child.stop() == 0)
        let stopped = try runCommand(BuiltProducts.path("concentrator"), ["status", "--config", config])
        #expect(stopped.status == 69, "status says the agent is not running")
        let direct = try runCommand(BuiltProducts.path("concentrator"), ["read", "--meter", "bus1-m5", "--config", config])
        #expect(direct.status == 0, "with the agent stopped, read opens the bus itself: \(direct.stderr)")
        #expect(direct.stdout.contains("current_l1"))
    }

    @Test func aMissingPortIsOneClearLogLineAndTheOtherBusKeepsArchiving() throws {
        let dir = TemporaryDirectory("e2e-port")
        let sim = try MeterSimProcess(name: "bus1", directory: dir, meters: ["1-4:eastron-sdm120"])
        let config = try AgentConfigBuilder(buses: [
            .init(name: "bus1", device: sim.link, addresses: Array(1...4), profile: { _ in "eastron-sdm120" }),
            .init(name: "bus2", device: dir.file("no-such-tty"), addresses: [1, 2], profile: { _ in "eastron-sdm120" }),
        ]).write(to: dir)
        // Two boundaries, 3 s apart: the missing port is retried meanwhile without repeating the log line.
        let (origin, _) = originBeforeNextHour(secondsBefore: 2)
        let agent = try AgentProcess(config: config, directory: dir, clockOrigin: origin, clockRate: 1200)
        #expect(agent.waitUntilRunning())
        #expect(waitUntil(timeout: .seconds(30)) { agent.archivedLines.filter { $0.bus == "bus1" }.count >= 2 })
        agent.child.stop()
        let portLines = agent.log.split(separator: "\n").filter { $0.contains("no-such-tty") && $0.contains("error") }
        #expect(portLines.count == 1, "one clear line, not one per retry: \(portLines)")
        #expect(portLines.first?.contains("check the adapter") == true)
        // bus2's meters are archived with the reason, so the head-end sees why they are missing.
        let reader = try ArchiveReader(path: dir.file("state/archive.sqlite"))
        defer { reader.close() }
        let bus2 = try reader.snapshots(meter: "bus2-m1", from: origin, to: origin.adding(seconds: 86_400))
        #expect(!bus2.isEmpty && bus2.allSatisfy { s in s.values.allSatisfy { $0.error == .portUnavailable } })
        // bus1's archived intervals, each with its four meters, while bus2 has no port.
        let bus1 = agent.archivedLines.filter { $0.bus == "bus1" }
        let stored = try bus1.reduce(0) { n, line in
            n + min(line.meters, try reader.snapshots(intervalStart: line.interval).filter { $0.meter.rawValue.hasPrefix("bus1-") }.count)
        }
        FaultMatrix.record(fault: "bus fault: a missing port (snapshots of the other bus)", expected: bus1.reduce(0) { $0 + $1.meters },
                           delivered: stored)
    }
}

/// Quantity counts of the shipped profiles, read from the files.
enum ShippedProfileCounts {
    static func quantities(_ id: String) -> Int {
        let path = BuiltProducts.profilesDirectory + "/\(id).json"
        guard let data = FileManager.default.contents(atPath: path),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let modbus = json["modbus"] as? [String: Any], let registers = modbus["registers"] as? [Any] else { return -1 }
        return registers.count
    }
}
