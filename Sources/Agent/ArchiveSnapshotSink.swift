import Archive
import Bus
import ConcentratorCore

/// Stores bus snapshots in the archive: one durable transaction per bus snapshot per series.
final class ArchiveSnapshotSink: SnapshotSink {
    let archive: ArchiveStore

    init(archive: ArchiveStore) { self.archive = archive }

    func store(bus: BusName, series: SeriesKind, intervalStart: Timestamp, snapshots: [MeterSnapshot]) throws {
        _ = try archive.performBlocking(.commit(snapshots, series: series, source: "bus \(bus)"))
    }

    func storedMeters(bus: BusName, series: SeriesKind, intervalStart: Timestamp) throws -> Set<MeterID> {
        // The reader serialises its own calls and reads beside the writer (WAL).
        Set(try archive.reader.snapshots(intervalStart: intervalStart, series: series).map(\.meter))
    }
}
