import ConcentratorCore
import Platform

/// One interval snapshot of every meter on a bus: one meter per step, then retries for meters that
/// were answering before and failed now (after all others were read, so they never delay them),
/// then one archive transaction per series.
final class SnapshotCycleTask: BusTask {
    let priority = BusTaskPriority.snapshot
    let boundary: Timestamp
    let series: Set<SeriesKind>
    /// Only read meters that have no stored snapshot for this boundary yet (catch-up after restart).
    let onlyMissing: Bool
    private var order: [Int]
    private var position = 0
    private var retries: [(meter: Int, attemptsLeft: Int)] = []
    private var results: [Int: MeterSnapshot] = [:]
    private var started: (wall: Timestamp, real: ContinuousClock.Instant)?
    private var transactions = 0
    private var wireMilliseconds = 0.0
    private var worstFailedMilliseconds = 0.0
    private var failedMeters: Set<Int> = []

    init(boundary: Timestamp, series: Set<SeriesKind>, meterCount: Int, onlyMissing: Bool) {
        self.boundary = boundary
        self.series = series
        self.onlyMissing = onlyMissing
        order = Array(0..<meterCount)
    }

    func step(_ bus: BusOwner) -> Bool {
        if started == nil { begin(bus) }
        if position < order.count {
            let index = order[position]
            position += 1
            let meter = bus.meters[index]
            let state = meter.health.state
            let poll = read(index, bus)
            // The same rule in every cycle: a meter that was answering gets its retries. In the first
            // cycle after a start (not polled yet) the archive says whether it was answering before.
            let wasAnswering = state == .online || state == .degraded
                || (state == .unknown && !poll.answered && bus.sink.answeredBefore(meter: meter.id, before: boundary))
            if !poll.answered, wasAnswering, bus.settings.retries > 0 {
                retries.append((index, bus.settings.retries))
            }
            return false
        }
        if !retries.isEmpty {
            var (index, left) = retries.removeFirst()
            let poll = read(index, bus)
            left -= 1
            if !poll.answered, left > 0 { retries.append((index, left)) }
            return false
        }
        finish(bus, complete: true)
        return true
    }

    func abandon(_ error: BusError) {}

    /// Stores what was read so far (graceful shutdown in the middle of a cycle). The meters not
    /// read yet are caught up after the restart, if it happens within the catch-up window.
    func storePartial(_ bus: BusOwner) {
        guard started != nil, !results.isEmpty else { return }
        finish(bus, complete: false)
    }

    private func begin(_ bus: BusOwner) {
        started = (bus.clock.now(), .now)
        guard onlyMissing else { return }
        var stored: Set<MeterID>?
        for s in series {
            let have = (try? bus.sink.storedMeters(bus: bus.name, series: s, intervalStart: boundary)) ?? []
            stored = stored.map { $0.intersection(have) } ?? have
        }
        if let stored, !stored.isEmpty {
            order.removeAll { stored.contains(bus.meters[$0].id) }
        }
        bus.logger.info("catching up the \(series.map(\.rawValue).sorted().joined(separator: "+")) snapshot of \(boundary) for \(order.count) meters")
    }

    private func read(_ index: Int, _ bus: BusOwner) -> MeterPoll {
        let meter = bus.meters[index]
        let poll = bus.poll(meter, scope: .snapshot(series), readStatus: true)
        transactions += poll.transactions
        wireMilliseconds += poll.wireMilliseconds
        if poll.answered {
            failedMeters.remove(index)
        } else {
            failedMeters.insert(index)
            worstFailedMilliseconds = max(worstFailedMilliseconds, poll.elapsed.inMilliseconds)
        }
        // A retry that answers replaces the failed attempt; a failed retry keeps the first error.
        if poll.answered || results[index] == nil {
            let snapshot = bus.snapshot(of: meter, boundary: boundary, values: poll.values, meterTime: poll.meterTime,
                                        status: poll.status)
            results[index] = snapshot
            meter.latest = snapshot
        }
        return poll
    }

    private func finish(_ bus: BusOwner, complete: Bool) {
        let snapshots = results.keys.sorted().map { results[$0]! }
        var stored = true
        for s in series.sorted(by: { $0.rawValue < $1.rawValue }) {
            // A meter that did not answer and keeps a load profile of its own is left as a hole:
            // the backfill reads the interval from the meter once it answers again.
            let holes = Set(failedMeters.filter { bus.leavesHole(bus.meters[$0], series: s) }.map { i -> MeterID in
                bus.meters[i].needsBackfill = true
                return bus.meters[i].id
            })
            var forSeries: [MeterSnapshot]
            if s == .profile {
                forSeries = snapshots.compactMap { snap in
                    let wanted = Set(bus.meters.first { $0.id == snap.meter }?.profile.profileQuantities ?? [])
                    var copy = snap
                    copy.values = snap.values.filter { wanted.contains($0.quantity) }
                    return copy.values.isEmpty ? nil : copy
                }
            } else {
                forSeries = snapshots
            }
            forSeries.removeAll { holes.contains($0.meter) }
            stored = bus.store(series: s, intervalStart: boundary, snapshots: forSeries) && stored
        }
        let values = snapshots.reduce(0) { $0 + $1.values.count }
        let errors = snapshots.reduce(0) { $0 + $1.values.filter { $0.error != nil }.count }
        let duration = started.map { ContinuousClock.now - $0.real } ?? .zero
        let report = CycleReport(intervalStart: boundary, series: series.sorted { $0.rawValue < $1.rawValue },
                                 started: started?.wall ?? bus.clock.now(), durationMilliseconds: duration.inMilliseconds,
                                 meters: snapshots.count, answered: snapshots.count - failedMeters.count,
                                 failed: failedMeters.count, values: values, errorValues: errors, transactions: transactions,
                                 wireMilliseconds: wireMilliseconds, worstFailedMeterMilliseconds: worstFailedMilliseconds,
                                 committed: stored)
        if complete {
            bus.cyclesCompleted += 1
            bus.scheduleBackfill(onlyAnswering: true)
        }
        let seriesName = report.series.map(\.rawValue).joined(separator: "+")
        if stored {
            bus.logger.info("archived \(seriesName) interval=\(boundary) meters=\(snapshots.count) answered=\(report.answered) values=\(values) errors=\(errors) took_ms=\(Int(report.durationMilliseconds))\(complete ? "" : " (partial: stopping)")")
        }
        bus.publishBus(lastCycle: report)
    }
}

/// One pass of the fast live cadence over the meters that have live quantities. Offline meters are
/// probed with exponential back-off. Values are kept in memory for status and live views.
final class LivePassTask: BusTask {
    let priority = BusTaskPriority.live
    private var position = 0
    private let meterCount: Int

    init(meterCount: Int) { self.meterCount = meterCount }

    func step(_ bus: BusOwner) -> Bool {
        guard let live = bus.schedule.live else { return true }
        while position < meterCount {
            let meter = bus.meters[position]
            position += 1
            guard meter.hasLiveQuantities, meter.health.liveProbeDue(at: bus.clock.now()) else { continue }
            let poll = bus.poll(meter, scope: .live, livePeriodMilliseconds: Int64(live.periodSeconds) * 1000)
            if poll.answered {
                var snapshot = meter.latest ?? bus.snapshot(of: meter, boundary: bus.clock.now(), values: [])
                for v in poll.values {
                    if let i = snapshot.values.firstIndex(where: { $0.quantity == v.quantity }) { snapshot.values[i] = v } else { snapshot.values.append(v) }
                }
                snapshot.gatewayTime = bus.clock.now()
                meter.latest = snapshot
                var live = snapshot
                live.values = poll.values
                live.status = nil
                bus.onLiveValues(live)
            }
            return position >= meterCount
        }
        return true
    }

    func abandon(_ error: BusError) {}
}
