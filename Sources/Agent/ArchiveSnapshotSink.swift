import Archive
import Bus
import ConcentratorCore
import Wire

/// Stores bus snapshots in the archive: one durable transaction per bus snapshot per series. With
/// an uplink, the same transaction enqueues the outbox entry that will report them, so a stored
/// snapshot is never left unreported, even across a crash.
final class ArchiveSnapshotSink: SnapshotSink, @unchecked Sendable {
    let archive: ArchiveStore
    let schedules: [SeriesKind: IntervalSchedule]
    let reportsToUplink: Bool
    /// Called after a commit that enqueued an outbox entry.
    var onEnqueued: @Sendable () -> Void = {}
    /// Called with every committed snapshot (edge monitoring observes them).
    var onStored: @Sendable (SeriesKind, [MeterSnapshot]) -> Void = { _, _ in }

    init(archive: ArchiveStore, schedules: [SeriesKind: IntervalSchedule], reportsToUplink: Bool) {
        self.archive = archive
        self.schedules = schedules
        self.reportsToUplink = reportsToUplink
    }

    func store(bus: BusName, series: SeriesKind, intervalStart: Timestamp, snapshots: [MeterSnapshot]) throws {
        var outbox: OutboxItem?
        if reportsToUplink, let schedule = schedules[series] {
            let end = intervalStart.adding(milliseconds: schedule.lengthMilliseconds)
            let recipe = BatchRecipe.snapshots(series: series, from: intervalStart, to: end, meters: snapshots.map(\.meter), backfill: false)
            outbox = OutboxItem(created: snapshots.map(\.gatewayTime).max() ?? intervalStart, kind: recipe.outboxKind,
                                priority: recipe.priority, intervals: intervalStart..<end, payload: recipe.encoded(), sealed: false)
        }
        let result = try archive.performBlocking(.commit(snapshots, series: series, source: "bus \(bus)", outbox: outbox))
        if result.outboxSequence != nil { onEnqueued() }
        onStored(series, snapshots)
    }

    func answeredBefore(meter: MeterID, before time: Timestamp) -> Bool {
        let stored = (try? archive.reader.snapshots(meter: meter, from: time.adding(seconds: -7 * 86_400), to: time)) ?? []
        return stored.contains { $0.values.contains { $0.value != nil } }
    }

    func storedMeters(bus: BusName, series: SeriesKind, intervalStart: Timestamp) throws -> Set<MeterID> {
        // The reader serialises its own calls and reads beside the writer (WAL).
        Set(try archive.reader.snapshots(intervalStart: intervalStart, series: series).map(\.meter))
    }
}
