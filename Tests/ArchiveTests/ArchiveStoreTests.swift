@testable import Archive
import ConcentratorCore
import Foundation
import Platform
import SQLite
import Testing
import TestSupport

@Suite struct ArchiveStoreTests {
    @Test func opensWithWALFullSyncSchemaAndATightFileMode() throws {
        let dir = TemporaryDirectory("archive")
        let (store, report) = try openStore(dir)
        defer { store.close() }
        #expect(report.schemaVersion == ArchiveMigrations.latestVersion)
        #expect(report.migrationsApplied == ArchiveMigrations.all.map(\.version))
        #expect(report.corruptFileMovedTo == nil)
        #expect(FileSystem.mode(store.path) == 0o600)
        #expect(FileSystem.mode(dir.path + "/state") == 0o700)
        let c = try SQLiteConnection(path: store.path, mode: .readOnly)
        #expect(try c.queryText("PRAGMA journal_mode") == "wal")
        #expect(try c.queryInt64("PRAGMA user_version") == Int64(ArchiveMigrations.latestVersion))
        // synchronous is per connection: ask the writer's own connection.
        let sync = try store.performBlocking(ArchiveWrite("read synchronous") { try $0.connection.queryInt64("PRAGMA synchronous") })
        #expect(sync == 2) // FULL
    }

    @Test func reopeningAppliesNoMigrationAndKeepsData() throws {
        let dir = TemporaryDirectory("archive")
        do {
            let (store, _) = try openStore(dir)
            _ = try store.performBlocking(.commit([testSnapshot(meter: 1, hour: 0)], source: "bus1"))
            store.close()
        }
        let (store, report) = try openStore(dir)
        defer { store.close() }
        #expect(report.migrationsApplied.isEmpty)
        #expect(try store.reader.snapshots(intervalStart: testOrigin) == [testSnapshot(meter: 1, hour: 0)])
    }

    @Test func aStandaloneReaderReadsAClosedArchive() throws {
        let dir = TemporaryDirectory("archive")
        let (store, _) = try openStore(dir)
        _ = try store.performBlocking(.commit([testSnapshot(meter: 1, hour: 0)], source: "bus1"))
        store.close()
        // The last connection's close folded and removed the log; a read-only reader still opens it.
        let reader = try ArchiveReader(path: store.path)
        #expect(try reader.snapshots(meter: "m1", from: testOrigin, to: testOrigin.adding(seconds: 60))
            == [testSnapshot(meter: 1, hour: 0)])
        reader.close()
    }

    @Test func refusesAnArchiveFromANewerSchema() throws {
        let dir = TemporaryDirectory("archive")
        try FileManager.default.createDirectory(atPath: dir.path + "/state", withIntermediateDirectories: true)
        let c = try SQLiteConnection(path: dir.path + "/state/archive.sqlite", mode: .readWrite(create: true))
        try c.execute("PRAGMA user_version = 99")
        c.close()
        let log = CapturedLog()
        let error = #expect(throws: ArchiveError.self) { try openStore(dir, log: log) }
        guard case .schemaTooNew(let found, let supported, _) = error else {
            Issue.record("expected schemaTooNew, got \(String(describing: error))")
            return
        }
        #expect(found == 99 && supported == ArchiveMigrations.latestVersion)
        #expect(log.errors.count == 1)
        #expect(FileManager.default.fileExists(atPath: dir.path + "/state/archive.sqlite"), "never moved or deleted")
    }

    @Test func commitsAndReadsBackEveryFieldExactly() async throws {
        let dir = TemporaryDirectory("archive")
        let (store, _) = try openStore(dir)
        let start = testOrigin
        let snapshot = MeterSnapshot(
            meter: "m-7", intervalStart: start, gatewayTime: start.adding(milliseconds: -250),
            meterTime: start.adding(milliseconds: 3_000_123), clockUnsynced: true,
            values: [QuantityValue(quantity: "voltage_l1", value: 231.7), QuantityValue(quantity: "current_l1", error: .modbusException(2)),
                     QuantityValue(quantity: "frequency", value: Double(Float(49.98))), QuantityValue(quantity: "active_energy_import", value: 12_345_678.91),
                     QuantityValue(quantity: "active_power_total", value: -1234.5), QuantityValue(quantity: "power_factor_total", value: .nan)])
        let result = try await store.perform(.commit([snapshot], source: "bus1"))
        #expect(result == ArchiveCommitResult(stored: 1, duplicates: [], rejected: []))
        let back = try await store.read { try $0.snapshots(intervalStart: start) }
        #expect(back.count == 1)
        let got = try #require(back.first)
        #expect(got.meter == snapshot.meter && got.intervalStart == start && got.gatewayTime == snapshot.gatewayTime)
        #expect(got.meterTime == snapshot.meterTime && got.clockUnsynced)
        #expect(got.values.map(\.quantity) == snapshot.values.map(\.quantity))
        #expect(got.values.map { $0.value?.bitPattern } == snapshot.values.map { $0.value?.bitPattern })
        #expect(got.values.map(\.error) == snapshot.values.map(\.error))
        await store.close()
    }

    @Test func aDuplicateCommitKeepsTheFirstVersion() throws {
        let dir = TemporaryDirectory("archive")
        let (store, _) = try openStore(dir)
        defer { store.close() }
        let first = testSnapshot(meter: 1, hour: 0)
        var second = first
        second.values[0].value = 999
        let a = try store.performBlocking(.commit([first, testSnapshot(meter: 2, hour: 0)], source: "bus1"))
        let b = try store.performBlocking(.commit([second, testSnapshot(meter: 3, hour: 0)], source: "bus1"))
        #expect(a == ArchiveCommitResult(stored: 2, duplicates: [], rejected: []))
        #expect(b == ArchiveCommitResult(stored: 1, duplicates: ["m1"], rejected: []))
        let rows = try store.reader.snapshots(intervalStart: testOrigin)
        #expect(rows.map(\.meter) == ["m1", "m2", "m3"])
        #expect(rows[0] == first)
        let c = try SQLiteConnection(path: store.path, mode: .readOnly)
        #expect(try c.queryInt64("SELECT count(*) FROM readings") == 3)
    }

    @Test func queriesByMeterRangeAndByIntervalKeepSeriesApart() throws {
        let dir = TemporaryDirectory("archive")
        let (store, _) = try openStore(dir)
        defer { store.close() }
        for hour in 0..<48 {
            _ = try store.performBlocking(.commit((0..<5).map { testSnapshot(meter: $0, hour: hour) }, source: "bus1"))
        }
        // A 15-minute profile for meter 3 only, on its own series.
        var profile: [MeterSnapshot] = []
        for quarter in 0..<(48 * 4) {
            let start = testOrigin.adding(seconds: Int64(quarter) * 900)
            profile.append(MeterSnapshot(meter: "m3", intervalStart: start, gatewayTime: start,
                                         values: [QuantityValue(quantity: "active_power_total", value: Double(quarter))]))
        }
        _ = try store.performBlocking(.commit(profile, series: .profile, source: "bus1"))

        let from = testOrigin.adding(seconds: hours(10))
        let to = testOrigin.adding(seconds: hours(20))
        let m2 = try store.reader.snapshots(meter: "m2", from: from, to: to)
        #expect(m2 == (10..<20).map { testSnapshot(meter: 2, hour: $0) })
        let m3profile = try store.reader.snapshots(meter: "m3", from: from, to: to, series: .profile)
        #expect(m3profile.map(\.intervalStart) == (40..<80).map { testOrigin.adding(seconds: Int64($0) * 900) })
        #expect(m3profile.map { $0.values[0].value } == (40..<80).map { Double($0) })
        #expect(try store.reader.snapshots(meter: "m2", from: from, to: to, series: .profile).isEmpty)
        #expect(try store.reader.snapshots(meter: "nobody", from: from, to: to).isEmpty)

        let interval = try store.reader.snapshots(intervalStart: testOrigin.adding(seconds: hours(7)))
        #expect(interval == (0..<5).map { testSnapshot(meter: $0, hour: 7) })
        #expect(try store.reader.snapshots(intervalStart: testOrigin.adding(seconds: hours(7)), series: .profile).map(\.meter) == ["m3"])
        #expect(try store.reader.snapshotCount(from: from, to: to) == 50)
        #expect(try store.reader.storedRange() == testOrigin...testOrigin.adding(seconds: hours(47)))
        #expect(try store.reader.meters() == ["m0", "m1", "m2", "m3", "m4"])
    }

    @Test func streamingCrossesBatchBoundaries() throws {
        let dir = TemporaryDirectory("archive")
        let (store, _) = try openStore(dir)
        defer { store.close() }
        // 3 meters × 400 hours = 1200 rows: more than two reader batches of 512.
        for hour in 0..<400 {
            _ = try store.performBlocking(.commit((0..<3).map { testSnapshot(meter: $0, hour: hour) }, source: "bus1"))
        }
        var seen: [MeterSnapshot] = []
        try store.reader.forEachSnapshot(from: testOrigin, to: testOrigin.adding(seconds: hours(400))) { seen.append($0) }
        #expect(seen.count == 1200)
        #expect(seen == (0..<400).flatMap { hour in (0..<3).map { testSnapshot(meter: $0, hour: hour) } })
        let one = try store.reader.snapshots(meter: "m1", from: testOrigin, to: testOrigin.adding(seconds: hours(400)))
        #expect(one == (0..<400).map { testSnapshot(meter: 1, hour: $0) })
    }

    @Test func aSnapshotThatCannotBeStoredIsRejectedAloneWithOneLine() throws {
        let dir = TemporaryDirectory("archive")
        let log = CapturedLog()
        let (store, _) = try openStore(dir, log: log)
        defer { store.close() }
        var bad = testSnapshot(meter: 1, hour: 0)
        bad.intervalStart = bad.intervalStart.adding(milliseconds: 30_000)
        let result = try store.performBlocking(.commit([testSnapshot(meter: 2, hour: 0), bad, testSnapshot(meter: 3, hour: 0)],
                                                       source: "bus1"))
        #expect(result.stored == 2)
        #expect(result.rejected.map(\.meter) == ["m1"])
        #expect(result.rejected.first?.reason.contains("not a whole minute") == true)
        #expect(log.errors.count == 1)
        #expect(log.errors.first?.contains("m1") == true && log.errors.first?.contains("bus1") == true)
        #expect(try store.reader.snapshots(intervalStart: testOrigin).map(\.meter) == ["m2", "m3"])
    }

    @Test func aClosedStoreRefusesWork() throws {
        let dir = TemporaryDirectory("archive")
        let (store, _) = try openStore(dir)
        store.close()
        #expect(throws: ArchiveError.self) { try store.performBlocking(.nextCounterValue("x")) }
    }
}
