import Bus
import ConcentratorCore
import Platform

/// The installer's commissioning operations on the control socket: `poll` (poll now) and
/// `commissioning.report`.
extension ControlRequestHandler {
    /// `poll`: every configured meter, or `meters`, read now through their bus owners (all buses
    /// at once, each queued ahead of its scheduled work), archived and so reported to the head-end.
    /// Progress lines carry meters done, of how many, and how many answered.
    func pollNow(_ request: ControlRequest, buses: [BusOwner], send: @escaping @Sendable (ControlReply, Bool) -> Bool) -> ControlReply {
        let wanted = request.meters
        if let wanted {
            let unknown = wanted.filter { meter in !buses.contains { $0.owns(meter) } }
            guard unknown.isEmpty else {
                return failure("unknown-meter", "not in the running configuration: \(unknown.prefix(5).map(\.rawValue).joined(separator: ", "))"
                    + (unknown.count > 5 ? " and \(unknown.count - 5) more" : ""))
            }
        }
        let chosen = buses.filter { bus in wanted?.contains(where: bus.owns) ?? true }
        guard !chosen.isEmpty else { return failure("bad-request", "no meter to poll: the running configuration has none") }
        let deadline = Duration.milliseconds(Int64(min(max(request.timeoutMilliseconds ?? 60_000, 1000), 600_000)))
        let total = chosen.reduce(0) { sum, bus in sum + bus.status().meters.filter { wanted?.contains($0.id) ?? true }.count }
        let collector = PollCollector(buses: chosen.count)
        for bus in chosen {
            DedicatedThread.start(name: "poll-now") {
                let result = bus.pollNow(meters: wanted, startDeadline: deadline) { p in
                    let (done, answered) = collector.progress(bus.name, p)
                    _ = send(ControlReply(done: false, progress: ScanProgress(address: 0, done: done, total: total, found: answered)), true)
                }
                collector.finished(bus.name, result)
            }
        }
        let finished = collector.waitForAll()
        var results: [MeterPollResult] = []
        var problems: [String] = []
        for bus in chosen {
            switch finished[bus.name] {
            case .success(let r)?: results += r
            case .failure(let e)?: problems.append(e.description)
            case nil: break
            }
        }
        guard problems.isEmpty || !results.isEmpty else {
            return failure(problems.count == 1 && problems[0].contains("port is down") ? "port-unavailable" : "meter-error",
                           problems.joined(separator: "; "))
        }
        results = resend(results)
        let answered = results.filter(\.answered).count
        let archived = results.filter(\.archived).count
        var message = "\(answered)/\(results.count) meters answered; \(archived) snapshots archived"
        if !problems.isEmpty { message += "; not polled: " + problems.joined(separator: "; ") }
        return ControlReply(message: message, poll: results)
    }

    /// Queues for the head-end, from the archive, the interval snapshots of answering meters that
    /// the poll did not archive because the interval had one already (taken by the schedule, possibly
    /// before the uplink was configured, and then never sent). The head-end keeps the first copy of
    /// a snapshot it already holds.
    private func resend(_ results: [MeterPollResult]) -> [MeterPollResult] {
        guard let uplink = agent.uplink else { return results }
        let minutes = agent.setup.config.archive.intervalMinutes
        var out = results
        let stale = Dictionary(grouping: results.indices.filter { results[$0].answered && !results[$0].archived }) { results[$0].intervalStart }
        for (start, indices) in stale {
            let meters = indices.map { results[$0].meter }
            let queued = waitForAsync {
                (try? await uplink.backfill(from: start, to: start.adding(seconds: Int64(minutes) * 60), meters: meters, series: [SeriesKind.interval])) ?? 0
            }
            if queued > 0 { for i in indices { out[i].resent = true } }
        }
        return out
    }

    /// `commissioning.report`: records the report as a `commissioning_report` event (sent to the
    /// head-end with the events, ahead of queued batches). The text is the report's compact summary.
    func recordCommissioningReport(_ request: ControlRequest, events: EventRecorder?, now: Timestamp) -> ControlReply {
        guard let report = request.report else { return failure("bad-request", "commissioning.report needs \"report\"") }
        guard let events else { return failure("internal", "the event log is not running") }
        events.record(GatewayEvent(time: now, kind: .commissioningReport, severity: .info, message: report.eventText))
        return ControlReply(message: "commissioning report of \(report.installer) recorded and queued for the head-end")
    }
}

/// The buses' poll-now outcomes as their threads finish, and the progress summed over the buses.
private final class PollCollector: @unchecked Sendable {
    private let lock = ConditionLock()
    private let buses: Int
    private var progressByBus: [BusName: PollProgress] = [:]
    private var outcomes: [BusName: Result<[MeterPollResult], BusError>] = [:]

    init(buses: Int) { self.buses = buses }

    /// Records one bus's progress; returns meters done and answered over all buses.
    func progress(_ bus: BusName, _ p: PollProgress) -> (Int, Int) {
        lock.withLock {
            progressByBus[bus] = p
            return (progressByBus.values.reduce(0) { $0 + $1.done }, progressByBus.values.reduce(0) { $0 + $1.answered })
        }
    }

    func finished(_ bus: BusName, _ result: Result<[MeterPollResult], BusError>) {
        lock.withLock { outcomes[bus] = result }
        lock.broadcast()
    }

    func waitForAll() -> [BusName: Result<[MeterPollResult], BusError>] {
        lock.lock()
        defer { lock.unlock() }
        while outcomes.count < buses { lock.wait(for: .seconds(1)) }
        return outcomes
    }
}
