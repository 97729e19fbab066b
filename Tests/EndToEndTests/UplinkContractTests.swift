import Archive
import ConcentratorCore
import Foundation
import KeyFiles
import Platform
import Testing
import TestSupport

/// The agent's uplink against a real mosquitto and the wire contract: every archived snapshot
/// reaches the head-end exactly once, through outages and crashes, sealed and signed.
@Suite(.serialized) struct UplinkContractTests {
    static let origin = ISO8601.parse("2026-03-01T00:00:00Z")!
    /// One virtual hour every two seconds.
    static let rate = 1800.0

    /// A field of 6 meters, a broker, the contract head-end and the agent's config.
    final class Setup: @unchecked Sendable {
        let dir = TemporaryDirectory("e2e-uplink")
        let broker: MosquittoBroker
        let headEnd = ContractHeadEnd()
        let sim: MeterSimProcess
        let config: String
        let realStart = Date()

        init(ackTimeoutSeconds: Int = 10) async throws {
            broker = try await MosquittoBroker()
            sim = try MeterSimProcess(name: "bus1", directory: dir, meters: ["1-4:eastron-sdm120", "5-6:eastron-sdm630"],
                                      baud: 115_200, turnaround: "1-3")
            let keyFiles = try headEnd.writeKeyFiles(to: dir)
            var builder = AgentConfigBuilder(buses: [.init(name: "bus1", device: sim.link, baud: 115_200, addresses: Array(1...6),
                                                           profile: { $0 <= 4 ? "eastron-sdm120" : "eastron-sdm630" })])
            builder.extraSections["uplink"] = """
                {"broker": {"host": "127.0.0.1", "port": \(broker.port), "keepaliveSeconds": 5},
                 "headEndKeys": [\(keyFiles.map { "\"\($0)\"" }.joined(separator: ", "))],
                 "acknowledgementTimeoutSeconds": \(ackTimeoutSeconds)}
                """
            config = try builder.write(to: dir)
            // `keys show` generates the device keys, so the head-end can register the device first.
            let shown = try runCommand(BuiltProducts.path("concentrator"), ["keys", "show", "--config", config])
            try #require(shown.status == 0, "keys show: \(shown.stderr)")
            let keys = try DeviceKeyStore(stateDirectory: dir.file("state")).load()
            headEnd.register(device: "gw-test", key: keys.signing.publicKey)
            try headEnd.start(port: broker.port)
        }

        /// Starts the agent with the virtual clock continuing from where earlier runs left it.
        func startAgent(_ name: String) throws -> AgentProcess {
            let elapsed = Date().timeIntervalSince(realStart)
            let agent = try AgentProcess(config: config, directory: dir, name: name,
                                         clockOrigin: UplinkContractTests.origin.adding(milliseconds: Int64(elapsed * 1000 * UplinkContractTests.rate) - 1500),
                                         clockRate: UplinkContractTests.rate)
            _ = agent.waitUntilRunning()
            return agent
        }

        /// Every interval snapshot in the archive.
        func archived() throws -> [String: MeterSnapshot] {
            let reader = try ArchiveReader(path: dir.file("state/archive.sqlite"))
            defer { reader.close() }
            var out: [String: MeterSnapshot] = [:]
            for id in 1...6 {
                for s in try reader.snapshots(meter: MeterID("bus1-m\(id)"), from: UplinkContractTests.origin.adding(seconds: -86_400),
                                              to: UplinkContractTests.origin.adding(seconds: 86_400 * 365)) {
                    out["\(s.meter)/\(s.intervalStart.milliseconds)/interval"] = s
                }
            }
            return out
        }

        /// The outbox depth the running agent reports.
        func outboxDepth(_ agent: AgentProcess) -> Int? {
            guard let r = try? agent.tool(["status", "--json"]), r.status == 0,
                  let status = try? JSONDecoder().decode(AgentStatus.self, from: Data(r.stdout.utf8)) else { return nil }
            return status.uplink?.outboxDepth
        }
    }

    @Test func everyArchivedSnapshotArrivesOnceAndTheOutboxEmpties() async throws {
        let s = try await Setup()
        let agent = try s.startAgent("agent")
        #expect(await eventuallyAsync(timeout: .seconds(60)) { agent.archivedLines.count >= 4 }, "\(agent.log.suffix(1500))")
        #expect(await eventuallyAsync(timeout: .seconds(30)) { s.outboxDepth(agent) == 0 && s.headEnd.stored.count >= 24 })
        // The console's end-to-end check: a test batch out, the head-end's signed ack back.
        let socket = s.dir.file("run/control.sock")
        let check = try await runOnDedicatedThread {
            try ControlClient.connectIfRunning(path: socket)!.call(ControlRequest(op: "uplink.check", timeoutMilliseconds: 10_000))
        }
        #expect(check.message?.contains("acknowledged test batch") == true, "\(check)")
        #expect(s.headEnd.events.contains { $0.kind == .uplinkCheck })
        s.headEnd.acknowledging = false
        let unanswered = try await runOnDedicatedThread { () -> ControlFailure? in
            do throws(ControlFailure) {
                _ = try ControlClient.connectIfRunning(path: socket)!.call(ControlRequest(op: "uplink.check", timeoutMilliseconds: 2000))
            } catch {
                return error
            }
            return nil
        }
        #expect(unanswered?.code == "no-ack", "without an ack the check fails and says so")
        #expect(agent.child.stop() == 0)
        try compare(s)
        // A retained online status, then the clean offline status at shutdown.
        #expect(s.broker.log.contains("status"))
        // No key material in any log line: every key, hex and base64.
        let keys = try DeviceKeyStore(stateDirectory: s.dir.file("state")).load()
        let secrets = try keyFileSecrets(s.dir.file("state/keys")) + [
            keys.signing.publicKey.rawRepresentation, keys.agreement.publicKey.rawRepresentation,
            s.headEnd.ack.publicKey.rawRepresentation, s.headEnd.sealing.publicKey.rawRepresentation,
        ]
        for log in [agent.log, agent.child.stdout, s.broker.log] {
            for bytes in secrets {
                #expect(!log.contains(Hex.encode(bytes)) && !log.contains(Data(bytes).base64EncodedString()), "key bytes in a log")
            }
        }
    }

    @Test func aLongBrokerOutageDrainsCompletelyAfterwards() async throws {
        let s = try await Setup()
        let agent = try s.startAgent("agent")
        #expect(await eventuallyAsync(timeout: .seconds(60)) { s.headEnd.stored.count >= 6 }, "first interval delivered")
        await s.broker.stop()
        let before = agent.archivedLines.count
        // Twelve real seconds: six virtual hours archived while the uplink is down.
        try await Task.sleep(for: .seconds(12))
        #expect(agent.archivedLines.count >= before + 5, "polling and archiving go on without the uplink")
        try await s.broker.start()
        #expect(await eventuallyAsync(timeout: .seconds(60)) { s.outboxDepth(agent) == 0 }, "the backlog drained")
        #expect(agent.child.stop() == 0)
        try compare(s, fault: "broker outage of 12 s (6 virtual hours)")
    }

    @Test func killMinus9MidDrainStillDeliversExactlyOnce() async throws {
        let s = try await Setup(ackTimeoutSeconds: 10)
        s.headEnd.acknowledging = false
        let first = try s.startAgent("agent-1")
        #expect(await eventuallyAsync(timeout: .seconds(60)) { s.headEnd.batchesReceived >= 4 }, "a backlog of unacknowledged batches")
        s.headEnd.acknowledging = true
        // The agent is now resending its backlog; kill it in the middle.
        try await Task.sleep(for: .milliseconds(Int.random(in: 100...2000)))
        first.child.stop(signal: SIGKILL)
        let second = try s.startAgent("agent-2")
        #expect(await eventuallyAsync(timeout: .seconds(60)) { s.outboxDepth(second) == 0 }, "\(second.log.suffix(1500))")
        #expect(second.child.stop() == 0)
        try compare(s, fault: "kill -9 mid drain (uplink)")
    }

    /// Every archived snapshot is at the head-end once, with identical values, or still queued in
    /// the outbox (archived after the last drain, sent at the next start); nothing else arrived.
    private func compare(_ s: Setup, fault: String? = nil) throws {
        let archived = try s.archived()
        let delivered = s.headEnd.stored
        defer {
            if let fault, let queued = try? queuedRanges(s) {
                // In values: what the archive holds and is not still queued, and what arrived identical.
                let due = archived.filter { e in !queued.contains { $0.contains(e.value.intervalStart) } || delivered[e.key] != nil }
                FaultMatrix.record(fault: fault, expected: due.values.reduce(0) { $0 + $1.values.count },
                                   delivered: due.reduce(0) { $0 + (delivered[$1.key]?.values == $1.value.values ? $1.value.values.count : 0) },
                                   duplicated: s.headEnd.duplicates.reduce(0) { $0 + (delivered[$1]?.values.count ?? 1) })
            }
        }
        #expect(!archived.isEmpty)
        #expect(s.headEnd.duplicates.isEmpty, "the same snapshot in two batches: \(s.headEnd.duplicates.prefix(5))")
        #expect(Set(delivered.keys).isSubset(of: Set(archived.keys)), "delivered something never archived")
        let queued = try queuedRanges(s)
        for (key, snapshot) in archived {
            if let got = delivered[key] {
                #expect(got.values == snapshot.values, "\(key) differs")
            } else {
                #expect(queued.contains { $0.contains(snapshot.intervalStart) }, "\(key) neither delivered nor queued")
            }
        }
        #expect(delivered.count >= archived.count - 6 * queued.count)
    }

    /// The interval ranges of the entries left in the outbox after the agent stopped.
    private func queuedRanges(_ s: Setup) throws -> [Range<Timestamp>] {
        let reader = try ArchiveReader(path: s.dir.file("state/archive.sqlite"))
        defer { reader.close() }
        let entries = try reader.outboxPending(limit: 1000) + reader.outboxUnsealed(limit: 1000)
        return entries.compactMap(\.item.intervals)
    }

    /// The raw secrets in the device's key files.
    private func keyFileSecrets(_ directory: String) throws -> [[UInt8]] {
        try FileManager.default.contentsOfDirectory(atPath: directory).compactMap { name in
            let text = try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
            guard let range = text.range(of: #""secret" *: *"([^"]+)""#, options: .regularExpression) else { return nil }
            let b64 = text[range].split(separator: "\"").dropLast().last.map(String.init) ?? ""
            return Data(base64Encoded: b64).map(Array.init)
        }
    }
}

/// Waits (at most `timeout`) until `condition` holds, without blocking the cooperative pool.
func eventuallyAsync(timeout: Duration, _ condition: @escaping @Sendable () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        let holds = (try? await runOnDedicatedThread { condition() }) ?? false
        if holds { return true }
        try? await Task.sleep(for: .milliseconds(250))
    }
    return false
}
