import Archive
import ConcentratorCore
import Foundation
import Platform
import SQLite
import Testing
import TestSupport
@testable import Uplink
import Wire

/// Keys and times for the sealer tests.
enum Fixtures {
    static let deviceSigning = SigningPrivateKey.generate()
    static let headEndSealing = AgreementPrivateKey.generate()
    static let deviceID = "gw-0001"
    static let hour = ISO8601.parse("2026-11-21T10:00:00Z")!
    static let hourly = IntervalSchedule(minutes: 60)

    static var sealer: BatchSealer {
        try! BatchSealer(deviceID: deviceID, signingKey: deviceSigning, headEndSealingKey: headEndSealing.publicKey)
    }

    static var opener: BatchOpener {
        BatchOpener(sealingKeys: [headEndSealing], devices: RegisteredDevices([deviceID: [deviceSigning.publicKey]]))
    }

    /// A deterministic generator (splitmix64) for values that do not compress.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}

/// Issue 17 #1 and #2: a write error while sealing is never a reason to drop an outbox entry, and a
/// sealer that cannot write backs off with one log line instead of spinning.
@Suite(.serialized) struct OutboxSealerFaultTests {
    /// 48 meters with up to 30 catalog quantities each, full-precision values: the sealed batch spans
    /// several pages, so sealing must grow the file.
    static func snapshots(hour: Int) -> [MeterSnapshot] {
        let start = Fixtures.hour.adding(seconds: Int64(hour) * 3600)
        let quantities = QuantityCatalog.all.prefix(30).map(\.id)
        var random = Fixtures.Random(state: UInt64(hour) &* 7919)
        return (0..<48).map { m in
            MeterSnapshot(meter: MeterID("meter-\(m)"), intervalStart: start, gatewayTime: start.adding(milliseconds: 1500),
                          values: quantities.map { id in
                              QuantityValue(quantity: id, value: Double(random.next() % 1_000_000_007) / 997)
                          })
        }
    }

    /// An archive holding one unsealed outbox entry (a recipe for `snapshots(hour: 0)`).
    static func archiveWithRecipe(_ dir: TemporaryDirectory, options: ArchiveOptions, log: CapturedLog) throws -> ArchiveStore {
        let (store, _) = try ArchiveStore.open(directory: dir.path, options: options, clock: ManualClock(Fixtures.hour), logger: log.logger)
        let list = snapshots(hour: 0)
        let recipe = BatchRecipe.snapshots(series: .interval, from: Fixtures.hour, to: Fixtures.hour.adding(seconds: 3600),
                                           meters: list.map(\.meter), backfill: false)
        let item = OutboxItem(created: Fixtures.hour, kind: recipe.outboxKind, priority: recipe.priority,
                              intervals: Fixtures.hour..<Fixtures.hour.adding(seconds: 3600), payload: recipe.encoded(), sealed: false)
        _ = try store.performBlocking(.commit(list, source: "bus1", outbox: item))
        return store
    }

    static func sealer(_ store: ArchiveStore, log: CapturedLog) -> OutboxSealer {
        OutboxSealer(archive: store, sealer: Fixtures.sealer, schedules: [.interval: Fixtures.hourly], logger: log.logger)
    }

    /// Before the fix the entry was deleted ("cannot be sealed") at the first SQLITE_FULL.
    @Test func aFullDiskWhileSealingKeepsTheEntryAndSealsItOnceSpaceReturns() async throws {
        let dir = TemporaryDirectory("sealer-full")
        let log = CapturedLog()
        let limited = ArchiveOptions(maximumSizeBytes: 320 * 1024)
        var store = try Self.archiveWithRecipe(dir, options: limited, log: log)
        // Fill the archive to its limit with other intervals (no outbox entries).
        var hour = 1
        while hour < 500 {
            do { _ = try await store.perform(.commit(Self.snapshots(hour: hour), source: "filler")) } catch { break }
            hour += 1
        }
        #expect(hour < 500, "the archive never filled up")
        // Then meter by meter, until not even one snapshot fits.
        var small = 0
        while small < 5000 {
            let one = Self.snapshots(hour: 1000 + small / 48)[small % 48]
            do { _ = try await store.perform(.commit([one], source: "filler")) } catch { break }
            small += 1
        }
        let sealer = Self.sealer(store, log: log)
        #expect(await sealer.sealPending() == 0)
        #expect(try await store.read { try $0.outboxDepth() } == 1, "the unsealed entry must stay in the outbox")
        #expect(try await store.read { try $0.outboxUnsealed(limit: 10) }.count == 1)
        #expect(!log.lines.contains { $0.message.contains("dropping outbox entry") || $0.message.contains("dropped outbox entry") }, "\(log.lines.map(\.message))")
        sealer.stop()
        await store.close()

        // Space returns (a larger limit): the same entry is sealed, nothing was lost.
        store = try ArchiveStore.open(directory: dir.path, options: ArchiveOptions(), clock: ManualClock(Fixtures.hour),
                                      logger: log.logger).store
        let again = Self.sealer(store, log: log)
        #expect(await again.sealPending() == 1)
        let sealed = try #require(try await store.read { try $0.outboxPending(limit: 10) }.first)
        let opened = try Fixtures.opener.open(sealed.item.payload)
        guard case .snapshots(_, _, let list) = opened.content else {
            Issue.record("not a snapshot batch")
            return
        }
        #expect(list.count == 48)
        again.stop()
        await store.close()
    }

    /// Before the fix the sealer retried at once, forever: thousands of log lines a second while the
    /// archive refused writes, and `sealPending` never returned.
    @Test func aSealerThatCannotWriteBacksOffWithOneLine() async throws {
        let dir = TemporaryDirectory("sealer-busy")
        let log = CapturedLog()
        let store = try Self.archiveWithRecipe(dir, options: ArchiveOptions(busyTimeout: .milliseconds(2)), log: log)
        let other = try SQLiteConnection(path: store.path, mode: .readWrite(create: false))
        try other.execute("BEGIN IMMEDIATE")
        let sealer = Self.sealer(store, log: log)
        let before = log.count
        let returned = NSLock()
        nonisolated(unsafe) var returnedAt: ContinuousClock.Instant?
        let first = Task {
            let n = await sealer.sealPending()
            returned.withLock { returnedAt = .now }
            return n
        }
        try await Task.sleep(for: .seconds(1))
        let linesWhileLocked = log.count - before
        let returnedWhileLocked = returned.withLock { returnedAt != nil }
        // Repeated calls during the back-off neither write nor log (only tried once the first call
        // returned: before the fix it never did while locked, and these calls would queue behind it).
        if returnedWhileLocked { for _ in 0..<20 { _ = await sealer.sealPending() } }
        let linesAfterRepeats = log.count - before
        try other.execute("ROLLBACK")
        other.close()
        let sealedFirst = await first.value
        #expect(returnedWhileLocked, "sealPending returned only after the lock was released (it spun)")
        #expect(sealedFirst == 0)
        #expect(linesWhileLocked <= 3, "\(linesWhileLocked) log lines in one second while the archive was locked")
        #expect(linesAfterRepeats <= 3, "calls during the back-off logged again")
        #expect(try await store.read { try $0.outboxDepth() } == 1)
        // After the back-off the entry is sealed.
        var sealed = 0
        let deadline = ContinuousClock.now + .seconds(10)
        while sealed == 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            sealed = await sealer.sealPending()
        }
        #expect(sealed == 1)
        #expect(try await store.read { try $0.outboxPending(limit: 10) }.count == 1)
        sealer.stop()
        await store.close()
    }
}
