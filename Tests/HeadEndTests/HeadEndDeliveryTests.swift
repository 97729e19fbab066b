import ConcentratorCore
import Foundation
@testable import HeadEnd
import Testing
import TestSupport
import Wire

/// Exactly-once delivery across a head-end restart, load sharing between head-ends, and logs
/// without key material.
@Suite("Head-end delivery", .serialized, .timeLimit(.minutes(3)))
struct HeadEndDeliveryTests {
    /// Sends every batch that has no ack yet, like a device's outbox after a reconnect, until all
    /// are acknowledged or `timeout` passes.
    private func drain(_ device: TestDevice, _ batches: [UInt64: SealedBatch], timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let unacked = batches.keys.sorted().filter { device.acks(for: $0).isEmpty }
            if unacked.isEmpty { return }
            for sequence in unacked { try await device.publish(batches[sequence]!.bytes) }
            _ = await eventually(timeout: .seconds(2)) { batches.keys.allSatisfy { !device.acks(for: $0).isEmpty } }
        }
    }

    @Test("a head-end restarted in the middle of a stream of 50 batches stores every batch exactly once")
    func restartMidDrain() async throws {
        let harness = try await HeadEndHarness()
        let device = try await harness.device()
        var batches: [UInt64: SealedBatch] = [:]
        for sequence in UInt64(1)...50 { batches[sequence] = Content.batch(sequence) }

        var service = try await harness.startService()
        for sequence in UInt64(1)...25 { try await device.publish(batches[sequence]!.bytes) }
        #expect(await eventually(timeout: .seconds(20)) { device.acks.count >= 10 })
        await service.stop()
        let storedAtStop = try harness.count("batches")
        // The rest is published while no head-end runs: the broker keeps it in the head-end's session.
        for sequence in UInt64(26)...50 { try await device.publish(batches[sequence]!.bytes) }
        #expect(storedAtStop >= 10 && storedAtStop < 50)

        service = try await harness.startService()
        try await drain(device, batches, timeout: .seconds(60))
        #expect(try harness.count("batches") == 50)
        #expect(try harness.count("snapshots") == 200)
        #expect(try harness.count("batches", where: "sequence BETWEEN 1 AND 50") == 50)
        for (sequence, batch) in batches {
            let acks = device.acks(for: sequence)
            #expect(!acks.isEmpty, "batch \(sequence) was never acknowledged")
            #expect(acks.allSatisfy { $0.batchDigest == batch.digest && ($0.status == .accepted || $0.status == .duplicate) })
            #expect(acks.filter { $0.status == .accepted }.count <= 1, "batch \(sequence) was accepted twice")
        }
        let database = try HeadEndDatabase.openForReading(path: harness.databasePath)
        let digests = try database.rows("SELECT sequence, digest FROM batches") { (UInt64($0.int64(0)), $0.blob(1)) }
        database.close()
        #expect(digests.allSatisfy { batches[$0.0]?.digest == $0.1 })
        await device.stop()
        await service.stop()
    }

    @Test("two head-ends with a shared subscription on one database split the load and store each batch once")
    func sharedSubscription() async throws {
        let harness = try await HeadEndHarness()
        let first = try await harness.startService(clientID: "headend-a", group: "headends")
        let second = try await harness.startService(clientID: "headend-b", group: "headends")
        let device = try await harness.device()
        var batches: [UInt64: SealedBatch] = [:]
        for sequence in UInt64(1)...40 { batches[sequence] = Content.batch(sequence) }
        for sequence in UInt64(1)...40 { try await device.publish(batches[sequence]!.bytes) }
        try await drain(device, batches, timeout: .seconds(60))
        #expect(try harness.count("batches") == 40)
        #expect(try harness.count("snapshots") == 160)
        let a = first.ingestCounts, b = second.ingestCounts
        #expect(a.stored > 0 && b.stored > 0, "one head-end did all the work: \(a.stored) and \(b.stored)")
        #expect(a.stored + b.stored == 40)
        #expect(device.acks.filter { $0.status == .accepted }.count == 40)
        await device.stop()
        await first.stop()
        await second.stop()
    }

    @Test("no private or public key bytes appear in any log line of the head-end or its MQTT client")
    func noKeyMaterialInLogs() async throws {
        let harness = try await HeadEndHarness()
        let service = try await harness.startService()
        let device = try await harness.device()
        // Accepted, duplicate, every kind of rejection, and a status document, all at trace level.
        let good = Content.batch(1)
        try await device.publish(good.bytes)
        try await device.publish(good.bytes)
        var tampered = Content.batch(2).bytes
        tampered[tampered.count - 70] ^= 1
        try await device.publish(tampered)
        try await device.publish(Content.batch(3, sealer: Keys.sealer(signingKey: Keys.stranger)).bytes)
        let genuine = Content.batch(4)
        let resigned = genuine.headerBytes + genuine.encapsulatedKey + genuine.ciphertext.map { $0 ^ 0x55 }
        try await device.publish(resigned + Keys.deviceSigning.sign(resigned))
        try await device.publish(Array(#"{"v":1,"device":"gw-0001","state":"online","pending":1}"#.utf8), leaf: "status")
        try await device.publish(Content.batch(5).bytes)
        #expect(await device.waitForAck(5) != nil)
        await device.stop()
        await service.stop()

        let text = harness.log.text + "\n\(service.configuration)\n" + HeadEndPrivateKeys(sealingKeys: [Keys.sealing], ackKey: Keys.ack).description
        #expect(harness.log.lines.count > 10)
        #expect(!harness.log.lines(containing: "reason=badSignature").isEmpty)
        #expect(!harness.log.lines(containing: "reason=cannotDecrypt").isEmpty)
        for form in Keys.allKeyForms {
            #expect(!text.contains(form), "key bytes appear in the log: \(form)")
        }
        // Key ids are what the logs may name (the start line names the keys in use).
        #expect(harness.log.text.contains(Keys.sealing.id.hex) && harness.log.text.contains(Keys.ack.id.hex))
    }
}
