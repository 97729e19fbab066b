import Archive
import Bus
import ConcentratorCore
import Wire

/// The archive side of the load-profile backfill: where a meter's intervals are missing, and
/// storing what the meter's own profile gave, reported to the head-end as backfill batches.
extension ArchiveSnapshotSink {
    func missingIntervals(meter: MeterID, series: SeriesKind, lengthMinutes: Int, from: Timestamp, to: Timestamp) throws -> [Timestamp] {
        try archive.reader.missingIntervals(meter: meter, series: series, lengthMilliseconds: Int64(lengthMinutes) * 60_000, from: from, to: to)
    }

    /// One transaction per run of consecutive intervals: the snapshots and (with an uplink) one
    /// outbox entry whose recipe reports exactly them with the backfill flag, so what is archived
    /// is never left unreported and nothing already reported is sent again.
    func storeBackfill(bus: BusName, series: SeriesKind, lengthMinutes: Int, snapshots: [MeterSnapshot]) throws {
        let length = Int64(lengthMinutes) * 60_000
        var runs: [[MeterSnapshot]] = []
        for s in snapshots.sorted(by: { ($0.meter.rawValue, $0.intervalStart) < ($1.meter.rawValue, $1.intervalStart) }) {
            if let last = runs.last?.last, last.meter == s.meter, s.intervalStart.milliseconds - last.intervalStart.milliseconds == length {
                runs[runs.count - 1].append(s)
            } else {
                runs.append([s])
            }
        }
        for run in runs {
            let first = run[0].intervalStart, end = run[run.count - 1].intervalStart.adding(milliseconds: length)
            var outbox: OutboxItem?
            if reportsToUplink {
                let recipe = BatchRecipe.snapshots(series: series, from: first, to: end, meters: [run[0].meter], backfill: true)
                outbox = OutboxItem(created: run.map(\.gatewayTime).max() ?? first, kind: recipe.outboxKind, priority: recipe.priority,
                                    intervals: first..<end, payload: recipe.encoded(), sealed: false)
            }
            let result = try archive.performBlocking(.commit(run, series: series, source: "bus \(bus) backfill", outbox: outbox))
            if result.outboxSequence != nil { onEnqueued() }
        }
    }
}
