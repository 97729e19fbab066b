import ConcentratorCore
import Foundation
@testable import HeadEnd
import KeyFiles
import MQTT
import Platform
import Testing
import TestSupport
import Wire

/// Issue 13's bad-input acceptance, on both stores: garbage on every subscribed topic, a 10 MB
/// payload and a well-formed batch of a device nobody registered, published by a stranger over a
/// real mosquitto to a running head-end worker. Each is refused with a reason (logged with it, and
/// counted by reason in the worker's counters and its ingest observer, which feeds /metrics), nothing
/// is stored, and the worker lives: a good batch sent afterwards is stored and acknowledged.
@Suite("Head-end bad input", .serialized, .timeLimit(.minutes(2)))
struct HeadEndBadInputTests {
    @Test("garbage on every topic, 10 MB, an unknown device: refused with a reason, counted; the worker lives", arguments: StoreKind.allCases)
    func badInput(kind: StoreKind) async throws {
        let fresh = try await FreshStore(kind)
        try fresh.registerDevice()
        let harness = try await HeadEndHarness(registerDevice: false)
        var configuration = harness.configuration()
        switch fresh.location {
        case .sqlite(let path): configuration.databasePath = path
        case .postgres(let url): configuration.databasePath = url
        }
        let keys = try HeadEndPrivateKeys.load(sealingKeyFiles: configuration.sealingKeyFiles, ackKeyFile: configuration.ackKeyFile)
        let service = try HeadEndService(configuration: configuration, keys: keys, logger: harness.log.logger("headend"))
        let observed = Locked<[IngestOutcome]>([])
        service.observe(HeadEndService.IngestObserver(outcome: { outcome in observed.withLock { $0.append(outcome) } }, ackDelivered: { _ in }))
        try await service.start()
        #expect(await eventually(timeout: .seconds(10)) { service.isSubscribed })

        let stranger = try await TestDevice(id: "stranger", port: harness.broker.port, logger: harness.log.logger("stranger"))
        let garbage = Array("this is not a batch".utf8)
        for leaf in ["batch", "event", "status", "enrol"] { try await stranger.publish(garbage, leaf: leaf, topicDevice: Keys.deviceID) }
        var state: UInt64 = 13
        let big = (0..<(10 << 20)).map { _ -> UInt8 in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        try await stranger.publish(big, topicDevice: Keys.deviceID)
        try await stranger.publish(Content.batch(1, sealer: Keys.sealer(device: "gw-0009")).bytes, topicDevice: "gw-0009")
        #expect(await eventually(timeout: .seconds(30)) { service.counters.snapshot.messages >= 6 }, "\(service.counters.snapshot)")

        // The worker lives: the registered device's batch is stored and acknowledged.
        let device = try await harness.device()
        let good = Content.batch(1)
        try await device.publish(good.bytes)
        let ack = try #require(await device.waitForAck(1, timeout: .seconds(20)))
        #expect(ack.status == .accepted && ack.batchDigest == good.digest)

        let counts = service.counters.snapshot
        #expect(counts.rejectedByReason["malformed", default: 0] + counts.rejectedByReason["unsupportedVersion", default: 0] >= 3,
                "garbage on batch and event, and the 10 MB payload: \(counts.rejectedByReason)")
        #expect(counts.rejectedByReason["malformedStatus"] == 1, "\(counts.rejectedByReason)")
        #expect(counts.rejectedByReason["unknownDevice"] == 1, "\(counts.rejectedByReason)")
        #expect(counts.ignored == 1, "the garbage enrolment request is refused (logged) and counted as ignored")
        #expect(counts.rejected == 5 && counts.stored == 1, "\(counts)")
        let outcomes = observed.value
        #expect(outcomes.count == counts.messages, "the observer (/metrics) saw every outcome")
        #expect(outcomes.filter { if case .rejected = $0.result { true } else { false } }.count == 5)
        #expect(!harness.log.lines(containing: "reason=unknownDevice").isEmpty, "\(harness.log.lines)")
        #expect(!harness.log.lines(containing: "reason=malformed").isEmpty)
        #expect(!harness.log.lines(containing: "enrolment request refused").isEmpty)
        // Nothing of the refused messages was stored: one batch, no rejection row for the unknown device.
        #expect(try fresh.store.fleetOverview().map(\.device) == [Keys.deviceID])
        #expect(try fresh.store.fleetOverview().first?.batches == 1)

        await stranger.stop()
        await device.stop()
        await service.stop()
    }
}
