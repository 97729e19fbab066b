import Foundation
import Testing
import ConcentratorCore
import Platform
import TestSupport

/// Issue 17 #5 with the real programs: a retained 64 MiB message on the device's command topic,
/// waiting at the broker before the agent starts, under a 128 MB memory limit. Before the fix the
/// agent was OOM-killed at every start; now the broker never sends it (MQTT v5 Maximum Packet Size
/// in CONNECT), and polling and archiving go on.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct OversizedCommandTests {
    static let origin = ISO8601.parse("2026-03-01T00:00:00Z")!

    @Test func aRetained64MiBCommandIsRefusedAndTheAgentKeepsArchiving() async throws {
        let dir = TemporaryDirectory("e2e-oversized")
        let broker = try await MosquittoBroker()
        let headEnd = ContractHeadEnd()
        let payload = dir.file("huge.bin")
        #expect(FileManager.default.createFile(atPath: payload, contents: nil))
        #expect(truncate(payload, 64 << 20) == 0)
        let published = try await runOnDedicatedThread {
            try runCommand(try findProgram("mosquitto_pub"), ["-h", "127.0.0.1", "-p", String(broker.port), "-V", "mqttv5", "-q", "1",
                                                              "-r", "-t", "concentrator/v1/gw-test/cmd", "-f", payload], timeout: .seconds(60))
        }
        try #require(published.status == 0, "mosquitto_pub: \(published.stderr)")
        // And a small retained message on the ack topic: the head-end never retains, so it is ignored unread.
        let small = try await runOnDedicatedThread {
            try runCommand(try findProgram("mosquitto_pub"), ["-h", "127.0.0.1", "-p", String(broker.port), "-V", "mqttv5", "-q", "1",
                                                              "-r", "-t", "concentrator/v1/gw-test/ack", "-m", "junk"], timeout: .seconds(30))
        }
        try #require(small.status == 0, "mosquitto_pub: \(small.stderr)")

        let sim = try MeterSimProcess(name: "bus1", directory: dir, meters: ["1-2:eastron-sdm120"], baud: 115_200, turnaround: "1-3")
        let keyFiles = try headEnd.writeKeyFiles(to: dir)
        var builder = AgentConfigBuilder(buses: [.init(name: "bus1", device: sim.link, baud: 115_200, addresses: [1, 2],
                                                       profile: { _ in "eastron-sdm120" })])
        builder.extraSections["uplink"] = """
            {"broker": {"host": "127.0.0.1", "port": \(broker.port), "keepaliveSeconds": 5},
             "headEndKeys": [\(keyFiles.map { "\"\($0)\"" }.joined(separator: ", "))]}
            """
        let config = try builder.write(to: dir)
        let limit = try MemoryLimit(bytes: 128 << 20, directory: dir)
        let command = [BuiltProducts.path("concentrator"), "run", "--config", config, "--clock-origin", ISO8601.format(Self.origin),
                       "--clock-rate", "1800"].joined(separator: " ")
        let agent = try ChildProcess("/bin/sh", ["-c", limit.shellPrefix + "exec " + command], name: "agent", directory: dir)
        defer { agent.stop(signal: SIGKILL) }
        #expect(agent.waitForOutput("running: device", inStderr: true, timeout: .seconds(30)), "\(agent.stderr.suffix(2000))")
        #expect(await eventuallyAsync(timeout: .seconds(20)) { agent.stderr.contains("uplink: connected") }, "\(agent.stderr.suffix(2000))")
        // Ten real seconds = five virtual hours: polling and archiving go on.
        try await Task.sleep(for: .seconds(10))
        let archived = agent.stderr.components(separatedBy: " archived ").count - 1
        #expect(agent.isRunning, "the agent died (OOM?) under the \(limit.kind) limit: \(agent.stderr.suffix(1500))")
        #expect(archived >= 3, "only \(archived) intervals archived in 10 s: \(agent.stderr.suffix(1500))")
        #expect(broker.log.contains("Dropping too large outgoing PUBLISH for gw-test"), "the broker sent the 64 MiB message anyway")
        #expect(agent.stderr.contains("ignored a retained 4-byte message on concentrator/v1/gw-test/ack"), "\(agent.stderr.suffix(1500))")
        let peak = limit.peakBytes ?? readPeakResident(agent.pid)
        FaultMatrix.record(fault: "retained 64 MiB command, 128 MB limit (\(limit.kind))", expected: 0, delivered: 0,
                           measured: ["peakMemoryKiB": Double((peak ?? 0) / 1024), "intervalsArchivedIn10s": Double(archived)])
        #expect(agent.stop() == 0)
    }

    private func readPeakResident(_ pid: Int32) -> Int64? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Int64(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
        return kb * 1024
    }
}

/// A memory limit for a child started through `/bin/sh -c "<shellPrefix> exec …"`: a memory cgroup
/// (v2 `memory.max`, or v1 `memory.limit_in_bytes`) when this process may create one, otherwise
/// `ulimit -v` (RLIMIT_AS, address space rather than resident memory).
final class MemoryLimit: @unchecked Sendable {
    let kind: String
    let shellPrefix: String
    private let cgroup: String?
    private let peakFile: String?

    init(bytes: Int, directory: TemporaryDirectory) throws {
        let name = "concentrator-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let own = (try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) ?? ""
        func ownPath(_ controllerLine: (Substring) -> Bool) -> String? {
            own.split(separator: "\n").first(where: controllerLine).flatMap { $0.split(separator: ":", maxSplits: 2).last }.map(String.init)
        }
        var candidates: [(dir: String, limitFile: String, peak: String, kind: String)] = []
        if let v2 = ownPath({ $0.hasPrefix("0::") }) {
            for root in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
            where (try? String(contentsOfFile: root + v2 + "/cgroup.controllers", encoding: .utf8))?.contains("memory") == true {
                candidates.append((root + v2 + "/" + name, "memory.max", "memory.peak", "cgroup v2 memory.max"))
            }
        }
        if let v1 = ownPath({ $0.split(separator: ":").dropFirst().first?.split(separator: ",").contains("memory") == true }) {
            candidates.append(("/sys/fs/cgroup/memory" + v1 + "/" + name, "memory.limit_in_bytes", "memory.max_usage_in_bytes",
                               "cgroup v1 memory.limit_in_bytes"))
        }
        for c in candidates {
            guard mkdir(c.dir, 0o755) == 0 else { continue }
            if (try? String(bytes).write(toFile: c.dir + "/" + c.limitFile, atomically: false, encoding: .utf8)) != nil {
                // Swap would let the limit be dodged.
                _ = try? String(bytes).write(toFile: c.dir + "/memory.memsw.limit_in_bytes", atomically: false, encoding: .utf8)
                _ = try? "0".write(toFile: c.dir + "/memory.swap.max", atomically: false, encoding: .utf8)
                kind = c.kind
                cgroup = c.dir
                peakFile = c.dir + "/" + c.peak
                shellPrefix = "echo $$ > \(c.dir)/cgroup.procs && "
                return
            }
            rmdir(c.dir)
        }
        kind = "ulimit -v (RLIMIT_AS)"
        cgroup = nil
        peakFile = nil
        shellPrefix = "ulimit -v \(bytes / 1024) && "
    }

    /// The group's peak memory use, when a cgroup is in use.
    var peakBytes: Int64? {
        peakFile.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) }.flatMap { Int64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    deinit {
        if let cgroup {
            // The group can be removed once its processes are gone.
            for _ in 0..<50 where rmdir(cgroup) != 0 { usleep(100_000) }
        }
    }
}
