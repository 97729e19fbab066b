import Archive
import ConcentratorCore
import Platform

/// The maintenance loop's retention (issue 17 #4): before every step the wall clock is checked
/// against the monotonic clock and what the archive has seen (`RetentionClock`), the cutoff moves
/// at most a day per step and never back (`RetentionCutoff`, persisted as the counter
/// `retention-cutoff`), and the schedule runs on the monotonic clock, so a clock step neither
/// prunes early nor stops pruning.
struct RetentionRunner {
    static let cutoffCounter = "retention-cutoff"
    var clock: RetentionClock
    let started = ContinuousClock.now
    var previousCutoff: Timestamp?
    /// What the archive has seen, for the first observation only.
    var evidence: Timestamp?
    var nextPrune = ContinuousClock.now
}

extension Agent {
    func makeRetentionRunner(archive: ArchiveStore) -> RetentionRunner {
        let rate = 1_000_000 / max(0.001, options.clock.realDuration(ofMilliseconds: 1_000_000).inMilliseconds)
        let previous = (try? archive.reader.counterValue(RetentionRunner.cutoffCounter)).flatMap { $0 }.map(Timestamp.init(milliseconds:))
        let archiveSettings = setup.config.archive
        var seen: [Timestamp] = []
        if let newest = (try? archive.reader.storedRange(series: .interval))?.upperBound {
            seen.append(newest.adding(seconds: Int64(archiveSettings.intervalMinutes) * 60))
        }
        if let newest = (try? archive.reader.storedRange(series: .profile))?.upperBound {
            seen.append(newest.adding(seconds: Int64(archiveSettings.profileIntervalMinutes ?? 0) * 60))
        }
        if let previous { seen.append(previous.adding(seconds: Int64(archiveSettings.retentionDays) * 86_400)) }
        return RetentionRunner(clock: RetentionClock(rate: rate), previousCutoff: previous, evidence: seen.max())
    }

    /// One maintenance tick: checks the clock, and runs a retention step when one is due.
    func retentionTick(_ r: inout RetentionRunner, archive: ArchiveStore) {
        let monotonic = ContinuousClock.now - r.started
        let wall = options.clock.now()
        let kernel = options.checkClockSync ? ClockSynchronisation.kernelState() : nil
        if let change = r.clock.observe(wall: wall, monotonic: monotonic, kernelSynchronised: kernel, evidence: r.evidence) {
            report(change, at: wall)
        }
        r.evidence = nil
        guard ContinuousClock.now >= r.nextPrune else { return }
        let days = setup.config.archive.retentionDays
        let proposed = r.clock.trustedNow(wall: wall, monotonic: monotonic).adding(seconds: -Int64(days) * 86_400)
        let cutoff = RetentionCutoff.bounded(proposed: proposed, previous: r.previousCutoff)
        do {
            // Small steps with a time budget: a commit waits at most one step (DESIGN rule 6).
            let result = try archive.pruneBlocking(now: cutoff.adding(seconds: Int64(days) * 86_400), retentionDays: days)
            if result.snapshotsRemoved + result.eventsRemoved + result.auditEntriesRemoved > 0 {
                logger.info("retention: removed \(result.snapshotsRemoved) snapshots, \(result.eventsRemoved) events, \(result.auditEntriesRemoved) audit entries older than \(ISO8601.format(cutoff)) in \(result.steps) steps (longest \(Int(result.longestStep.inMilliseconds)) ms)")
            }
            r.nextPrune = .now + options.clock.realDuration(ofMilliseconds: result.complete ? 600_000 : 5_000)
            dropExpiredOutbox(cutoff: cutoff, archive: archive, retentionDays: days)
            if r.previousCutoff.map({ cutoff > $0 }) ?? true,
               (try? archive.performBlocking(.raiseCounter(RetentionRunner.cutoffCounter, to: cutoff.milliseconds))) != nil {
                r.previousCutoff = cutoff
            }
        } catch {
            r.nextPrune = .now + options.clock.realDuration(ofMilliseconds: 600_000)
        }
    }

    private func report(_ change: RetentionClock.Change, at time: Timestamp) {
        let event: GatewayEvent
        switch change {
        case .stepped(let ms, let from, let to):
            let direction = ms > 0 ? "forward" : "back"
            let consequence = ms > 0
                ? "retention follows the elapsed time and prunes or drops nothing early until the kernel reports the clock synchronised for an hour or the clock comes back"
                : "snapshots already stored keep their values; retention prunes nothing new until the clock catches up"
            event = GatewayEvent(time: time, kind: .clockStepped, severity: .warning, message:
                "the clock stepped \(direction) by \(RetentionClock.describe(milliseconds: ms)) (expected \(ISO8601.format(from)), reads \(ISO8601.format(to))); \(consequence); check the RTC and NTP")
        case .accepted(let ms):
            event = GatewayEvent(time: time, kind: .clockStepped, severity: .info, message:
                "the clock step of \(RetentionClock.describe(milliseconds: ms)) is accepted: the kernel reports the clock synchronised; retention uses the clock again")
        case .backInLine:
            event = GatewayEvent(time: time, kind: .clockStepped, severity: .info, message:
                "the clock is back in line with the elapsed time; retention uses it again")
        }
        logger.log(level: event.severity == .info ? .notice : .warning, "\(event.kind): \(event.message)")
        events?.record(event)
    }
}
