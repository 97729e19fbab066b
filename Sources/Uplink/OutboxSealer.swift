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
    // Back-off after a write error (issue 17 #1, #2); touched on the worker thread only.
    private var backoff = Duration.zero
    private var retryAt = ContinuousClock.now
    private var deferrals = 0
    private var lastReport: ContinuousClock.Instant?
    /// The first wait after a write error; it doubles up to `maximumBackoff`.
    static let initialBackoff: Duration = .seconds(1)
    static let maximumBackoff: Duration = .seconds(15)
    /// At most one line per this period while entries cannot be sealed.
    static let reportPeriod: Duration = .seconds(60)

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

    /// What became of one entry.
    private enum Outcome {
        case sealed
        /// The archive had it sealed already, or it is gone (acknowledged): nothing was written.
        case alreadySealed
        /// Nothing can ever be sent for it, and it is gone from the outbox.
        case discarded
        /// It stays in the outbox for a later attempt (a write or read error: never a reason to drop it).
        case deferred(String)
    }

    /// At most this many entries, and for about this long, are sealed per call, so the drain publishes
    /// between rounds even when sealing is slower than the buses fill the outbox (a loaded CPU).
    static let entriesPerCall = 64
    static let timePerCall: Duration = .seconds(1)

    /// Seals entries oldest first until none is left, one must wait, or `entriesPerCall` are done.
    /// An entry that the listing shows unsealed but the archive finds sealed (or gone) ends the call:
    /// the listing is behind, and sealing it again would spin (seen after a full disk). After a write or read error
    /// nothing is tried before the back-off has passed, so a full disk costs neither a spin nor a log
    /// storm: one line, then at most one per `reportPeriod` while it lasts.
    private func sealPendingBlocking() -> Int {
        guard ContinuousClock.now >= retryAt else { return 0 }
        var sealed = 0
        var tried = 0
        let deadline = ContinuousClock.now + Self.timePerCall
        outer: while tried < Self.entriesPerCall, ContinuousClock.now < deadline {
            let entries: [OutboxEntry]
            // Events first: on a full disk they are what the reserve is kept for.
            do { entries = try archive.reader.outboxUnsealed(limit: 16, order: .priorityThenOldest) } catch {
                deferAttempts("the outbox cannot be listed: \(error)")
                return sealed
            }
            if entries.isEmpty { break }
            for entry in entries {
                if tried > 0, ContinuousClock.now >= deadline { break outer }
                tried += 1
                switch seal(entry) {
                case .sealed: sealed += 1
                case .alreadySealed:
                    logger.debug("uplink: outbox entry \(entry.sequence) was already sealed; the listing is behind, sealing resumes next round")
                    break outer
                case .discarded: break
                case .deferred(let reason):
                    deferAttempts("outbox entry \(entry.sequence) cannot be sealed now: \(reason)")
                    return sealed
                }
            }
        }
        if deferrals > 0 {
            logger.notice("uplink: sealing works again after \(deferrals) deferred attempts; nothing was dropped")
        }
        backoff = .zero
        deferrals = 0
        lastReport = nil
        return sealed
    }

    /// Waits longer before the next attempt and reports it, rate-limited.
    private func deferAttempts(_ reason: String) {
        backoff = backoff == .zero ? Self.initialBackoff : min(backoff * 2, Self.maximumBackoff)
        retryAt = .now + backoff
        deferrals += 1
        if lastReport.map({ ContinuousClock.now - $0 >= Self.reportPeriod }) ?? true {
            lastReport = .now
            let next = Int(backoff.inSeconds)
            logger.error("uplink: \(reason); the entry stays queued and sealing is retried with back-off (\(deferrals) attempts so far, next in \(next) s)")
        }
    }

    /// Seals one entry. An entry whose data is gone (pruned) or whose recipe is unreadable is removed
    /// with a log line (nothing can ever be sent for it). A read or write error defers it: the entry stays.
    private func seal(_ entry: OutboxEntry) -> Outcome {
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
                return .deferred("its snapshots cannot be read: \(error)")
            }
            guard !snapshots.isEmpty else { return discard(entry, because: "its snapshots are no longer in the archive") }
            content = .snapshots(series, interval: schedule, snapshots)
        }
        let batch: SealedBatch
        do {
            batch = try sealer.seal(content, sequence: UInt64(entry.sequence), backfill: backfill)
        } catch {
            logger.error("uplink: cannot seal outbox entry \(entry.sequence): \(error)")
            return discard(entry, because: "it cannot be sealed (\(error))")
        }
        do {
            let stored = try archive.performBlocking(.sealOutbox(sequence: entry.sequence, payload: batch.bytes, essential: entry.item.priority > 0))
            return stored ? .sealed : .alreadySealed
        } catch {
            // A full disk or a locked archive is temporary: the entry stays and is sealed later (issue 17 #1).
            return .deferred("storing the sealed batch failed: \(error)")
        }
    }

    private func discard(_ entry: OutboxEntry, because reason: String) -> Outcome {
        do {
            _ = try archive.performBlocking(.acknowledgeOutbox(sequence: entry.sequence))
        } catch {
            return .deferred("it should be dropped because \(reason), but the archive refused: \(error)")
        }
        logger.warning("uplink: dropped outbox entry \(entry.sequence) (\(entry.item.kind)) because \(reason)")
        return .discarded
    }
}
