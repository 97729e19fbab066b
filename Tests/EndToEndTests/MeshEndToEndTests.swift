import ConcentratorCore
import Foundation
import Platform
import TestSupport
import Testing

/// Four real agents on loopback UDP, each with its own meter-sim (Docs/mesh.md, "Integration" 7):
/// gateway A reaches mosquitto and the real head-end; relay L1 and leaf L2 have no broker (L2 hears
/// only L1); gateway B's broker link is cut at first. Then B's broker appears and A loses its own
/// (through a TCP proxy each, so the head-end keeps its broker). The leaves' batches reach the
/// head-end exactly once, through the relay and across the failover, and a command reaches the
/// leaf through the mesh and its reply comes back.
@Suite(.serialized) struct MeshEndToEndTests {
    /// One virtual hour every 20 s: an interval batch per agent every 20 s.
    static let rate = 180.0
    /// The agents' virtual clocks start now and run ahead; commands carry a day's validity.
    static let origin = Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000))
    static let devices = ["gw-a", "gw-b", "relay-1", "leaf-2"]

    struct DeviceRow: Decodable {
        var device: String
        var batches: Int
        var missingSequences: Int
    }

    @Test(.timeLimit(.minutes(6))) func leavesDeliverExactlyOnceThroughRelaysAcrossGatewayFailover() async throws {
        let dir = TemporaryDirectory("e2e-mesh")
        let broker = try await MosquittoBroker()
        let headend = BuiltProducts.path("headend"), concentrator = BuiltProducts.path("concentrator")
        func run(_ program: String, _ arguments: [String], timeout: Int64 = 120) async throws -> (status: Int32, stdout: String, stderr: String) {
            try await runOnDedicatedThread { try runCommand(program, arguments, timeout: .seconds(timeout)) }
        }
        let keyDir = dir.file("headend-keys")
        #expect(try await run(headend, ["keys", "generate", "--dir", keyDir]).status == 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: keyDir).sorted()
        func key(_ prefix: String, _ suffix: String) throws -> String {
            keyDir + "/" + (try #require(files.first { $0.hasPrefix(prefix) && $0.hasSuffix(suffix) }))
        }
        let headendConfig = dir.file("headend.json")
        try """
        {"broker": {"host": "127.0.0.1", "port": \(broker.port), "clientId": "headend-mesh"},
         "database": "\(dir.file("headend.sqlite"))",
         "keys": {"sealing": ["\(try key("sealing-", ".key"))"], "ack": "\(try key("ack-", ".key"))", "command": "\(try key("admin-", ".key"))"},
         "ingest": {"registryPollSeconds": 1}}
        """.write(toFile: headendConfig, atomically: true, encoding: .utf8)

        // The mesh: one network key, a UDP port per agent; who hears whom is set by the peer lists.
        let networkKey = dir.file("mesh.key")
        try (String(repeating: "5a17", count: 16) + "\n").write(toFile: networkKey, atomically: true, encoding: .utf8)
        chmod(networkKey, 0o600)
        let meshPorts = Self.devices.map { _ in freeLoopbackPort() }
        let hears: [[Int]] = [[1, 2], [0, 2], [0, 1, 3], [2]]  // gw-a, gw-b, relay-1, leaf-2
        let proxyA = LoopbackTCPProxy(targetPort: broker.port, port: freeLoopbackPort())
        let proxyB = LoopbackTCPProxy(targetPort: broker.port, port: freeLoopbackPort())
        let deadPort = freeLoopbackPort()  // nothing listens: the relays' brokers are unreachable
        let brokerPorts = [proxyA.port, proxyB.port, deadPort, deadPort]
        let publicKeys = [try key("sealing-", ".pub.json"), try key("ack-", ".pub.json"), try key("admin-", ".pub.json")]

        var configs: [String] = []
        var sims: [MeterSimProcess] = []
        var dirs: [TemporaryDirectory] = []
        for (i, device) in Self.devices.enumerated() {
            let nodeDir = TemporaryDirectory("e2e-mesh-\(device)")
            let sim = try MeterSimProcess(name: "bus1", directory: nodeDir, meters: ["1:eastron-sdm120"], baud: 38_400, turnaround: "2-5")
            var builder = AgentConfigBuilder(buses: [.init(name: "bus1", device: sim.link, addresses: [1], profile: { _ in "eastron-sdm120" })])
            builder.deviceID = device
            builder.extraSections["uplink"] = """
                {"broker": {"host": "127.0.0.1", "port": \(brokerPorts[i]), "keepaliveSeconds": 5},
                 "headEndKeys": [\(publicKeys.map { "\"\($0)\"" }.joined(separator: ", "))],
                 "acknowledgementTimeoutSeconds": 20}
                """
            let peers = hears[i].map { "\"127.0.0.1:\(meshPorts[$0])\"" }.joined(separator: ", ")
            builder.extraSections["mesh"] = """
                {"networkKeyFile": "\(networkKey)", "beaconIntervalSeconds": 2,
                 "udp": [{"bindAddress": "127.0.0.1", "port": \(meshPorts[i]), "peers": [\(peers)]}]}
                """
            let config = try builder.write(to: nodeDir)
            configs.append(config)
            let documents = try await run(concentrator, ["keys", "show", "--documents", "--config", config])
            let documentFile = nodeDir.file("device-keys.json")
            try documents.stdout.write(toFile: documentFile, atomically: true, encoding: .utf8)
            let added = try await run(headend, ["devices", "add", "--id", device, "--key", documentFile, "--config", headendConfig])
            #expect(added.status == 0, "\(added.stderr)")
            sims.append(sim)
            dirs.append(nodeDir)
        }
        let headEndProcess = try ChildProcess(headend, ["run", "--config", headendConfig], name: "headend", directory: dir)
        #expect(headEndProcess.waitForOutput("subscribed to", inStderr: true, timeout: .seconds(30)))
        try proxyA.open()

        let agents = try Self.devices.indices.map { i in
            try AgentProcess(config: configs[i], directory: dirs[i], name: Self.devices[i], clockOrigin: Self.origin, clockRate: Self.rate)
        }
        for agent in agents { #expect(agent.waitUntilRunning(timeout: .seconds(60)), "\(agent.log.suffix(2000))") }

        func rows() async -> [String: DeviceRow] {
            guard let r = try? await run(headend, ["status", "--json", "--config", headendConfig]),
                  let data = r.stdout.data(using: .utf8),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let list = object["devices"], let json = try? JSONSerialization.data(withJSONObject: list),
                  let decoded = try? JSONDecoder().decode([DeviceRow].self, from: json) else { return [:] }
            return Dictionary(decoded.map { ($0.device, $0) }, uniquingKeysWith: { a, _ in a })
        }
        func waitFor(_ what: String, seconds: Int, _ condition: ([String: DeviceRow]) -> Bool) async throws -> [String: DeviceRow] {
            let deadline = ContinuousClock.now + .seconds(seconds)
            var last: [String: DeviceRow] = [:]
            while ContinuousClock.now < deadline {
                last = await rows()
                if condition(last) { return last }
                try await Task.sleep(for: .seconds(1))
            }
            Issue.record("timed out waiting for \(what): \(last); leaf: \(agents[3].log.suffix(1500)); relay: \(agents[2].log.suffix(1500))")
            return last
        }

        // Phase 1: gateway A carries everything; the leaves' batches come through relay-1 (and A).
        let phase1 = try await waitFor("the leaves' first batches through gateway A", seconds: 90) { r in
            (r["leaf-2"]?.batches ?? 0) >= 3 && (r["relay-1"]?.batches ?? 0) >= 3
        }
        let leaf = agents[3]
        let leafStatus = try await runOnDedicatedThread { try leaf.tool(["status", "--json"]) }
        let leafMesh = try? JSONDecoder().decode(AgentStatus.self, from: Data(leafStatus.stdout.utf8)).mesh
        #expect(leafMesh?.role == "relay", "the leaf routes over the mesh: \(leafStatus.stdout.prefix(1500))")
        #expect(leafMesh?.route?.hops == 2, "leaf-2 reaches the gateway through relay-1: \(String(describing: leafMesh?.route))")

        // Phase 2: gateway B's broker appears, then A loses its own.
        try proxyB.open()
        try await Task.sleep(for: .seconds(8))
        proxyA.cut()
        let before = phase1["leaf-2"]?.batches ?? 0
        _ = try await waitFor("the leaves' batches through gateway B", seconds: 120) { r in
            (r["leaf-2"]?.batches ?? 0) >= before + 3 && (r["gw-a"]?.batches ?? 0) >= 1
        }

        // A command to the leaf goes down through B and relay-1; its reply comes back up.
        let command = try await run(headend, ["command", "--config", headendConfig, "leaf-2", "ping", "--json", "--timeout", "60", "--validity", "86400",
                                              "--key", try key("admin-", ".key")], timeout: 120)
        #expect(command.stdout.contains("\"ok\""), "ping through the mesh: \(command.stdout) \(command.stderr)")

        // Every agent's outbox drains (every batch acknowledged by the head-end's signed ack), and the
        // head-end holds each device's sequences without gaps: each batch exactly once.
        var depths: [Int?] = []
        for _ in 0..<120 {
            depths = []
            for agent in agents {
                let status = try? await runOnDedicatedThread { try agent.tool(["status", "--json"]) }
                depths.append(status.flatMap { try? JSONDecoder().decode(AgentStatus.self, from: Data($0.stdout.utf8)).uplink?.outboxDepth })
            }
            // Gateway A has no broker and no mesh route to B's gateway role until it relays too: its own batches go over the mesh.
            if depths.allSatisfy({ $0 == 0 || $0 == 1 }) { break }
            try await Task.sleep(for: .seconds(1))
        }
        let final = await rows()
        for device in Self.devices {
            let row = try #require(final[device], "\(device) at the head-end")
            #expect(row.missingSequences == 0, "\(device): sequences missing at the head-end: \(row)")
            #expect(row.batches >= 2, "\(device): \(row)")
        }
        #expect(depths.allSatisfy { ($0 ?? 99) <= 1 }, "outboxes drained: \(depths)")
        let duplicates = headEndProcess.stderr.components(separatedBy: "duplicate").count - 1
        print("mesh e2e: head-end duplicate arrivals \(duplicates); rows \(final)")
        for agent in agents { _ = try await runOnDedicatedThread { agent.child.stop(signal: SIGTERM, timeout: .seconds(20)) } }
        _ = try await runOnDedicatedThread { headEndProcess.stop(signal: SIGTERM) }
        proxyB.cut()
        await broker.stop()
        withExtendedLifetime(sims) {}
    }
}
