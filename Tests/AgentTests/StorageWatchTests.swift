import Archive
import ConcentratorCore
import Testing
@testable import Agent

/// Issue 17 #3: `storage_low` is raised below the configured free space, before writes fail, once per
/// episode; again (critical) when the reserve was released; `archive_recovered` when space is back.
@Suite struct StorageWatchTests {
    let t = Timestamp(seconds: 1_772_323_200)

    @Test func oneEventPerChangeNeverOnePerCheck() {
        var watch = StorageWatch(directory: "/var/lib/concentrator", threshold: 1 << 20)
        #expect(watch.check(freeBytes: 4 << 20, reserve: .held, at: t).isEmpty)
        let low = watch.check(freeBytes: 900 << 10, reserve: .held, at: t)
        #expect(low.map(\.kind) == [.storageLow] && low.first?.severity == .warning)
        #expect(low.first?.message.contains("archive.storageLowFreeBytes") == true)
        #expect(watch.check(freeBytes: 800 << 10, reserve: .held, at: t).isEmpty, "no second event while still low")
        let full = watch.check(freeBytes: 0, reserve: .released, at: t)
        #expect(full.map(\.kind) == [.storageLow] && full.first?.severity == .critical)
        #expect(watch.check(freeBytes: 0, reserve: .released, at: t).isEmpty)
        // Just above the threshold is not enough (hysteresis), nor is space while the reserve is out.
        #expect(watch.check(freeBytes: (1 << 20) + 1, reserve: .released, at: t).isEmpty)
        #expect(watch.check(freeBytes: 8 << 20, reserve: .released, at: t).isEmpty)
        #expect(watch.check(freeBytes: 8 << 20, reserve: .held, at: t).map(\.kind) == [.archiveRecovered])
        #expect(watch.check(freeBytes: 8 << 20, reserve: .held, at: t).isEmpty)
    }
}
