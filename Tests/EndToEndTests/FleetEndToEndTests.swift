import ConcentratorCore
import FleetSimulation
import Foundation
import HeadEnd
import Logging
import MQTT
import Platform
import Testing
import TestSupport
import Wire

/// The head-end at fleet scale, as operators run it: a real PostgreSQL cluster, mosquitto, three
/// `headend run` workers in one shared-subscription group, and 200 simulated concentrators sending
/// real sealed hourly batches over real MQTT (each resending what has no signed ack, as the agent's
/// outbox does). During the run one worker is killed with SIGKILL (and started again, as systemd
/// would) and PostgreSQL is restarted. Afterwards every batch is stored exactly once and acknowledged,
/// and the gap report shows no gap. Garbage, a 10 MB payload and a batch of an unknown device are
/// sent meanwhile: refused with a reason, counted, and the workers live on.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct FleetEndToEndTests {
    static let devices = 200
    static let hours = 24
    static let meters = 4

    final class Workers: @unchecked Sendable {
        let headend = BuiltProducts.path("headend")
        let directory: TemporaryDirectory
        var processes: [ChildProcess] = []
        var runs = 0

        init(directory: TemporaryDirectory) { self.directory = directory }

        /// Starts worker `index` (its own client id and configuration) and waits for its subscriptions.
        func start(_ index: Int) throws -> ChildProcess {
            runs += 1
            let process = try ChildProcess(headend, ["run", "--config", directory.file("worker-\(index).json"), "--log-level", "info"],
                                           name: "worker-\(index)-run\(runs)", directory: directory)
            guard process.waitForOutput("subscribed to", inStderr: true, timeout: .seconds(60)) else {
                throw PostgresClusterError(description: "worker \(index) did not subscribe: \(process.stderr.suffix(2000))")
            }
            return process
        }
    }

    @Test func threeWorkersTwoHundredDevicesSurviveAKilledWorkerAndADatabaseRestart() async throws {
        let dir = TemporaryDirectory("e2e-fleet")
        let cluster = try await runOnDedicatedThread { try PostgresCluster() }
        let url = try await runOnDedicatedThread { try cluster.createDatabase("headend") }
        let broker = try await MosquittoBroker()
        let headend = BuiltProducts.path("headend")
        let generated = try await runOnDedicatedThread { try runCommand(headend, ["keys", "generate", "--dir", dir.file("keys")]) }
        try #require(generated.status == 0, "\(generated.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.file("keys"))
        let sealingKey = try #require(files.first { $0.hasPrefix("sealing-") && $0.hasSuffix(".key") })
        let ackKey = try #require(files.first { $0.hasPrefix("ack-") && $0.hasSuffix(".key") })
        let sealingPublic = try PublicKeyDocument.parse(String(contentsOfFile: dir.file("keys/" + sealingKey.replacingOccurrences(of: ".key", with: ".pub.json")),
                                                               encoding: .utf8), path: "sealing")
        let ackPublic = try PublicKeyDocument.parse(String(contentsOfFile: dir.file("keys/" + ackKey.replacingOccurrences(of: ".key", with: ".pub.json")),
                                                           encoding: .utf8), path: "ack")
        for index in 1...3 {
            try """
                {"broker": {"host": "127.0.0.1", "port": \(broker.port), "clientId": "fleet-worker-\(index)", "keepaliveSeconds": 10},
                 "sharedSubscriptionGroup": "fleet", "database": "\(url)",
                 "keys": {"sealing": ["\(dir.file("keys/" + sealingKey))"], "ack": "\(dir.file("keys/" + ackKey))"},
                 "ingest": {"registryPollSeconds": 2, "brokerAcknowledgementTimeoutSeconds": 10}}
                """.write(toFile: dir.file("worker-\(index).json"), atomically: true, encoding: .utf8)
        }

        // The fleet: 200 concentrators with 4 meters each, registered in the database.
        let sealingPublicKey = try AgreementPublicKey(rawRepresentation: sealingPublic.publicKey)
        // Sealed without the column reference search (`cheapSealing`): real sealed, signed batches the
        // head-end opens and verifies as any other, cheap enough to make 4 800 of them in a debug build.
        let fleet = try (1...Self.devices).map {
            try SimulatedConcentrator(index: $0, prefix: "gw", meters: Self.meters, headEndSealingKey: sealingPublicKey, cheapSealing: true)
        }
        let documents = fleet.map(\.publicDocument)
        try await runOnDedicatedThread {
            let store = try HeadEndStores.open(.postgres(url: url), now: SystemClock().now())
            defer { store.close() }
            for document in documents { try store.registerDevice(document.device!, keys: [document], at: SystemClock().now()) }
        }
        let firstHour = ISO8601.parse("2026-11-01T00:00:00Z")!
        @Sendable func seal(_ part: [SimulatedConcentrator]) throws -> [(String, [(sequence: UInt64, batch: SealedBatch)])] {
            var out: [(String, [(sequence: UInt64, batch: SealedBatch)])] = []
            for var device in part {
                var list: [(sequence: UInt64, batch: SealedBatch)] = []
                for hour in 0..<Self.hours {
                    let sequence = UInt64(hour + 1)
                    let start = firstHour.adding(seconds: Int64(hour) * 3600)
                    list.append((sequence, try device.hourlyBatch(sequence: sequence, start: start)))
                }
                out.append((device.id, list))
            }
            return out
        }
        let sealingStarted = ContinuousClock.now
        async let firstHalf = runOnDedicatedThread { try seal(Array(fleet[..<(Self.devices / 2)])) }
        async let secondHalf = runOnDedicatedThread { try seal(Array(fleet[(Self.devices / 2)...])) }
        let batches = Dictionary(uniqueKeysWithValues: try await firstHalf + secondHalf)
        print("fleet e2e: sealed \(Self.devices * Self.hours) batches in \(ContinuousClock.now - sealingStarted)")

        let workers = Workers(directory: dir)
        workers.processes = try await runOnDedicatedThread { try (1...3).map { try workers.start($0) } }
        let ackVerifier = try SigningPublicKey(rawRepresentation: ackPublic.publicKey)
        var quiet = Logger(label: "fleet")
        quiet.logLevel = .warning
        let driver = FleetDriver(host: "127.0.0.1", port: broker.port, clientID: "fleet-devices", ackKeys: [ackVerifier],
                                 window: 2, resendAfter: .seconds(4), logger: quiet)
        try await driver.start()
        for (device, list) in batches { driver.enqueue(device: device, batches: list) }
        let total = Self.devices * Self.hours
        @Sendable func acknowledged() -> Int { driver.acks.values.reduce(0) { $0 + $1.count } }

        // Mid-stream: kill -9 one worker, start it again (its broker session resumes), restart PostgreSQL.
        #expect(await eventuallyAsync(timeout: .seconds(90)) { acknowledged() >= total / 5 }, "first fifth acknowledged")
        kill(workers.processes[1].pid, SIGKILL)
        try await Task.sleep(for: .seconds(1))
        try await sendBadInput(port: broker.port, sealingKey: sealingPublicKey)
        workers.processes[1] = try await runOnDedicatedThread { try workers.start(2) }
        #expect(await eventuallyAsync(timeout: .seconds(90)) { acknowledged() >= total / 2 }, "half acknowledged")
        try await runOnDedicatedThread { try cluster.restart(mode: "fast") }

        let drained = await driver.waitUntilDrained(timeout: .seconds(150))
        #expect(drained, "outstanding batches: \(driver.outstanding)")
        let acks = driver.acks
        await driver.stop()

        // Every batch acknowledged, accepted at most once, every ack for the right batch.
        for (device, list) in batches {
            for (sequence, _) in list {
                let statuses = acks[device]?[sequence]?.statuses ?? []
                #expect(!statuses.isEmpty, "\(device) batch \(sequence) never acknowledged")
                #expect(statuses.allSatisfy { $0 == .accepted || $0 == .duplicate }, "\(device) \(sequence): \(statuses)")
                #expect(statuses.filter { $0 == .accepted }.count <= 1, "\(device) \(sequence) accepted twice")
            }
        }
        // Stored exactly once: 24 batches per device, no gap, and exactly their snapshots.
        let reports = try await runOnDedicatedThread { () -> [DeviceStatusReport] in
            let store = try HeadEndStores.openForReading(.postgres(url: url))
            defer { store.close() }
            return try store.statusReports()
        }
        #expect(reports.count == Self.devices)
        for report in reports {
            #expect(report.batches == Self.hours && report.lastSequence == UInt64(Self.hours) && report.missingSequences == 0 && report.gaps.isEmpty,
                    "\(report.device): \(report.batches) batches, gaps \(report.gaps)")
        }
        let snapshots = try await runOnDedicatedThread { try cluster.psql("headend", "SELECT count(*) FROM snapshots") }
        #expect(snapshots == "\(total * Self.meters)")
        let partitions = try await runOnDedicatedThread {
            try cluster.psql("headend", "SELECT count(*) FROM snapshots_y2026m11")
        }
        #expect(partitions == "\(total * Self.meters)", "every reading is in the November partition")

        // The workers lived through it all; their refusals were counted by reason.
        let stopped = try await runOnDedicatedThread { workers.processes.map { $0.stop() } }
        #expect(stopped.allSatisfy { $0 == 0 }, "workers exit cleanly on SIGTERM")
        let logs = workers.processes.map(\.stderr)
        let stopLines = logs.compactMap { $0.split(separator: "\n").last { $0.contains("stopped:") } }.map(String.init)
        #expect(stopLines.count == 3)
        func counted(_ reason: String) -> Int {
            stopLines.reduce(0) { sum, line in
                guard let r = line.range(of: "\(reason)=") else { return sum }
                return sum + (Int(line[r.upperBound...].prefix { $0.isNumber }) ?? 0)
            }
        }
        #expect(counted("malformed") + counted("unsupportedVersion") >= 3, "garbage on batch and event, and the 10 MB payload: \(stopLines)")
        #expect(counted("malformedStatus") >= 1, "\(stopLines)")
        #expect(counted("unknownDevice") >= 1, "\(stopLines)")
        let all = logs.joined(separator: "\n")
        #expect(all.contains("reason=unknownDevice") && all.contains("reason=malformed"))
        #expect(all.contains("not acknowledged") || all.contains("not stored"), "the database restart was noticed")
        _ = cluster
    }

    /// Garbage on every subscribed topic, a 10 MB payload, and a well-formed batch of a device the
    /// head-end does not know, published by a stranger's client.
    private func sendBadInput(port: UInt16, sealingKey: AgreementPublicKey) async throws {
        var quiet = Logger(label: "stranger")
        quiet.logLevel = .error
        let client = MQTTClient(settings: MQTTClientSettings(host: "127.0.0.1", port: port, clientID: "stranger", keepaliveSeconds: 10,
                                                             cleanStart: true, acknowledgementTimeout: .seconds(20)), logger: quiet)
        try client.start()
        for await event in client.connectionEvents { if case .connected = event { break } }
        let garbage = Array("this is not a batch".utf8)
        for leaf in ["batch", "event", "status"] {
            _ = try await client.publish(topic: "concentrator/v1/gw-00001/\(leaf)", payload: garbage)
        }
        var random = SplitMix64(state: 99)
        let big = (0..<(10 << 20)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        _ = try await client.publish(topic: "concentrator/v1/gw-00002/batch", payload: big)
        var stranger = try SimulatedConcentrator(index: 1, prefix: "intruder", meters: 2, headEndSealingKey: sealingKey, seed: 7)
        let batch = try stranger.hourlyBatch(sequence: 1, start: ISO8601.parse("2026-11-01T00:00:00Z")!)
        _ = try await client.publish(topic: "concentrator/v1/\(stranger.id)/batch", payload: batch.bytes)
        await client.stop()
    }
}
