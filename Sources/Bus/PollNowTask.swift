import ConcentratorCore
import Platform

/// Progress of a commissioning poll: meters done, of how many, and how many answered.
public struct PollProgress: Hashable, Sendable {
    public var meter: MeterID
    public var done: Int
    public var total: Int
    public var answered: Int
}

/// "Poll now": a full commissioning read of some or all meters of the bus, queued to the owner
/// ahead of scheduled work (it never opens the port beside it), one meter per step. Meters that
/// fail get one more try after the others. The snapshots are archived like any snapshot, as the
/// interval that contains the start of the poll, for the meters that have none for it yet, so the
/// uplink reports them at once; the others are shown but not stored twice (the archive keeps the
/// first snapshot of an interval).
final class PollNowTask: BusTask {
    let priority = BusTaskPriority.urgent
    private let order: [Int]
    private var position = 0
    private var retries: [Int] = []
    private var retried = false
    private var results: [Int: (snapshot: MeterSnapshot, answered: Bool, milliseconds: Int, failure: String?)] = [:]
    private var boundary: Timestamp?
    private let progress: @Sendable (PollProgress) -> Void
    let pending = PendingResult<[MeterPollResult]>()

    init(meterIndices: [Int], progress: @escaping @Sendable (PollProgress) -> Void) {
        order = meterIndices
        self.progress = progress
    }

    func step(_ bus: BusOwner) -> Bool {
        if boundary == nil {
            guard pending.markStarted() else { return true }
            boundary = IntervalSchedule(minutes: bus.schedule.archive.intervalMinutes).start(containing: bus.clock.now())
            if let error = bus.line.ensureOpen(retryNow: true) {
                pending.finish(.failure(.portUnavailable(bus.name, error.description)))
                return true
            }
        }
        if position < order.count {
            let index = order[position]
            position += 1
            if !read(index, bus), bus.settings.retries > 0 { retries.append(index) }
            report(bus, meter: bus.meters[index].id)
            return false
        }
        if !retries.isEmpty {
            let index = retries.removeFirst()
            _ = read(index, bus)
            report(bus, meter: bus.meters[index].id)
            return false
        }
        pending.finish(.success(finish(bus)))
        return true
    }

    func abandon(_ error: BusError) { pending.finish(.failure(error)) }

    private func report(_ bus: BusOwner, meter: MeterID) {
        progress(PollProgress(meter: meter, done: position, total: order.count, answered: results.values.filter(\.answered).count))
    }

    /// Reads one meter; a retry that answers replaces a failed attempt. Returns whether it answered.
    private func read(_ index: Int, _ bus: BusOwner) -> Bool {
        let meter = bus.meters[index]
        let started = ContinuousClock.now
        let poll = bus.poll(meter, scope: .all)
        let milliseconds = Int((ContinuousClock.now - started).inMilliseconds)
        let snapshot = bus.snapshot(of: meter, boundary: boundary ?? bus.clock.now(), values: poll.values, meterTime: poll.meterTime)
        if poll.answered || results[index] == nil {
            results[index] = (snapshot, poll.answered, milliseconds, poll.transportFailure.map { "\($0)" })
            if poll.answered { meter.latest = snapshot }
        }
        return poll.answered
    }

    /// Archives what is new for the interval and builds the per-meter results.
    private func finish(_ bus: BusOwner) -> [MeterPollResult] {
        let boundary = boundary ?? bus.clock.now()
        var archived = Set<MeterID>()
        if bus.schedule.takesSnapshots {
            let already = (try? bus.sink.storedMeters(bus: bus.name, series: .interval, intervalStart: boundary)) ?? []
            let fresh = order.compactMap { results[$0]?.snapshot }.filter { !already.contains($0.meter) }
            if bus.store(series: .interval, intervalStart: boundary, snapshots: fresh) { archived = Set(fresh.map(\.meter)) }
            bus.logger.info("poll now: \(results.values.filter(\.answered).count)/\(order.count) meters answered; archived \(archived.count) as interval \(boundary)")
        }
        return order.compactMap { index in
            guard let r = results[index] else { return nil }
            let meter = bus.meters[index]
            return MeterPollResult(snapshot: r.snapshot, bus: bus.name, address: meter.settings.address.description, profile: meter.profile.id,
                                   answered: r.answered, responseMilliseconds: r.milliseconds, failure: r.failure,
                                   archived: archived.contains(meter.id))
        }
    }
}

extension BusOwner {
    /// Polls `meters` (all of the bus when nil) now, ahead of scheduled work, and archives the
    /// snapshots (see `PollNowTask`). Blocking; `progress` is called on the bus thread after each
    /// meter. Fails when the port is down or the work cannot start within `startDeadline`.
    public func pollNow(meters ids: [MeterID]? = nil, startDeadline: Duration = .seconds(60),
                        progress: @escaping @Sendable (PollProgress) -> Void = { _ in }) -> Result<[MeterPollResult], BusError> {
        let indices = meters.indices.filter { ids?.contains(meters[$0].id) ?? true }
        guard !indices.isEmpty else { return .success([]) }
        let task = PollNowTask(meterIndices: indices, progress: progress)
        enqueue(task)
        return task.pending.wait(startDeadline: startDeadline, bus: name)
    }
}
