import Archive
import Bus
import ConcentratorCore

/// Stores bus snapshots in the archive: one durable transaction per bus snapshot per series.
final class ArchiveSnapshotSink: SnapshotSink {
    let archive: ArchiveStore

    init(archive: ArchiveStore) { self.archive = archive }

    func store(bus: BusName, series: SeriesKind, intervalStart: Timestamp, snapshots: [MeterSnapshot]) throws {
        _ = try archive.performBlocking(.commit(snapshots, series: series))
    }

    func storedMeters(bus: BusName, series: SeriesKind, intervalStart: Timestamp) throws -> Set<MeterID> {
        let reader = archive.reader
        return try archive.performReadBlocking { _ in
            Set(try reader.snapshots(intervalStart: intervalStart, series: series).map(\.meter))
        }
    }
}
