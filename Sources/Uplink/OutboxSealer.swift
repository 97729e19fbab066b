import Archive
import ConcentratorCore
import Logging
import Platform
import Wire

/// Seals outbox entries that still hold a recipe: reads the snapshots (or takes the events), encodes,
/// compresses, seals to the head-end and signs, with the entry's own sequence as the batch sequence,
/// then stores the sealed bytes in place. Runs on its own thread: sealing a large batch takes tens of
/// milliseconds of CPU and must not hold up the archive writer or a bus.
final class OutboxSealer: @unchecked Sendable {
    private let archive: ArchiveStore
    private let sealer: BatchSealer
    private let schedules: [SeriesKind: IntervalSchedule]
    private let logger: Logger
    private let worker = SerialWorker(name: "uplink-seal")

    init(archive: ArchiveStore, sealer: BatchSealer, schedules: [SeriesKind: IntervalSchedule], logger: Logger) {
        self.archive = archive
        self.sealer = sealer
        self.schedules = schedules
        self.logger = logger
    }

    /// Seals every unsealed entry; returns how many were sealed.
    func sealPending() async -> Int {
        (try? await worker.run { [self] in sealPendingBlocking() }) ?? 0
    }

    func stop() { worker.stop() }

    private func sealPendingBlocking() -> Int {
        var sealed = 0
        while true {
            let entries: [OutboxEntry]
            do { entries = try archive.reader.outboxUnsealed(limit: 16) } catch {
                logger.error("uplink: cannot list the outbox: \(error)")
                return sealed
            }
            if entries.isEmpty { return sealed }
            for entry in entries {
                if seal(entry) { sealed += 1 }
            }
        }
    }

    /// Seals one entry. An entry whose data is gone (pruned) or unreadable is removed with a log line
    /// (nothing can ever be sent for it); returns whether a batch was sealed.
    private func seal(_ entry: OutboxEntry) -> Bool {
        guard let recipe = BatchRecipe.decode(entry.item.payload) else {
            return discard(entry, because: "its recipe is unreadable")
        }
        let content: BatchContent
        var backfill = false
        switch recipe {
        case .events(let events):
            content = .events(events)
        case .snapshots(let series, let from, let to, let meters, let isBackfill):
            backfill = isBackfill
            guard let schedule = schedules[series] else { return discard(entry, because: "the \(series.rawValue) series is not configured") }
            var snapshots: [MeterSnapshot] = []
            do {
                for meter in meters {
                    snapshots += try archive.reader.snapshots(meter: meter, from: from, to: to, series: series)
                }
            } catch {
                logger.error("uplink: cannot read the snapshots of outbox entry \(entry.sequence): \(error); will retry")
                return false
            }
            guard !snapshots.isEmpty else { return discard(entry, because: "its snapshots are no longer in the archive") }
            content = .snapshots(series, interval: schedule, snapshots)
        }
        do {
            let batch = try sealer.seal(content, sequence: UInt64(entry.sequence), backfill: backfill)
            _ = try archive.performBlocking(.sealOutbox(sequence: entry.sequence, payload: batch.bytes))
            return true
        } catch {
            logger.error("uplink: cannot seal outbox entry \(entry.sequence): \(error)")
            return discard(entry, because: "it cannot be sealed (\(error))")
        }
    }

    private func discard(_ entry: OutboxEntry, because reason: String) -> Bool {
        logger.warning("uplink: dropping outbox entry \(entry.sequence) (\(entry.item.kind)) because \(reason)")
        _ = try? archive.performBlocking(.acknowledgeOutbox(sequence: entry.sequence))
        return false
    }
}
