import Archive
import ConcentratorCore
import Foundation
import Platform
import Testing
import TestSupport

/// Issue 17 #3: the archive keeps a reserve of disk space for the events about a full disk. On a
/// small tmpfs the test mounts (root only; skipped elsewhere, and says so).
@Suite(.serialized, .enabled(if: TemporaryFileSystem.mountingPermitted, "needs root to mount a tmpfs"))
struct StorageReserveTests {
    @Test func aFullDiskReleasesTheReserveForEssentialWritesOnlyAndMakesItAgainWhenSpaceReturns() throws {
        let dir = TemporaryDirectory("reserve")
        let disk = try TemporaryFileSystem(at: dir.file("state"), bytes: 4 << 20)
        let log = CapturedLog()
        let (store, _) = try ArchiveStore.open(directory: disk.path, options: ArchiveOptions(reserveBytes: 256 << 10),
                                               clock: ManualClock(testOrigin), logger: log.logger)
        defer { store.close() }
        #expect(store.storageReserve == .held)
        #expect(FileSystem.size(store.path + ".reserve") == 256 << 10)
        _ = try store.performBlocking(.commit((0..<8).map { testSnapshot(meter: $0, hour: 0) }, source: "bus1"))

        // The disk fills up: an ordinary write fails, the reserve stays.
        disk.fill("filler")
        var hour = 1
        var failed = false
        while hour < 200, !failed {
            do { _ = try store.performBlocking(.commit((0..<8).map { testSnapshot(meter: $0, hour: hour) }, source: "bus1")) } catch {
                #expect(error.sqliteError?.kind == .diskFull)
                failed = true
            }
            hour += 1
        }
        #expect(failed)
        #expect(store.storageReserve == .held)

        // An event about it is stored all the same (the reserve is released for it), and can be reported.
        try store.performBlocking(.recordEvent(ArchiveEvent(time: testOrigin, kind: "storage_low", message: "disk full")))
        #expect(store.storageReserve == .released)
        #expect(!FileSystem.exists(store.path + ".reserve"))
        let sequence = try store.performBlocking(.enqueueOutbox(OutboxItem(created: testOrigin, kind: "events", priority: 1,
                                                                           payload: [UInt8](repeating: 7, count: 2000)), essential: true))
        #expect(try store.performBlocking(.acknowledgeOutbox(sequence: sequence)))
        // Ordinary writes fill the pages the archive has, but cannot grow it into what the reserve
        // gave back (the file system still has room for them).
        var capped: ArchiveError?
        for h in 500..<540 where capped == nil {
            do { _ = try store.performBlocking(.commit((0..<64).map { testSnapshot(meter: $0, hour: h) }, source: "bus1")) } catch {
                capped = error
            }
        }
        #expect(capped?.sqliteError?.kind == .diskFull)
        #expect(disk.freeBytes > 128 << 10, "the file system itself still had room")
        #expect(try store.refreshStorageReserve() == .released, "no room for the reserve yet")

        // Space returns: the reserve is made again and ordinary writes go on.
        disk.free("filler")
        #expect(try store.refreshStorageReserve() == .held)
        #expect(FileSystem.size(store.path + ".reserve") == 256 << 10)
        #expect(try store.performBlocking(.commit((0..<64).map { testSnapshot(meter: $0, hour: 600) }, source: "bus1")).stored == 64)
        #expect(try store.reader.events(from: testOrigin, to: testOrigin.adding(seconds: 1), limit: 10).count == 1)
    }
}
