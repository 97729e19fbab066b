import ConcentratorCore
import Foundation
@testable import HeadEnd
import Platform
import Testing
import TestSupport
import Wire

/// One contract for both stores (`HeadEndDatabase` on SQLite, `PostgresHeadEndStore` on a real
/// PostgreSQL cluster started by the tests): every test runs against each.
@Suite("Head-end store contract", .serialized, .timeLimit(.minutes(3)))
struct HeadEndStoreContractTests {
    static let opener = BatchOpener(sealingKeys: [Keys.sealing], devices: RegisteredDevices([Keys.deviceID: [Keys.deviceSigning.publicKey]]))

    static func opened(_ batch: SealedBatch) throws -> OpenedBatch { try opener.open(batch.bytes) }

    @Test("ingest is idempotent by (device, sequence): stored, then duplicate; another digest is sequenceReused", arguments: StoreKind.allCases)
    func idempotentIngest(kind: StoreKind) async throws {
        let s = try await FreshStore(kind)
        try s.registerDevice()
        let batch = try Self.opened(Content.batch(1))
        #expect(try s.store.store(batch, receivedAt: FreshStore.now) == .stored(snapshots: 4, values: 16, events: 0, overlappingSnapshots: 0))
        #expect(try s.store.store(batch, receivedAt: FreshStore.now) == .duplicate)
        let other = try Self.opened(try Keys.sealer().seal(.snapshots(.interval, interval: IntervalSchedule(minutes: 60), Content.snapshots(50)),
                                                           sequence: 1))
        #expect(try s.store.store(other, receivedAt: FreshStore.now) == .sequenceReused)
        #expect(try s.snapshotCount() == 4)
        #expect(try s.store.fleetOverview().first?.batches == 1)
        let unknown = try BatchOpener(sealingKeys: [Keys.sealing], devices: RegisteredDevices(["gw-0009": [Keys.deviceSigning.publicKey]]))
            .open(Content.batch(1, sealer: Keys.sealer(device: "gw-0009")).bytes)
        #expect(throws: HeadEndError.self) { try s.store.store(unknown, receivedAt: FreshStore.now) }
    }

    @Test("an ack is built only after the commit: another connection sees the batch; a failed write gives no ack", arguments: StoreKind.allCases)
    func ackAfterCommit(kind: StoreKind) async throws {
        let s = try await FreshStore(kind)
        try s.registerDevice()
        let failing = FailingStore(try s.reopen())
        let processor = try s.processor(store: failing)
        let batch = Content.batch(5)
        let refused = processor.process(topic: "concentrator/v1/gw-0001/batch", payload: batch.bytes, now: FreshStore.now)
        guard case .storageFailed = refused.result else { Issue.record("expected a storage failure: \(refused.result)"); return }
        #expect(refused.ack == nil)
        failing.failing = false
        let stored = processor.process(topic: "concentrator/v1/gw-0001/batch", payload: batch.bytes, now: FreshStore.now)
        #expect(stored.result == .stored(snapshots: 4, values: 16, events: 0))
        let ack = try BatchAck.verify(try #require(stored.ack?.payload), deviceID: Keys.deviceID, trustedKeys: [Keys.ack.publicKey])
        #expect(ack.status == .accepted && ack.sequence == 5 && ack.batchDigest == batch.digest)
        // At the moment the ack exists, a separate connection (another worker, a report) sees the batch.
        let reader = try HeadEndStores.openForReading(s.location)
        defer { reader.close() }
        #expect(try reader.fleetOverview().first?.lastSequence == 5)
        #expect(try reader.snapshots(SnapshotQuery(device: Keys.deviceID, from: Content.intervalStart(0), to: Content.intervalStart(10))).count == 4)
        failing.close()
    }

    @Test("a duplicate delivery is acknowledged again as duplicate and not stored twice", arguments: StoreKind.allCases)
    func duplicateDelivery(kind: StoreKind) async throws {
        let s = try await FreshStore(kind)
        try s.registerDevice()
        let processor = try s.processor()
        let batch = Content.batch(7)
        let first = processor.process(topic: "concentrator/v1/gw-0001/batch", payload: batch.bytes, now: FreshStore.now)
        let second = processor.process(topic: "concentrator/v1/gw-0001/batch", payload: batch.bytes, now: FreshStore.now)
        #expect(first.ack?.status == .accepted)
        #expect(second.result == .duplicate)
        let ack = try BatchAck.verify(try #require(second.ack?.payload), deviceID: Keys.deviceID, trustedKeys: [Keys.ack.publicKey])
        #expect(ack.status == .duplicate && ack.batchDigest == batch.digest)
        #expect(try s.snapshotCount() == 4)
        #expect(try s.store.statusReports().first?.batches == 1)
    }

    @Test("two head-ends on one database never hand out the same or a lower command counter", arguments: StoreKind.allCases)
    func commandCounter(kind: StoreKind) async throws {
        let s = try await FreshStore(kind)
        let key = SigningPrivateKey.generate().id, other = SigningPrivateKey.generate().id
        let now = Timestamp(milliseconds: 1_795_255_200_000)
        #expect(try s.store.nextCommandCounter(keyID: key, now: now) == 1_795_255_200_000)
        #expect(try s.store.nextCommandCounter(keyID: key, now: now) == 1_795_255_200_001)
        #expect(try s.store.nextCommandCounter(keyID: other, now: now) == 1_795_255_200_000, "each key has its own counter")
        #expect(try s.store.nextCommandCounter(keyID: key, now: now.adding(seconds: -3600)) == 1_795_255_200_002, "a clock set back")
        #expect(try s.store.nextCommandCounter(keyID: key, now: now.adding(seconds: 1)) == 1_795_255_201_000)
        // Two instances (two connections, two threads) drawing at once.
        let location = s.location
        let draws = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for _ in 0..<2 {
                group.addTask {
                    try await runOnDedicatedThread {
                        let store = try HeadEndStores.open(location, now: FreshStore.now)
                        defer { store.close() }
                        var drawn: [Int64] = []
                        for _ in 0..<40 { drawn.append(try store.nextCommandCounter(keyID: key, now: now)) }
                        return drawn
                    }
                }
            }
            var all: [[Int64]] = []
            for try await d in group { all.append(d) }
            return all
        }
        for d in draws { #expect(d == d.sorted() && Set(d).count == d.count, "one instance's counters only grow") }
        let all = draws.flatMap { $0 }
        #expect(Set(all).count == 80, "no counter was handed out twice")
        #expect(all.allSatisfy { $0 > 1_795_255_201_000 })
    }

    @Test("the registry: register, add keys, revoke, unregister; the version moves with every change", arguments: StoreKind.allCases)
    func registry(kind: StoreKind) async throws {
        let s = try await FreshStore(kind)
        #expect(throws: HeadEndError.self) { try s.store.registerDevice("gw-0002", keys: Keys.deviceDocuments, at: Content.firstHour) }
        #expect(throws: HeadEndError.self) { try s.store.registerDevice("gw-0001", keys: [Keys.deviceDocuments[1]], at: Content.firstHour) }
        #expect(try s.store.devices().isEmpty)
        let version = try s.store.registryVersion()
        #expect(try s.store.registerDevice("gw-0001", keys: Keys.deviceDocuments, at: Content.firstHour).count == 2)
        #expect(try s.store.registerDevice("gw-0001", keys: Keys.deviceDocuments, at: Content.firstHour).isEmpty)
        #expect(try s.store.registryVersion() > version)
        #expect(try s.store.devices().first?.keys.map(\.id) == Keys.deviceDocuments.map(\.id))
        #expect(try s.store.signingKeys(ofDevice: "gw-0001") == [Keys.deviceSigning.publicKey])
        #expect(try s.store.revokeKey(Keys.deviceSigning.id, ofDevice: "gw-0001"))
        #expect(try !s.store.revokeKey(Keys.deviceSigning.id, ofDevice: "gw-0001"))
        #expect(try s.store.signingKeyDirectory().signingKeys(ofDevice: "gw-0001") == nil)
        #expect(try s.store.unregisterDevice("gw-0001"))
        #expect(try !s.store.unregisterDevice("gw-0001"))
        #expect(try s.store.devices().first?.registered == false)
    }

    @Test("status, gaps and the fleet list: last sequence, gaps, rejections, outbox depth, clock quality, alarms", arguments: StoreKind.allCases)
    func statusAndFleet(kind: StoreKind) async throws {
        let s = try await FreshStore(kind)
        try s.registerDevice()
        let processor = try s.processor()
        for sequence: UInt64 in [1, 2, 3, 5, 6, 9] {
            _ = processor.process(topic: "concentrator/v1/gw-0001/batch", payload: Content.batch(sequence).bytes, now: FreshStore.now)
        }
        _ = processor.process(topic: "concentrator/v1/gw-0001/event", payload: try Keys.sealer().seal(.events(Content.events(10)), sequence: 10).bytes,
                              now: FreshStore.now)
        var tampered = Content.batch(11).bytes
        tampered[tampered.count - 1] ^= 1
        _ = processor.process(topic: "concentrator/v1/gw-0001/batch", payload: tampered, now: FreshStore.now)
        let status = #"{"v":1,"device":"gw-0001","state":"online","lastSequence":12,"pending":3}"#
        _ = processor.process(topic: "concentrator/v1/gw-0001/status", payload: Array(status.utf8), now: FreshStore.now.adding(seconds: 5))
        let report = try #require(try s.store.statusReports().first)
        #expect(report.lastSequence == 10 && report.batches == 7 && report.values == 6 * 16 && report.events == 2)
        #expect(report.missingSequences == 3 && report.gaps == [4...4, 7...8])
        #expect(report.rejections == ["badSignature": 1])
        #expect(report.reported?.pending == 3 && report.lastSeen == FreshStore.now.adding(seconds: 5))
        #expect(try s.store.sequenceGaps(device: Keys.deviceID, limit: 1) == SequenceGapReport(missing: 3, gaps: [4...4]))
        let fleet = try #require(try s.store.fleetOverview().first)
        #expect(fleet.outboxDepth == 3 && fleet.alarms == 1 && fleet.missingSequences == 3)
        // The newest reading batch (9): four snapshots, one with an unsynced clock, meter 2's clock 1 s ahead less the gateway's 1.58 s.
        #expect(fleet.clock == BatchClockQuality(snapshots: 4, unsyncedSnapshots: 1, maximumMeterSkewMilliseconds: 580))
    }

    @Test("alarms (folded meter_alarm events), meter identities and the dashboard's event summary read the same from both stores",
          arguments: StoreKind.allCases)
    func alarmsAndEventSummaries(kind: StoreKind) async throws {
        let s = try await FreshStore(kind)
        try s.registerDevice()
        let processor = try s.processor()
        let t = Content.intervalStart(1)
        let events = [
            GatewayEvent(time: t.adding(seconds: 1), kind: .clockUnsynchronised, severity: .warning, message: "clock lost"),
            GatewayEvent(time: t.adding(seconds: 2), kind: .meterAlarm, severity: .error, meter: "m-1",
                         message: "alarm=raised rule=overvoltage value=260 threshold=253 occurrence=1 phase=raised"),
            GatewayEvent(time: t.adding(seconds: 3), kind: .meterIdentity, severity: .info, meter: "m-1",
                         message: #"{"pod":"IT001E00000001","serialNumber":"S1"}"#),
            GatewayEvent(time: t.adding(seconds: 4), kind: .clockSynchronised, severity: .info, message: "clock back"),
            GatewayEvent(time: t.adding(seconds: 5), kind: .meterAlarm, severity: .info, meter: "m-1",
                         message: "alarm=cleared rule=overvoltage value=250 occurrence=1 phase=cleared"),
        ]
        let outcome = processor.process(topic: "concentrator/v1/gw-0001/event", payload: try Keys.sealer().seal(.events(events), sequence: 1).bytes,
                                        now: FreshStore.now)
        #expect(outcome.ack != nil, "\(outcome.result)")
        let alarms = try s.store.alarms()
        #expect(alarms.map { "\($0.device) \($0.key)=\($0.phase.name)" } == ["gw-0001 overvoltage@m-1=cleared"])
        #expect(alarms.first?.transitions == 2 && alarms.first?.raisedAt == t.adding(seconds: 2) && alarms.first?.threshold == 253)
        #expect(try s.store.alarms(device: Keys.deviceID, until: t.adding(seconds: 3)).first?.isOpen == true)
        #expect(try s.store.alarms(device: "gw-0404").isEmpty)
        #expect(try s.store.meterIdentities(device: Keys.deviceID)["m-1"]?.pod == "IT001E00000001")
        #expect(try s.store.eventSummaries(alarmsSince: t) == [Keys.deviceID: DeviceEventSummary(alarms: 2, clockSynchronised: true)])
        #expect(try s.store.eventSummaries(alarmsSince: t.adding(seconds: 3)) == [Keys.deviceID: DeviceEventSummary(alarms: 1, clockSynchronised: true)])
    }

    @Test("meters, chart series, events and the command audit read back what was stored", arguments: StoreKind.allCases)
    func dashboardReads(kind: StoreKind) async throws {
        let s = try await FreshStore(kind)
        try s.registerDevice()
        let processor = try s.processor()
        for sequence: UInt64 in 1...3 {
            _ = processor.process(topic: "concentrator/v1/gw-0001/batch", payload: Content.batch(sequence).bytes, now: FreshStore.now)
        }
        _ = processor.process(topic: "concentrator/v1/gw-0001/event", payload: try Keys.sealer().seal(.events(Content.events(4)), sequence: 4).bytes,
                              now: FreshStore.now)
        let meters = try s.store.meters(ofDevice: Keys.deviceID)
        #expect(meters.map(\.name) == ["m-1", "m-2", "m-3", "m-4"])
        #expect(meters.first?.firstInterval == Content.intervalStart(1) && meters.first?.lastInterval == Content.intervalStart(3))
        #expect(meters.first?.quantities == ["voltage_l1", "current_l1", "active_energy_import", "active_power_total"])
        let series = try s.store.snapshots(SnapshotQuery(device: Keys.deviceID, meter: "m-2", from: Content.intervalStart(2), to: Content.intervalStart(4)))
        #expect(series == [2, 3].map { seq in Content.snapshots(seq).first { $0.meter == "m-2" }! })
        let events = try s.store.events(device: Keys.deviceID, from: Content.intervalStart(0), to: Content.intervalStart(10), limit: 10)
        #expect(events.map(\.event) == Content.events(4).reversed())
        #expect(try s.store.events(device: Keys.deviceID, from: Content.intervalStart(0), to: Content.intervalStart(10), limit: 1).count == 1)
        let key = Keys.ack.id
        let entry = HeadEndCommandRecord(device: Keys.deviceID, commandID: "c1", verb: "ping", keyID: key, counter: 42, arguments: "{}",
                                      issuedAt: FreshStore.now, expiresAt: FreshStore.now.adding(seconds: 300))
        try s.store.recordCommandSent(entry)
        try s.store.recordCommandSent(HeadEndCommandRecord(device: "gw-0002", commandID: "c2", verb: "status", keyID: key, counter: 43,
                                                        arguments: "{}", issuedAt: FreshStore.now.adding(seconds: 1),
                                                        expiresAt: FreshStore.now.adding(seconds: 301)))
        let reply = HeadEndCommandRecord.Reply(status: "ok", code: "ok", message: "pong", received: FreshStore.now.adding(seconds: 2))
        try s.store.recordCommandReply(device: Keys.deviceID, commandID: "c1", reply: reply)
        var answered = entry
        answered.reply = reply
        #expect(try s.store.commandAudit(device: Keys.deviceID, limit: 10) == [answered])
        #expect(try s.store.commandAudit(device: nil, limit: 10).map(\.commandID) == ["c2", "c1"])
        #expect(throws: HeadEndError.self) {
            try s.store.forEachSnapshot(SnapshotQuery(device: "gw-9999", from: Content.intervalStart(0), to: Content.intervalStart(1))) { _ in }
        }
    }

    @Test("the same batches export byte-identically (CSV and JSON) and report identically from SQLite and PostgreSQL")
    func exportsIdentical() async throws {
        let sqlite = try await FreshStore(.sqlite), postgres = try await FreshStore(.postgres)
        for s in [sqlite, postgres] {
            try s.registerDevice()
            let processor = try s.processor()
            for sequence: UInt64 in [1, 2, 3, 5, 8] {
                _ = processor.process(topic: "concentrator/v1/gw-0001/batch", payload: Content.batch(sequence).bytes, now: FreshStore.now)
            }
            // An overlapping batch (interval of 2 again, other values): the first delivery is kept in both.
            var changed = Content.snapshots(2)
            changed[0].values[0] = QuantityValue(quantity: "voltage_l1", value: 1)
            let overlap = try Keys.sealer().seal(.snapshots(.interval, interval: IntervalSchedule(minutes: 60), changed), sequence: 9)
            #expect(processor.process(topic: "concentrator/v1/gw-0001/batch", payload: overlap.bytes, now: FreshStore.now).ack?.status == .accepted)
            let profile = try Keys.sealer().seal(.snapshots(.profile, interval: IntervalSchedule(minutes: 15), Content.snapshots(4)), sequence: 10)
            _ = processor.process(topic: "concentrator/v1/gw-0001/batch", payload: profile.bytes, now: FreshStore.now)
        }
        for format in [ExportFormat.csv, .json] {
            let a = try sqlite.export(format), b = try postgres.export(format)
            #expect(a.count > 500)
            #expect(a == b, "\(format) exports differ")
            #expect(try sqlite.export(format, meter: "m-3") == postgres.export(format, meter: "m-3"))
            #expect(try sqlite.export(format, series: .profile) == postgres.export(format, series: .profile))
        }
        #expect(try sqlite.store.statusReports() == postgres.store.statusReports())
        #expect(try sqlite.store.fleetOverview() == postgres.store.fleetOverview())
        #expect(try sqlite.store.meters(ofDevice: Keys.deviceID) == postgres.store.meters(ofDevice: Keys.deviceID))
        #expect(String(decoding: try sqlite.export(.csv), as: UTF8.self).contains(",m-1,voltage_l1,\(Double(Float(229.8))),"))
    }
}
