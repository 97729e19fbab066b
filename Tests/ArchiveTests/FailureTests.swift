@testable import Archive
import ConcentratorCore
import Foundation
import Platform
import SQLite
import Testing
import TestSupport

/// Bad conditions give one clear log line naming what to check, lose nothing acknowledged, and leave
/// the archive working for the next write and for the other buses.
@Suite struct FailureTests {
    @Test func aLockHeldByAnotherProcessFailsOneCommitWithOneLineThenRecovers() throws {
        let dir = TemporaryDirectory("archive")
        let log = CapturedLog()
        let (store, _) = try openStore(dir, options: ArchiveOptions(busyTimeout: .milliseconds(150)), log: log)
        defer { store.close() }
        _ = try store.performBlocking(.commit([testSnapshot(meter: 1, hour: 0)], source: "bus1"))

        let other = try SQLiteConnection(path: store.path, mode: .readWrite(create: false))
        try other.execute("BEGIN IMMEDIATE")
        let error = #expect(throws: ArchiveError.self) {
            try store.performBlocking(.commit([testSnapshot(meter: 1, hour: 1)], source: "bus2"))
        }
        #expect(error?.sqliteError?.kind == .locked)
        #expect(log.errors.count == 1)
        let line = try #require(log.errors.first)
        #expect(line.contains("bus2") && line.contains("another process holds the archive") && line.contains(store.path))
        // Readers are not blocked by a writer in WAL mode.
        #expect(try store.reader.snapshots(intervalStart: testOrigin).count == 1)

        try other.execute("ROLLBACK")
        other.close()
        let retry = try store.performBlocking(.commit([testSnapshot(meter: 1, hour: 1)], source: "bus2"))
        #expect(retry.stored == 1)
    }

    @Test func aFullArchiveFailsWithDiskFullStoresNothingPartialAndRecoversAfterPruning() throws {
        let dir = TemporaryDirectory("archive")
        let log = CapturedLog()
        let options = ArchiveOptions(maximumSizeBytes: 160 * 1024)
        let (store, _) = try openStore(dir, options: options, log: log)
        defer { store.close() }
        var hour = 0
        var failure: ArchiveError?
        while hour < 2000 {
            do {
                _ = try store.performBlocking(.commit((0..<16).map { testSnapshot(meter: $0, hour: hour) }, source: "bus1"))
                hour += 1
            } catch {
                failure = error
                break
            }
        }
        let e = try #require(failure)
        #expect(e.sqliteError?.kind == .diskFull)
        #expect(e.description.contains("free space on \(dir.path)/state"))
        #expect(log.errors.count == 1)
        // The failed interval is absent as a whole; the ones before are complete.
        #expect(try store.reader.snapshots(intervalStart: testOrigin.adding(seconds: hours(hour))).isEmpty)
        #expect(try store.reader.snapshots(intervalStart: testOrigin.adding(seconds: hours(hour - 1))).count == 16)

        let pruned = try store.pruneBlocking(now: testOrigin.adding(seconds: hours(hour / 2) + 86_400), retentionDays: 1)
        #expect(pruned.snapshotsRemoved > 0)
        let retry = try store.performBlocking(.commit((0..<16).map { testSnapshot(meter: $0, hour: hour) }, source: "bus1"))
        #expect(retry.stored == 16)
    }

    @Test func oneBusFailingDoesNotStopAnother() throws {
        let dir = TemporaryDirectory("archive")
        let log = CapturedLog()
        let (store, _) = try openStore(dir, log: log)
        defer { store.close() }
        let done = DispatchGroup()
        let rejected = LockedCounter()
        for bus in 0..<2 {
            done.enter()
            DedicatedThread.start(name: "bus\(bus)") {
                for hour in 0..<30 {
                    var snapshot = testSnapshot(meter: bus, hour: hour)
                    // Bus 0 sends an interval start that is not on a minute every time.
                    if bus == 0 { snapshot.intervalStart = snapshot.intervalStart.adding(milliseconds: 1) }
                    let result = try? store.performBlocking(.commit([snapshot], source: "bus\(bus)"))
                    if result?.rejected.count == 1 { rejected.increment() }
                }
                done.leave()
            }
        }
        #expect(done.wait(timeout: .now() + 30) == .success)
        #expect(rejected.value == 30)
        #expect(log.errors.count == 30)
        let bus1 = try store.reader.snapshots(meter: "m1", from: testOrigin, to: testOrigin.adding(seconds: hours(30)))
        #expect(bus1 == (0..<30).map { testSnapshot(meter: 1, hour: $0) })
    }
}

final class LockedCounter: Sendable {
    private let count = Locked(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.value }
}
