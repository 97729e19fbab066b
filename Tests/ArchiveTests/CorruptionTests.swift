@testable import Archive
import ConcentratorCore
import Foundation
import Platform
import SQLite
import Testing
import TestSupport

@Suite struct CorruptionTests {
    @Test func aFileThatIsNotADatabaseIsMovedAsideAndReported() throws {
        let dir = TemporaryDirectory("archive")
        let state = dir.path + "/state"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let garbage = Data(repeating: 0x5A, count: 8192)
        try garbage.write(to: URL(fileURLWithPath: state + "/archive.sqlite"))
        try Data("not a log".utf8).write(to: URL(fileURLWithPath: state + "/archive.sqlite-wal"))
        let log = CapturedLog()
        // 2026-03-01T12:34:56Z
        let (store, report) = try openStore(dir, log: log, clock: ManualClock(Timestamp(seconds: 1_772_368_496)))
        defer { store.close() }

        let moved = try #require(report.corruptFileMovedTo)
        #expect(moved == state + "/archive.sqlite.corrupt-20260301T123456Z")
        #expect(FileManager.default.contents(atPath: moved) == garbage, "the damaged file is kept, byte for byte")
        #expect(FileManager.default.contents(atPath: moved + "-wal") == Data("not a log".utf8))
        #expect(report.corruptionDetail?.contains("SQLITE_NOTADB") == true)
        #expect(log.errors.count == 1)
        #expect(log.errors.first?.contains("moved to \(moved)") == true)
        // The fresh archive works.
        _ = try store.performBlocking(.commit([testSnapshot(meter: 1, hour: 0)], source: "bus1"))
        #expect(try store.reader.snapshots(intervalStart: testOrigin).count == 1)
    }

    @Test func aDamagedTablePageFailsQuickCheckAndIsMovedAside() throws {
        let dir = TemporaryDirectory("archive")
        let path = dir.path + "/state/archive.sqlite"
        do {
            let (store, _) = try openStore(dir)
            for hour in 0..<200 {
                _ = try store.performBlocking(.commit((0..<20).map { testSnapshot(meter: $0, hour: hour) }, source: "bus1"))
            }
            store.close()
        }
        // Fold the log into the file, then scribble over the middle of one b-tree page.
        let c = try SQLiteConnection(path: path, mode: .readWrite(create: false))
        c.setBusyTimeout(milliseconds: 5000)
        try c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        let pages = try #require(try c.queryInt64("PRAGMA page_count"))
        c.close()
        #expect(pages > 20)
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        try handle.seek(toOffset: UInt64(pages / 2) * 4096)
        handle.write(Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }))
        try handle.close()

        let log = CapturedLog()
        let (store, report) = try openStore(dir, log: log)
        defer { store.close() }
        #expect(report.corruptFileMovedTo != nil)
        #expect(report.corruptionDetail != nil)
        #expect(log.errors.count == 1)
        #expect(try store.reader.meters().isEmpty, "a fresh archive was started")
        let kept = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/state").filter { $0.contains(".corrupt-") }
        #expect(!kept.isEmpty)
    }

    @Test func aLockedArchiveIsReportedNotMoved() throws {
        let dir = TemporaryDirectory("archive")
        let path = dir.path + "/state/archive.sqlite"
        do {
            let (store, _) = try openStore(dir)
            _ = try store.performBlocking(.commit([testSnapshot(meter: 1, hour: 0)], source: "bus1"))
            store.close()
        }
        // Another process (here: connection) takes the file exclusively.
        let other = try SQLiteConnection(path: path, mode: .readWrite(create: false))
        try other.execute("PRAGMA locking_mode = EXCLUSIVE")
        try other.execute("BEGIN EXCLUSIVE")
        defer { other.close() }

        let log = CapturedLog()
        let error = #expect(throws: ArchiveError.self) {
            try openStore(dir, options: ArchiveOptions(busyTimeout: .milliseconds(100)), log: log)
        }
        #expect(error?.sqliteError?.kind == .locked)
        #expect(error?.description.contains("another process holds the archive") == true)
        #expect(log.errors.count == 1)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/state")
        #expect(!names.contains { $0.contains(".corrupt-") }, "a locked file is never moved")
    }
}
