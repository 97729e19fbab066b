import ConcentratorCore
import Foundation
@testable import HeadEnd
import Testing
import TestSupport
import Wire

/// The head-end against a real mosquitto on loopback: batches sealed here with the fixed keys,
/// published by an MQTT client acting as the device.
@Suite("Head-end ingest", .serialized, .timeLimit(.minutes(2)))
struct HeadEndIngestTests {
    @Test("a batch is stored exactly once and the device receives a signed accepted ack; a resend gets a duplicate ack")
    func storedOnceAndDuplicate() async throws {
        let harness = try await HeadEndHarness()
        let service = try await harness.startService()
        let device = try await harness.device()
        let batch = Content.batch(1)
        try await device.publish(batch.bytes)
        let ack = try #require(await device.waitForAck(1))
        #expect(ack.status == .accepted)
        #expect(ack.batchDigest == batch.digest)
        #expect(ack.keyID == Keys.ack.id)
        #expect(try harness.count("batches") == 1)
        #expect(try harness.count("snapshots") == 4)

        try await device.publish(batch.bytes)
        #expect(await eventually(timeout: .seconds(10)) { device.acks(for: 1).count == 2 })
        #expect(device.acks(for: 1).last?.status == .duplicate)
        #expect(device.acks(for: 1).last?.batchDigest == batch.digest)
        #expect(try harness.count("batches") == 1)
        #expect(try harness.count("snapshots") == 4)
        #expect(device.refusedAcks.isEmpty)
        #expect(service.ingestCounts.stored == 1 && service.ingestCounts.duplicates == 1)
        await device.stop()
        await service.stop()
    }

    @Test("an event batch on the event topic stores its events")
    func eventBatch() async throws {
        let harness = try await HeadEndHarness()
        let service = try await harness.startService()
        let device = try await harness.device()
        let sealed = try Keys.sealer().seal(.events(Content.events(3)), sequence: 3)
        try await device.publish(sealed.bytes, leaf: "event")
        #expect(try #require(await device.waitForAck(3)).status == .accepted)
        #expect(try harness.count("events") == 2)
        #expect(try harness.count("events", where: "kind = 10 AND meter = 'm-3' AND bus = 'bus1' AND severity = 1") == 1)
        #expect(try harness.count("snapshots") == 0)
        await device.stop()
        await service.stop()
    }

    @Test("tampered ciphertext, a wrong signature, an unknown device and a reused sequence are rejected, logged, never stored")
    func rejections() async throws {
        let harness = try await HeadEndHarness()
        let service = try await harness.startService()
        let device = try await harness.device()
        let good = Content.batch(10)
        try await device.publish(good.bytes)
        #expect(try #require(await device.waitForAck(10)).status == .accepted)
        let batchesBefore = try harness.count("batches"), snapshotsBefore = try harness.count("snapshots")

        // 1. One ciphertext byte flipped: the device's signature no longer verifies.
        var tampered = Content.batch(11).bytes
        let ciphertextStart = Content.batch(11).headerBytes.count + SealedBatch.encapsulatedKeyLength
        tampered[ciphertextStart + 5] ^= 0x01
        try await device.publish(tampered)
        // 2. A valid batch whose signature was replaced by one from another key.
        let genuine = Content.batch(12)
        let forged = genuine.signedBytes + Keys.stranger.sign(genuine.signedBytes)
        try await device.publish(forged)
        // 2b. A batch signed (and named in its header) by a key not registered for the device.
        try await device.publish(Content.batch(13, sealer: Keys.sealer(signingKey: Keys.stranger)).bytes)
        // 3. A device the registry does not know, on its own topic.
        let unknown = try await harness.device("gw-9999")
        try await unknown.publish(Content.batch(1, sealer: Keys.sealer(device: "gw-9999")).bytes)
        // 4. Sequence 10 again, with other content: a replayed sequence with a different digest.
        let reused = try Keys.sealer().seal(.snapshots(.interval, interval: IntervalSchedule(minutes: 60), Content.snapshots(99)),
                                            sequence: 10)
        try await device.publish(reused.bytes)
        #expect(await eventually(timeout: .seconds(10)) { device.acks(for: 10).count == 2 })
        let reuseAck = try #require(device.acks(for: 10).last)
        #expect(reuseAck.status == .rejected(reasonCode: BatchRejectionReason.sequenceReused.rawValue))
        #expect(reuseAck.batchDigest == reused.digest)

        // Processing is in order: once the last message is answered, the others were handled.
        #expect(await eventually(timeout: .seconds(10)) { harness.log.lines(containing: "reason=unknownDevice").count == 1 })
        #expect(harness.log.lines(containing: "warning", "device=gw-0001", "reason=badSignature", "sequence=11", "batch rejected").count == 1)
        #expect(harness.log.lines(containing: "warning", "device=gw-0001", "reason=badSignature", "sequence=12").count == 1)
        #expect(harness.log.lines(containing: "warning", "device=gw-0001", "reason=unknownSigningKey", "sequence=13").count == 1)
        #expect(harness.log.lines(containing: "warning", "device=gw-9999", "reason=unknownDevice", "sequence=1").count == 1)
        #expect(harness.log.lines(containing: "warning", "device=gw-0001", "reason=sequenceReused", "sequence=10").count == 1)
        // The sequence reuse (signature verified) is rejected; the batch signed by an unregistered key and the
        // unknown device's get a signed refusal (Docs/mqtt-api.md §6, status 3), which makes a device drop
        // nothing; the altered and forged batches get no answer at all.
        #expect(device.acks.map(\.sequence) == [10, 13, 10])
        #expect(device.acks(for: 13).map(\.status) == [.refused(reasonCode: BatchRefusalReason.signingKeyNotRegistered.rawValue)])
        #expect(unknown.acks.map(\.status) == [.refused(reasonCode: BatchRefusalReason.deviceNotRegistered.rawValue)])
        #expect(try harness.count("batches") == batchesBefore)
        #expect(try harness.count("snapshots") == snapshotsBefore)
        #expect(try harness.count("batches", where: "sequence IN (11, 12, 13)") == 0)
        // The reused sequence still holds the first batch.
        let database = try HeadEndDatabase.openForReading(path: harness.databasePath)
        #expect(try database.rows("SELECT digest FROM batches WHERE sequence = 10") { $0.blob(0) } == [good.digest])
        let status = try #require(try database.statusReports().first { $0.device == Keys.deviceID })
        #expect(status.rejections == ["badSignature": 2, "unknownSigningKey": 1, "sequenceReused": 1])
        database.close()
        await unknown.stop()
        await device.stop()
        await service.stop()
    }

    @Test("a batch re-signed after its ciphertext was altered fails to decrypt and gets a signed rejected ack (reason 2)")
    func cannotDecrypt() async throws {
        let harness = try await HeadEndHarness()
        let service = try await harness.startService()
        let device = try await harness.device()
        let genuine = Content.batch(20)
        var ciphertext = genuine.ciphertext
        ciphertext[3] ^= 0x80
        let signed = genuine.headerBytes + genuine.encapsulatedKey + ciphertext
        let altered = signed + Keys.deviceSigning.sign(signed)
        try await device.publish(altered)
        let ack = try #require(await device.waitForAck(20))
        #expect(ack.status == .rejected(reasonCode: BatchRejectionReason.cannotDecrypt.rawValue))
        #expect(harness.log.lines(containing: "device=gw-0001", "reason=cannotDecrypt", "sequence=20").count == 1)
        #expect(try harness.count("batches") == 0)
        await device.stop()
        await service.stop()
    }

    @Test("a batch whose signed header names another device than its topic is dropped as misrouted")
    func misrouted() async throws {
        let harness = try await HeadEndHarness()
        let service = try await harness.startService()
        let device = try await harness.device()
        try await device.publish(Content.batch(30).bytes, topicDevice: "gw-0002")
        #expect(await eventually(timeout: .seconds(10)) { !harness.log.lines(containing: "reason=misrouted").isEmpty })
        #expect(harness.log.lines(containing: "device=gw-0001", "reason=misrouted", "sequence=30").count == 1)
        #expect(try harness.count("batches") == 0)
        #expect(device.acks.isEmpty)
        await device.stop()
        await service.stop()
    }

    @Test("a running head-end sees devices added and removed by another process without a restart")
    func registryChangesWhileRunning() async throws {
        let harness = try await HeadEndHarness(registerDevice: false)
        let service = try await harness.startService(registryPollSeconds: 1)
        let device = try await harness.device()
        try await device.publish(Content.batch(1).bytes)
        #expect(await eventually(timeout: .seconds(10)) { harness.log.lines(containing: "reason=unknownDevice", "sequence=1").count == 1 })
        // Not registered: a signed refusal, nothing stored.
        #expect(try #require(await device.waitForAck(1)).status == .refused(reasonCode: BatchRefusalReason.deviceNotRegistered.rawValue))

        let registry = try HeadEndDatabase.open(path: harness.databasePath)
        try registry.registerDevice(Keys.deviceID, keys: Keys.deviceDocuments, at: Content.firstHour)
        try await device.publish(Content.batch(1).bytes)
        #expect(await eventually(timeout: .seconds(10)) { device.acks(for: 1).contains { $0.status == .accepted } })

        try registry.unregisterDevice(Keys.deviceID)
        registry.close()
        try await Task.sleep(for: .milliseconds(1100))
        try await device.publish(Content.batch(2).bytes)
        #expect(await eventually(timeout: .seconds(10)) { harness.log.lines(containing: "reason=unknownDevice", "sequence=2").count == 1 })
        #expect(device.acks(for: 2).allSatisfy { $0.status.refusal == .deviceNotRegistered }, "at most a refusal")
        #expect(try harness.count("batches") == 1)
        await device.stop()
        await service.stop()
    }

    @Test("the retained status document is kept: outbox depth, oldest pending interval, state")
    func statusDocument() async throws {
        let harness = try await HeadEndHarness()
        let device = try await harness.device()
        let document = #"{"v":1,"device":"gw-0001","state":"online","since":"2026-11-21T10:00:00Z","agent":"0.1.0","lastSequence":42,"pending":7,"oldestUnacknowledgedInterval":"2026-11-20T18:00:00Z"}"#
        _ = try await device.client.publish(topic: "concentrator/v1/gw-0001/status", payload: Array(document.utf8), retain: true)
        // Started afterwards: the retained document arrives on subscription.
        let service = try await harness.startService(group: "headends")
        #expect(await eventually(timeout: .seconds(10)) { service.ingestCounts.statusDocuments == 1 })
        let database = try HeadEndDatabase.openForReading(path: harness.databasePath)
        let reported = try #require(try database.statusReports().first?.reported)
        database.close()
        #expect(reported.pending == 7)
        #expect(reported.lastSequence == 42)
        #expect(reported.state == "online")
        #expect(reported.oldestUnacknowledgedInterval == ISO8601.parse("2026-11-20T18:00:00Z"))
        await device.stop()
        await service.stop()
    }
}
