import ConcentratorCore
import Foundation
@testable import HeadEnd
import Testing
import TestSupport
import Wire

/// The ingest path without a broker: `IngestProcessor` on a database, then export and status.
@Suite("Head-end storage, export and status")
struct HeadEndStorageTests {
    final class Setup {
        let directory = TemporaryDirectory("headend-store")
        let log = CapturedLog()
        let database: HeadEndDatabase
        let processor: IngestProcessor

        init(sealingKeys: [AgreementPrivateKey] = [Keys.sealing]) throws {
            database = try HeadEndDatabase.open(path: directory.file("headend.sqlite"))
            try database.registerDevice(Keys.deviceID, keys: Keys.deviceDocuments, at: Content.firstHour)
            processor = try IngestProcessor(database: database, keys: HeadEndPrivateKeys(sealingKeys: sealingKeys, ackKey: Keys.ack),
                                            topicPrefix: "concentrator/v1", logger: log.logger("headend"))
        }

        @discardableResult
        func ingest(_ batch: SealedBatch, leaf: String = "batch") -> IngestOutcome {
            processor.process(topic: "concentrator/v1/\(batch.header.deviceID)/\(leaf)", payload: batch.bytes,
                              now: Content.firstHour.adding(seconds: 86_400))
        }

        func export(_ format: ExportFormat, meter: MeterID? = nil) throws -> String {
            var bytes: [UInt8] = []
            _ = try database.export(HeadEndExportRequest(device: Keys.deviceID, from: Content.intervalStart(0),
                                                         to: Content.intervalStart(100), meter: meter, format: format)) { bytes += $0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    static let stored: [UInt64] = [1, 2, 3, 5, 6, 9]

    /// What was sealed, in export order (interval, then meter name).
    static var sealedSnapshots: [MeterSnapshot] {
        stored.flatMap { Content.snapshots($0).sorted { $0.meter < $1.meter } }
    }

    @Test("stored batches export as CSV with exactly the sealed values, qualities and units")
    func csvExport() throws {
        let setup = try Setup()
        for sequence in Self.stored { #expect(setup.ingest(Content.batch(sequence)).result == .stored(snapshots: 4, values: 16, events: 0)) }
        let lines = try setup.export(.csv).split(separator: "\n").map(String.init)
        #expect(lines.first == "interval_start,device,meter,quantity,value,unit,quality")
        var expected: [(MeterSnapshot, QuantityValue)] = []
        for snapshot in Self.sealedSnapshots { for value in snapshot.values { expected.append((snapshot, value)) } }
        try #require(lines.count == expected.count + 1)
        for (line, (snapshot, value)) in zip(lines.dropFirst(), expected) {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            try #require(fields.count == 7, "\(line)")
            #expect(ISO8601.parse(fields[0]) == snapshot.intervalStart)
            #expect(fields[1] == Keys.deviceID && fields[2] == snapshot.meter.rawValue && fields[3] == value.quantity.rawValue)
            #expect(fields[5] == QuantityCatalog.definition(of: value.quantity)?.unit.rawValue)
            if let number = value.value {
                #expect(Double(fields[4])?.bitPattern == number.bitPattern, "\(line)")
                #expect(fields[6] == (snapshot.clockUnsynced ? "clock_unsynced" : "ok"))
            } else {
                #expect(fields[4].isEmpty)
                #expect(fields[6].hasPrefix("error:\(value.error!.rawValue) "))
            }
        }
        let oneMeter = try setup.export(.csv, meter: "m-2").split(separator: "\n")
        #expect(oneMeter.count == 1 + Self.stored.count * 4)
        #expect(oneMeter.dropFirst().allSatisfy { $0.contains(",gw-0001,m-2,") })
    }

    @Test("stored batches export as JSON snapshots equal to the sealed ones, times included")
    func jsonExport() throws {
        let setup = try Setup()
        for sequence in Self.stored { setup.ingest(Content.batch(sequence)) }
        let items = try #require(try JSONParser.parse(setup.export(.json)).arrayValue)
        let sealed = Self.sealedSnapshots
        try #require(items.count == sealed.count)
        for (item, snapshot) in zip(items, sealed) {
            #expect(item["device"]?.stringValue == Keys.deviceID)
            #expect(item["meter"]?.stringValue == snapshot.meter.rawValue)
            #expect(item["interval_start"]?.stringValue.flatMap(ISO8601.parse) == snapshot.intervalStart)
            #expect(item["gateway_time"]?.stringValue.flatMap(ISO8601.parse) == snapshot.gatewayTime)
            #expect(item["meter_time"]?.stringValue.flatMap(ISO8601.parse) == snapshot.meterTime)
            #expect(item["clock_unsynced"]?.boolValue == snapshot.clockUnsynced)
            let values = try #require(item["values"]?.arrayValue)
            #expect(values.count == snapshot.values.count)
            for (v, q) in zip(values, snapshot.values) {
                #expect(v["quantity"]?.stringValue == q.quantity.rawValue)
                if let number = q.value {
                    #expect(v["value"]?.doubleValue?.bitPattern == number.bitPattern)
                } else {
                    #expect(v["error"]?.intValue == Int(q.error!.rawValue))
                }
            }
        }
    }

    @Test("status shows the last sequence, the gaps in sequences, stored counts and rejections")
    func statusGaps() throws {
        let setup = try Setup()
        for sequence in Self.stored { setup.ingest(Content.batch(sequence)) }
        setup.ingest(try Keys.sealer().seal(.events(Content.events(10)), sequence: 10), leaf: "event")
        var tampered = Content.batch(11).bytes
        tampered[tampered.count - 1] ^= 1
        _ = setup.processor.process(topic: "concentrator/v1/gw-0001/batch", payload: tampered, now: Content.firstHour)
        let report = try #require(try setup.database.statusReports().first)
        #expect(report.device == Keys.deviceID && report.registered)
        #expect(report.lastSequence == 10)
        #expect(report.batches == 7)
        #expect(report.values == Self.stored.count * 16)
        #expect(report.events == 2)
        #expect(report.missingSequences == 3)
        #expect(report.gaps == [4...4, 7...8])
        #expect(report.rejections == ["badSignature": 1])
        #expect(report.lastSeen == Content.firstHour.adding(seconds: 86_400))
        let table = DeviceStatusRendering.table([report], now: Content.firstHour.adding(seconds: 86_460))
        #expect(table.contains("3 missing: 4,7-8"))
        #expect(table.contains("gw-0001"))
        let json = try JSONParser.parse(DeviceStatusRendering.json([report]))
        let device = try #require(json["devices"]?.arrayValue?.first)
        #expect(device["missingSequences"]?.intValue == 3)
        #expect(device["gaps"]?.arrayValue?.map { $0.arrayValue?.compactMap(\.intValue) ?? [] } == [[4, 4], [7, 8]])
    }

    @Test("after a sealing key rotation, batches sealed to the old and the new key both open")
    func sealingKeyRotation() throws {
        let newKey = try AgreementPrivateKey(rawRepresentation: Keys.bytes(from: 0x60))
        let setup = try Setup(sealingKeys: [newKey, Keys.sealing])
        let old = Content.batch(1)
        let new = try BatchSealer(deviceID: Keys.deviceID, signingKey: Keys.deviceSigning, headEndSealingKey: newKey.publicKey)
            .seal(.snapshots(.interval, interval: IntervalSchedule(minutes: 60), Content.snapshots(2)), sequence: 2)
        #expect(setup.ingest(old).result == .stored(snapshots: 4, values: 16, events: 0))
        #expect(setup.ingest(new).result == .stored(snapshots: 4, values: 16, events: 0))
        let retired = try Setup(sealingKeys: [newKey])
        let outcome = retired.ingest(old)
        #expect(outcome.result == .rejected(.opening(.unknownSealingKey(Keys.sealing.id))))
        #expect(outcome.ack?.status == .rejected(reasonCode: BatchRejectionReason.unknownSealingKey.rawValue))
    }

    @Test("a snapshot already delivered by an earlier batch is kept once; the first delivery wins")
    func overlappingSnapshots() throws {
        let setup = try Setup()
        setup.ingest(Content.batch(1))
        var changed = Content.snapshots(1)
        changed[0].values[0] = QuantityValue(quantity: "voltage_l1", value: 1)
        let overlap = try Keys.sealer().seal(.snapshots(.interval, interval: IntervalSchedule(minutes: 60), changed), sequence: 2)
        #expect(setup.ingest(overlap).result == .stored(snapshots: 4, values: 16, events: 0))
        #expect(try setup.database.rowCount("snapshots", where: "1") == 4)
        #expect(setup.log.lines(containing: "notice", "4 snapshots were already stored").count == 1)
        #expect(try setup.export(.csv).contains(",m-1,voltage_l1,\(Double(Float(229.8))),"))
    }

    @Test("the ack follows the durable outcome: accepted, then duplicate, each signed for the batch's digest")
    func acksFromProcessor() throws {
        let setup = try Setup()
        let batch = Content.batch(7)
        let first = setup.ingest(batch), second = setup.ingest(batch)
        let ackBytes = try #require(first.ack?.payload)
        let ack = try BatchAck.verify(ackBytes, deviceID: Keys.deviceID, trustedKeys: [Keys.ack.publicKey])
        #expect(ack.status == .accepted && ack.sequence == 7 && ack.batchDigest == batch.digest)
        #expect(first.ack?.topic == "concentrator/v1/gw-0001/ack")
        #expect(try BatchAck.verify(#require(second.ack?.payload), deviceID: Keys.deviceID, trustedKeys: [Keys.ack.publicKey]).status == .duplicate)
        #expect(second.result == .duplicate)
    }
}
