import ConcentratorCore
import SQLite

/// What a call to `ArchiveStore.prune` removed.
public struct PruneResult: Hashable, Sendable {
    public var snapshotsRemoved = 0
    public var eventsRemoved = 0
    public var auditEntriesRemoved = 0
    public var commandRepliesRemoved = 0
    /// Transactions run (each one a short writer job).
    public var steps = 0
    /// True when nothing older than the cutoff is left; false when the time budget ran out first.
    public var complete = false
    /// The longest time one step held the writer (commits wait at most this long for pruning).
    public var longestStep: Duration = .zero

    public init() {}
}

/// How much one prune step removed.
struct PruneStep: Sendable {
    var snapshots = 0
    var events = 0
    var audit = 0
    var commandReplies = 0
    var isEmpty: Bool { snapshots == 0 && events == 0 && audit == 0 && commandReplies == 0 }
}

extension ArchiveWriter {
    /// Deletes up to `pruneRowsPerStep` of the oldest rows older than `cutoff` in one table, in one
    /// transaction. Snapshots go first (oldest keys first), then events, then audit entries, then
    /// stored command replies.
    func pruneStep(cutoff: Timestamp) throws -> PruneStep {
        var step = PruneStep()
        let cutoffKey = ReadingKey.first(ofMinute: max(0, ReadingKey.minuteCeiling(cutoff)))
        let limit = Int64(pruneRowsPerStep)
        try connection.transaction {
            // The key just past the step's last row; all older rows of the table when fewer remain.
            let end = try connection.queryInt64("SELECT key FROM readings WHERE key < ? ORDER BY key LIMIT 1 OFFSET ?",
                                                [.integer(cutoffKey), .integer(limit)]) ?? cutoffKey
            try connection.run("DELETE FROM readings WHERE key < ?", [.integer(end)])
            step.snapshots = connection.changes
            if step.snapshots > 0 { return }
            let time = SQLiteValue.integer(cutoff.milliseconds)
            try connection.run("DELETE FROM events WHERE id IN (SELECT id FROM events WHERE time < ? ORDER BY time LIMIT ?)",
                               [time, .integer(limit)])
            step.events = connection.changes
            if step.events > 0 { return }
            try connection.run("DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE time < ? ORDER BY time LIMIT ?)",
                               [time, .integer(limit)])
            step.audit = connection.changes
            if step.audit > 0 { return }
            try connection.run("DELETE FROM command_replies WHERE command_id IN "
                + "(SELECT command_id FROM command_replies WHERE time < ? ORDER BY time LIMIT ?)", [time, .integer(limit)])
            step.commandReplies = connection.changes
        }
        return step
    }
}

extension ArchiveStore {
    /// Removes snapshots, events, audit entries and stored command replies older than `retentionDays` before `now`, in small
    /// steps. Each step is its own transaction and its own writer job, so a commit queues behind at
    /// most one step. Stops when `budget` (real time) is spent and returns `complete == false`; the
    /// caller runs it again later (the agent: every interval). Unacknowledged outbox entries are never
    /// pruned. Async code; `pruneBlocking` is the dedicated-thread variant.
    public func prune(now: Timestamp, retentionDays: Int,
                      budget: Duration = .milliseconds(500)) async throws(ArchiveError) -> PruneResult {
        let cutoff = try Self.cutoff(now: now, retentionDays: retentionDays)
        let started = ContinuousClock.now
        var result = PruneResult()
        while ContinuousClock.now - started < budget {
            if add(try await perform(Self.pruneStep(cutoff: cutoff)), to: &result) { break }
        }
        return result
    }

    /// Like `prune`, blocking the calling dedicated thread.
    public func pruneBlocking(now: Timestamp, retentionDays: Int,
                              budget: Duration = .milliseconds(500)) throws(ArchiveError) -> PruneResult {
        let cutoff = try Self.cutoff(now: now, retentionDays: retentionDays)
        let started = ContinuousClock.now
        var result = PruneResult()
        while ContinuousClock.now - started < budget {
            if add(try performBlocking(Self.pruneStep(cutoff: cutoff)), to: &result) { break }
        }
        return result
    }

    private static func cutoff(now: Timestamp, retentionDays: Int) throws(ArchiveError) -> Timestamp {
        guard retentionDays > 0 else {
            throw ArchiveError.invalidInput("retention of \(retentionDays) days: it must be at least 1 day")
        }
        return now.adding(seconds: -Int64(retentionDays) * 86_400)
    }

    private static func pruneStep(cutoff: Timestamp) -> ArchiveWrite<PruneOutcome> {
        ArchiveWrite("prune rows older than \(cutoff)", essential: true) { writer in
            let started = ContinuousClock.now
            let step = try writer.pruneStep(cutoff: cutoff)
            return PruneOutcome(step: step, duration: ContinuousClock.now - started)
        }
    }

    /// Adds one step to `result`; returns true when there was nothing left to remove.
    private func add(_ outcome: PruneOutcome, to result: inout PruneResult) -> Bool {
        if outcome.step.isEmpty {
            result.complete = true
            return true
        }
        result.steps += 1
        result.snapshotsRemoved += outcome.step.snapshots
        result.eventsRemoved += outcome.step.events
        result.auditEntriesRemoved += outcome.step.audit
        result.commandRepliesRemoved += outcome.step.commandReplies
        result.longestStep = max(result.longestStep, outcome.duration)
        return false
    }
}

/// A prune step and how long it held the writer.
struct PruneOutcome: Sendable {
    let step: PruneStep
    let duration: Duration
}
