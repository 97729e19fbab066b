@testable import Archive
import ConcentratorCore
import Foundation
import Platform
import Testing
import TestSupport

@Suite struct ExportTests {
    /// Two meters at 2026-03-01T00:00Z: values, an error, a meter name that needs CSV quoting.
    func filledStore(_ dir: TemporaryDirectory) throws -> ArchiveStore {
        let (store, _) = try openStore(dir)
        let t = testOrigin
        let a = MeterSnapshot(meter: "m1", intervalStart: t, gatewayTime: t.adding(milliseconds: 1500),
                              values: [QuantityValue(quantity: "voltage_l1", value: 230.5),
                                       QuantityValue(quantity: "current_l1", error: .noResponse),
                                       QuantityValue(quantity: "active_energy_import", value: 1234.25)])
        let b = MeterSnapshot(meter: "m,\"2\"", intervalStart: t, gatewayTime: t, meterTime: t.adding(seconds: 2),
                              clockUnsynced: true, values: [QuantityValue(quantity: "voltage_l1", value: 231)])
        let c = MeterSnapshot(meter: "m1", intervalStart: t.adding(seconds: 3600), gatewayTime: t.adding(seconds: 3600),
                              values: [QuantityValue(quantity: "voltage_l1", value: 229.75)])
        _ = try store.performBlocking(.commit([a, b], source: "bus1"))
        _ = try store.performBlocking(.commit([c], source: "bus1"))
        return store
    }

    func export(_ store: ArchiveStore, _ request: ExportRequest) throws -> (String, ExportSummary) {
        var bytes: [UInt8] = []
        let summary = try ArchiveExporter(reader: store.reader).export(request, to: { bytes += $0 })
        return (String(decoding: bytes, as: UTF8.self), summary)
    }

    @Test func csvHasOneLinePerValueWithUnitsAndQuality() throws {
        let dir = TemporaryDirectory("export")
        let store = try filledStore(dir)
        defer { store.close() }
        let (text, summary) = try export(store, ExportRequest(from: testOrigin, to: testOrigin.adding(seconds: 7200), format: .csv))
        let expected = #"""
            interval_start,meter,quantity,value,unit,quality
            2026-03-01T00:00:00Z,m1,voltage_l1,230.5,V,ok
            2026-03-01T00:00:00Z,m1,current_l1,,A,error:1 no response
            2026-03-01T00:00:00Z,m1,active_energy_import,1234.25,kWh,ok
            2026-03-01T00:00:00Z,"m,""2""",voltage_l1,231.0,V,clock_unsynced
            2026-03-01T01:00:00Z,m1,voltage_l1,229.75,V,ok

            """#
        #expect(text == expected)
        #expect(summary == ExportSummary(snapshots: 3, values: 5, bytes: text.utf8.count))
    }

    @Test func csvForOneMeterAndRange() throws {
        let dir = TemporaryDirectory("export")
        let store = try filledStore(dir)
        defer { store.close() }
        let (text, _) = try export(store, ExportRequest(from: testOrigin.adding(seconds: 1), to: testOrigin.adding(seconds: 7200),
                                                        meter: "m1", format: .csv))
        #expect(text == """
            interval_start,meter,quantity,value,unit,quality
            2026-03-01T01:00:00Z,m1,voltage_l1,229.75,V,ok

            """)
    }

    @Test func jsonIsAValidArrayOfSnapshots() throws {
        let dir = TemporaryDirectory("export")
        let store = try filledStore(dir)
        defer { store.close() }
        let (text, summary) = try export(store, ExportRequest(from: testOrigin, to: testOrigin.adding(seconds: 7200), format: .json))
        let array = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
        #expect(array.count == 3 && summary.snapshots == 3)
        #expect(array[0]["interval_start"] as? String == "2026-03-01T00:00:00Z")
        #expect(array[0]["gateway_time"] as? String == "2026-03-01T00:00:01.500Z")
        #expect(array[0]["meter_time"] == nil)
        let values = try #require(array[0]["values"] as? [[String: Any]])
        #expect(values[0]["quantity"] as? String == "voltage_l1" && values[0]["value"] as? Double == 230.5 && values[0]["unit"] as? String == "V")
        #expect(values[1]["error"] as? Int == 1 && values[1]["error_text"] as? String == "no response" && values[1]["value"] == nil)
        #expect(array[1]["meter"] as? String == "m,\"2\"")
        #expect(array[1]["meter_time"] as? String == "2026-03-01T00:00:02Z")
        #expect(array[1]["clock_unsynced"] as? Bool == true)

        let (empty, _) = try export(store, ExportRequest(from: testOrigin.adding(seconds: 86_400), to: testOrigin.adding(seconds: 90_000),
                                                         format: .json))
        #expect(try JSONSerialization.jsonObject(with: Data(empty.utf8)) as? [Any] != nil)
    }

    @Test func reportsProgressAndWritesToAFileDescriptor() throws {
        let dir = TemporaryDirectory("export")
        let (store, _) = try openStore(dir)
        defer { store.close() }
        for hour in 0..<50 {
            _ = try store.performBlocking(.commit((0..<4).map { testSnapshot(meter: $0, hour: hour) }, source: "bus1"))
        }
        let path = dir.file("out.csv")
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        #expect(fd >= 0)
        var exporter = ArchiveExporter(reader: store.reader)
        exporter.progressInterval = 40
        let seen = ProgressLog()
        let summary = try exporter.export(ExportRequest(from: testOrigin, to: testOrigin.adding(seconds: hours(50)), format: .csv),
                                          toFileDescriptor: fd) { seen.append($0) }
        close(fd)
        #expect(summary.snapshots == 200 && summary.values == 600)
        #expect(seen.items.map(\.snapshotsDone) == [40, 80, 120, 160, 200, 200])
        #expect(seen.items.allSatisfy { $0.snapshotsEstimated == 200 })
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.split(separator: "\n").count == 601)
        #expect(text.utf8.count == summary.bytes)
    }
}

final class ProgressLog: Sendable {
    private let storage = Locked<[ExportProgress]>([])
    func append(_ p: ExportProgress) { storage.withLock { $0.append(p) } }
    var items: [ExportProgress] { storage.value }
}
