import Foundation
import Testing
import Archive
import ConcentratorCore
import Platform
import TestSupport

/// The whole chain with real processes: meter-sim → concentrator → mosquitto → headend. Every
/// archived value reaches the head-end's database exactly once and equals what meter-sim served,
/// through a broker outage, a graceful stop and a kill -9 of the agent in the middle of draining,
/// and a head-end restart.
@Suite(.serialized) struct FullChainTests {
    /// One virtual hour every two seconds.
    static let rate = 1800.0
    static let origin = ISO8601.parse("2026-05-01T00:00:00Z")!

    /// A snapshot as `headend export --format json` writes it.
    struct ExportedSnapshot: Decodable {
        struct Value: Decodable {
            var quantity: String
            var value: Double?
        }
        var interval_start: String
        var device: String
        var meter: String
        var values: [Value]
    }

    @Test(.timeLimit(.minutes(3))) func meterSimToHeadEndExactlyOnceThroughOutagesStopsAndCrashes() async throws {
        let dir = TemporaryDirectory("e2e-chain")
        let broker = try await MosquittoBroker()
        let headend = BuiltProducts.path("headend"), concentrator = BuiltProducts.path("concentrator")
        func run(_ program: String, _ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
            try await runOnDedicatedThread { try runCommand(program, arguments) }
        }

        // The head-end: keys, configuration.
        let keyDir = dir.file("headend-keys")
        #expect(try await run(headend, ["keys", "generate", "--dir", keyDir]).status == 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: keyDir).sorted()
        func key(_ prefix: String, _ suffix: String) throws -> String {
            keyDir + "/" + (try #require(files.first { $0.hasPrefix(prefix) && $0.hasSuffix(suffix) }))
        }
        let headendConfig = dir.file("headend.json")
        try """
        {"broker": {"host": "127.0.0.1", "port": \(broker.port), "clientId": "headend-chain"},
         "database": "\(dir.file("headend.sqlite"))",
         "keys": {"sealing": ["\(try key("sealing-", ".key"))"], "ack": "\(try key("ack-", ".key"))"}}
        """.write(toFile: headendConfig, atomically: true, encoding: .utf8)

        // The field and the agent's configuration with the uplink to that head-end.
        let sim = try MeterSimProcess(name: "bus1", directory: dir, meters: ["1-4:eastron-sdm630", "5-8:abb-b23"],
                                      baud: 38_400, turnaround: "5-10")
        var builder = AgentConfigBuilder(buses: [.init(name: "bus1", device: sim.link, addresses: Array(1...8),
                                                       profile: { $0 <= 4 ? "eastron-sdm630" : "abb-b23" })])
        builder.extraSections["uplink"] = """
            {"broker": {"host": "127.0.0.1", "port": \(broker.port), "keepaliveSeconds": 5},
             "headEndKeys": ["\(try key("sealing-", ".pub.json"))", "\(try key("ack-", ".pub.json"))"],
             "acknowledgementTimeoutSeconds": 10}
            """
        let config = try builder.write(to: dir)
        let documents = try await run(concentrator, ["keys", "show", "--documents", "--config", config])
        try documents.stdout.write(toFile: dir.file("device-keys.json"), atomically: true, encoding: .utf8)
        let added = try await run(headend, ["devices", "add", "--id", "gw-test", "--key", dir.file("device-keys.json"),
                                            "--config", headendConfig])
        #expect(added.status == 0, "\(added.stderr)")

        func startHeadEnd(_ name: String) throws -> ChildProcess {
            try ChildProcess(headend, ["run", "--config", headendConfig], name: name, directory: dir)
        }
        let realStart = Date()
        func startAgent(_ name: String) throws -> AgentProcess {
            let virtualNow = Self.origin.adding(milliseconds: Int64(Date().timeIntervalSince(realStart) * 1000 * Self.rate) - 1500)
            let agent = try AgentProcess(config: config, directory: dir, name: name, clockOrigin: virtualNow, clockRate: Self.rate)
            _ = agent.waitUntilRunning()
            return agent
        }
        func headEndValues() async -> Int {
            guard let r = try? await run(headend, ["status", "--json", "--config", headendConfig]),
                  let json = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any],
                  let devices = json["devices"] as? [[String: Any]] else { return 0 }
            return (devices.first?["values"] as? Int) ?? 0
        }
        func outboxDepth(_ agent: AgentProcess) async -> Int? {
            guard let r = try? await runOnDedicatedThread({ try agent.tool(["status", "--json"]) }), r.status == 0,
                  let status = try? JSONDecoder().decode(AgentStatus.self, from: Data(r.stdout.utf8)) else { return nil }
            return status.uplink?.outboxDepth
        }

        var headEndProcess = try startHeadEnd("headend-1")
        var agent = try startAgent("agent-1")
        // Two intervals delivered in normal operation.
        var delivered = false
        for _ in 0..<160 where !delivered {
            delivered = await headEndValues() >= 2 * 8 * 30
            if !delivered { try await Task.sleep(for: .milliseconds(250)) }
        }
        #expect(delivered, "two intervals reached the head-end: \(agent.log.suffix(1500))")

        // The broker goes away for six seconds (three virtual hours); polling goes on.
        await broker.stop()
        try await Task.sleep(for: .seconds(6))
        try await broker.start()
        // While the backlog drains: a graceful stop of the agent, then a start.
        try await Task.sleep(for: .milliseconds(800))
        let first = agent
        let stopped = try await runOnDedicatedThread { first.child.stop(signal: SIGTERM, timeout: .seconds(10)) }
        #expect(stopped == 0, "SIGTERM while draining: a clean exit")
        agent = try startAgent("agent-2")
        // The head-end restarts in the middle of the drain.
        try await Task.sleep(for: .seconds(1))
        let firstHeadEnd = headEndProcess
        _ = try await runOnDedicatedThread { firstHeadEnd.stop(signal: SIGTERM) }
        headEndProcess = try startHeadEnd("headend-2")
        // And the agent is killed outright while it sends.
        try await Task.sleep(for: .seconds(2))
        let second = agent
        _ = try await runOnDedicatedThread { second.child.stop(signal: SIGKILL) }
        agent = try startAgent("agent-3")

        var drained = false
        for _ in 0..<240 where !drained {
            drained = await outboxDepth(agent) == 0
            if !drained { try await Task.sleep(for: .milliseconds(250)) }
        }
        #expect(drained, "the outbox drained: \(agent.log.suffix(1500))")
        let last = agent, lastHeadEnd = headEndProcess
        _ = try await runOnDedicatedThread { last.child.stop(signal: SIGTERM) }
        _ = try await runOnDedicatedThread { lastHeadEnd.stop(signal: SIGTERM) }

        // What the head-end stored, exported.
        let export = try await run(headend, ["export", "--device", "gw-test", "--from", "2026-01-01", "--to", "2027-01-01",
                                             "--format", "json", "--config", headendConfig])
        #expect(export.status == 0, "\(export.stderr)")
        let exported = try JSONDecoder().decode([ExportedSnapshot].self, from: Data(export.stdout.utf8))
        var atHeadEnd: [String: [String: Double?]] = [:]
        var duplicatedValues = 0
        for s in exported {
            let key = "\(s.meter)/\(s.interval_start)"
            #expect(atHeadEnd[key] == nil, "\(key) stored twice at the head-end")
            if atHeadEnd[key] != nil { duplicatedValues += s.values.count }
            atHeadEnd[key] = Dictionary(uniqueKeysWithValues: s.values.map { ($0.quantity, $0.value) })
        }

        // What the agent archived, and what is still queued (archived after the final drain).
        // Read on a dedicated thread: SQLite blocks.
        let archivePath = dir.file("state/archive.sqlite")
        let (queued, archived) = try await DedicatedThread.run(name: "test-archive") { () throws -> ([Range<Timestamp>], [[MeterSnapshot]]) in
            let reader = try ArchiveReader(path: archivePath)
            defer { reader.close() }
            let queued = (try reader.outboxPending(limit: 1000) + reader.outboxUnsealed(limit: 1000)).compactMap(\.item.intervals)
            let archived = try (1...8).map { address in
                try reader.snapshots(meter: MeterID("bus1-m\(address)"), from: Self.origin.adding(seconds: -86_400),
                                     to: Self.origin.adding(seconds: 86_400 * 365))
            }
            return (queued, archived)
        }
        let served = ServedLogReader.servedValues(sim.served)
        var compared = 0
        var expectedValues = 0, deliveredValues = 0
        var archivedKeys: Set<String> = []
        for address in 1...8 {
            let meter = MeterID("bus1-m\(address)")
            for snapshot in archived[address - 1] {
                let key = "\(meter)/\(ISO8601.format(snapshot.intervalStart))"
                archivedKeys.insert(key)
                guard let values = atHeadEnd[key] else {
                    let isQueued = queued.contains { $0.contains(snapshot.intervalStart) }
                    #expect(isQueued, "\(key) archived but neither at the head-end nor queued")
                    if !isQueued { expectedValues += snapshot.values.count }
                    continue
                }
                expectedValues += snapshot.values.count
                for v in snapshot.values {
                    #expect(values[v.quantity.rawValue] == v.value, "\(key) \(v.quantity) differs at the head-end")
                    if values[v.quantity.rawValue] == v.value { deliveredValues += 1 }
                    if let value = v.value {
                        #expect(served["\(address)/\(v.quantity.rawValue)"]?.contains(value) == true, "\(key) \(v.quantity) was not served")
                        compared += 1
                    }
                }
            }
        }
        #expect(Set(atHeadEnd.keys).isSubset(of: archivedKeys), "the head-end has nothing the agent did not archive")
        #expect(atHeadEnd.count >= 8 * 6, "at least six intervals of eight meters arrived (\(atHeadEnd.count) snapshots)")
        #expect(compared > 1000)
        FaultMatrix.record(fault: "full chain: broker outages, SIGTERM and kill -9 of agent and head-end", expected: expectedValues,
                           delivered: deliveredValues, duplicated: duplicatedValues)
    }
}
