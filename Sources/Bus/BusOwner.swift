import ConcentratorCore
import Logging
import MeterProtocols
import Platform

/// Where a bus owner stores finished snapshots. The agent implements it with the archive.
/// Called on the bus thread; `store` returns only once the snapshot is durable (rule 5).
public protocol SnapshotSink: AnyObject, Sendable {
    /// Stores one bus's snapshots for one interval of one series, in one transaction.
    func store(bus: BusName, series: SeriesKind, intervalStart: Timestamp, snapshots: [MeterSnapshot]) throws
    /// The meters of `bus` that already have a snapshot for this interval (for catching up after
    /// a restart without duplicating).
    func storedMeters(bus: BusName, series: SeriesKind, intervalStart: Timestamp) throws -> Set<MeterID>
    /// The interval starts of `series` (intervals of `lengthMinutes`) in `from..<to` with no stored
    /// snapshot of `meter`, oldest first, beginning at the meter's first stored snapshot (a meter
    /// never stored has no holes). The load-profile backfill reads exactly these from the meter.
    func missingIntervals(meter: MeterID, series: SeriesKind, lengthMinutes: Int, from: Timestamp, to: Timestamp) throws -> [Timestamp]
    /// Stores snapshots of one meter read back from its own load profile (any number of intervals
    /// of one series) in one transaction, reported to the head-end as backfill.
    func storeBackfill(bus: BusName, series: SeriesKind, lengthMinutes: Int, snapshots: [MeterSnapshot]) throws
    /// Whether `meter` answered (a stored value) in the week before `time`: after a restart, a meter
    /// the owner has not polled yet gets the retry of a meter that was answering.
    func answeredBefore(meter: MeterID, before time: Timestamp) -> Bool
}

extension SnapshotSink {
    /// Without an archive to look in there are no holes.
    public func missingIntervals(meter: MeterID, series: SeriesKind, lengthMinutes: Int, from: Timestamp, to: Timestamp) throws -> [Timestamp] { [] }

    /// Stores each interval as an ordinary snapshot.
    public func storeBackfill(bus: BusName, series: SeriesKind, lengthMinutes: Int, snapshots: [MeterSnapshot]) throws {
        for s in snapshots { try store(bus: bus, series: series, intervalStart: s.intervalStart, snapshots: [s]) }
    }

    public func answeredBefore(meter: MeterID, before time: Timestamp) -> Bool { false }
}

/// Scheduling options for a bus owner.
public struct BusSchedule: Sendable {
    public var archive: ArchiveSettings
    public var live: LiveCadence?
    /// A snapshot missed by at most this much (agent restarted just after a boundary) is still
    /// taken, late, for the meters that lack it.
    public var catchUpMilliseconds: Int64
    /// False for a bus opened only for on-demand work (the CLI while the agent is stopped).
    public var takesSnapshots: Bool
    /// How often snapshots the archive refused (disk full, locked) are offered again (a failed retry
    /// costs one rolled-back transaction and no log line).
    public var commitRetryInterval: Duration = .seconds(10)
    /// Meter clocks (DLMS, IEC 62056-21) read in a cycle that drift more than this from the
    /// gateway's synchronised clock are set; nil: never set by the cycle (only by `time.sync`).
    public var meterClockThreshold: Duration?
    /// Whether intervals missing in the archive are read back from the meters' own load profiles.
    public var backfillsFromMeterProfiles = true

    public init(archive: ArchiveSettings, live: LiveCadence? = nil, catchUpMilliseconds: Int64? = nil) {
        self.archive = archive
        self.live = live
        self.catchUpMilliseconds = catchUpMilliseconds ?? min(Int64(archive.intervalMinutes) * 60_000 / 4, 600_000)
        takesSnapshots = true
    }

    /// No snapshots, no live cadence: on-demand reads and scans only.
    public static var onDemandOnly: BusSchedule {
        var s = BusSchedule(archive: ArchiveSettings())
        s.takesSnapshots = false
        return s
    }
}

/// The one owner of one RS-485 bus (rule 1 of DESIGN.md). It runs a dedicated thread that alone
/// opens the port and talks to the meters: scheduled interval snapshots, on-demand reads and scans
/// (which jump the queue between steps, never opening the port beside it), and the live cadence.
public final class BusOwner: @unchecked Sendable {
    public let name: BusName
    let settings: BusSettings
    let clock: any WallClock
    let sink: any SnapshotSink
    let logger: Logger
    let onEvent: @Sendable (GatewayEvent) -> Void
    let schedule: BusSchedule
    let clockSynchronised: @Sendable () -> Bool
    /// Keys, invocation counters and the clock-set audit for meters with security.
    let services: BusMeterServices
    /// Called on the bus thread with each meter's values after a live pass read them (edge monitoring's
    /// alarm rules watch them as they come). Set before `start()`.
    public var onLiveValues: @Sendable (MeterSnapshot) -> Void = { _ in }

    // Shared between threads, guarded by `lock`.
    private let lock = ConditionLock()
    private var queue: [(seq: Int, task: any BusTask)] = []
    private var sequence = 0
    private var stopRequested = false
    private var running = false
    private var published: BusStatus
    private var progressInstant = ContinuousClock.now
    private var polls = 0
    private var stallRequested: Duration?
    private var sessionTotals = SessionWireTotals()

    // Bus-thread state.
    let line: BusLine
    var meters: [PolledMeter]
    private var intervalSchedule: IntervalSchedule
    private var profileSchedule: IntervalSchedule?
    private var nextIntervalBoundary: Timestamp?
    private var nextProfileBoundary: Timestamp?
    private var nextLivePass: Timestamp?
    var pendingCommits: [PendingCommit] = []
    /// The wireless M-Bus receiver state, when every meter of this bus is a wireless one.
    let wireless: WirelessReceiverState?
    /// Whether a `ProfileBackfillTask` is queued or running.
    var backfillQueued = false
    private var nextCommitRetry = ContinuousClock.now
    var cyclesCompleted = 0

    public init(settings: BusSettings, meters: [(MeterSettings, MeterProfile)], schedule: BusSchedule, clock: any WallClock,
                sink: any SnapshotSink, logger: Logger, clockSynchronised: @escaping @Sendable () -> Bool = { ClockSynchronisation.isSynchronised() },
                services: BusMeterServices = .none, onEvent: @escaping @Sendable (GatewayEvent) -> Void = { _ in }) {
        name = settings.name
        self.settings = settings
        self.clock = clock
        self.sink = sink
        var log = logger
        log[metadataKey: "bus"] = .string(settings.name.rawValue)
        self.logger = log
        self.onEvent = onEvent
        self.schedule = schedule
        self.clockSynchronised = clockSynchronised
        self.services = services
        let live = Set(schedule.live?.quantities ?? [])
        self.meters = meters.map {
            PolledMeter(settings: $0.0, profile: $0.1, responseBounds: settings.responseTimeoutMilliseconds, liveQuantities: live)
        }
        line = BusLine(settings: settings, logger: log)
        wireless = WirelessReceiverState(meters: meters, declared: settings.receiver != nil)
        intervalSchedule = IntervalSchedule(minutes: schedule.archive.intervalMinutes)
        profileSchedule = schedule.archive.profileIntervalMinutes.map { IntervalSchedule(minutes: $0) }
        published = BusStatus(name: settings.name, device: settings.device, line: settings.line.summary, portOpen: false,
                              portError: nil, meters: [], lastCycle: nil, nextIntervalBoundary: nil, cyclesCompleted: 0,
                              queuedTasks: 0, pendingCommits: 0)
        line.onPortStateChange = { [name, clock, onEvent] error in
            if let error {
                onEvent(GatewayEvent(time: clock.now(), kind: .portUnavailable, severity: .error, bus: name, message: error.description))
            } else {
                onEvent(GatewayEvent(time: clock.now(), kind: .portRestored, severity: .info, bus: name, message: "port available again"))
            }
        }
        publishAll()
    }

    // MARK: Lifecycle

    /// Starts the bus thread.
    public func start() {
        lock.withLock { running = true }
        DedicatedThread.start(name: "bus-\(name.rawValue)") { [self] in run() }
    }

    /// Asks the bus thread to finish its current step, store what it has, and exit. Returns when it
    /// has exited or `timeout` passed (false).
    @discardableResult
    public func stop(timeout: Duration = .seconds(10)) -> Bool {
        lock.withLock { stopRequested = true }
        lock.broadcast()
        let deadline = ContinuousClock.now + timeout
        lock.lock()
        defer { lock.unlock() }
        while running {
            let left = deadline - ContinuousClock.now
            if left <= .zero { return false }
            lock.wait(for: min(left, .milliseconds(100)))
        }
        return true
    }

    /// When the bus loop last made progress (for the systemd watchdog).
    public var lastProgress: ContinuousClock.Instant { lock.withLock { progressInstant } }

    /// How many meter polls (each one or more transactions) the bus has done since start; the
    /// agent blinks the bus-activity LED when it changes.
    public var pollsCompleted: Int { lock.withLock { polls } }

    /// Test hook: makes the bus thread hang for `duration` at its next step, as a stuck driver would.
    public func injectStall(_ duration: Duration) {
        lock.withLock { stallRequested = duration }
        lock.broadcast()
    }

    /// The current state (a copy; cheap).
    public func status() -> BusStatus {
        lock.withLock {
            var s = published
            s.queuedTasks = queue.count
            return s
        }
    }

    // MARK: Queue

    func enqueue(_ task: any BusTask) {
        let accepted: Bool = lock.withLock {
            guard !stopRequested else { return false }
            sequence += 1
            queue.append((sequence, task))
            queue.sort { ($0.task.priority, $0.seq) < ($1.task.priority, $1.seq) }
            return true
        }
        if accepted { lock.broadcast() } else { task.abandon(.stopping(name)) }
    }

    private func nextTask() -> (any BusTask)? { lock.withLock { queue.first?.task } }

    private func remove(_ task: any BusTask) {
        lock.withLock { queue.removeAll { $0.task === task } }
    }

    private func markProgress() { lock.withLock { progressInstant = .now } }

    // MARK: Loop

    private func run() {
        logger.info("bus owner started: \(settings.device) \(settings.line.summary), \(meters.count) meters")
        if let wireless {
            runWirelessReceiver(wireless)
            shutdown()
            return
        }
        line.ensureOpen()
        scheduleFromStart()
        while true {
            markProgress()
            if let stall = lock.withLock({ () -> Duration? in defer { stallRequested = nil }; return stallRequested }) {
                logger.warning("injected stall of \(stall)")
                sleepThread(stall)
            }
            retryPendingCommits()
            if lock.withLock({ stopRequested }) { break }
            if let task = nextTask() {
                if task.step(self) { remove(task) }
                publishBus()
                continue
            }
            if enqueueDueWork() { continue }
            waitForWork()
        }
        shutdown()
    }

    private func shutdown() {
        let remaining = lock.withLock { () -> [any BusTask] in
            let tasks = queue.map(\.task)
            queue.removeAll()
            return tasks
        }
        for task in remaining {
            if let cycle = task as? SnapshotCycleTask { cycle.storePartial(self) } else { task.abandon(.stopping(name)) }
        }
        retryPendingCommits(force: true)
        if !pendingCommits.isEmpty {
            logger.error("\(pendingCommits.count) snapshots could not be stored before stopping")
        }
        line.close()
        logger.info("bus owner stopped")
        lock.withLock { running = false }
        lock.broadcast()
    }

    /// Sleeps until the next boundary or live pass, or new work, at most one second (so the
    /// watchdog sees progress and a lost port is retried).
    private func waitForWork() {
        let now = clock.now()
        var wake = now.adding(milliseconds: 1000 * 3600)
        for t in [nextIntervalBoundary, nextProfileBoundary, nextLivePass].compactMap({ $0 }) where t < wake { wake = t }
        let real = min(clock.realDuration(ofMilliseconds: max(0, wake.milliseconds - now.milliseconds)), .seconds(1))
        lock.lock()
        if queue.isEmpty && !stopRequested && stallRequested == nil && real > .zero { lock.wait(for: real) }
        lock.unlock()
        if line.port == nil { line.ensureOpen() }
    }

    // MARK: Schedule

    private func scheduleFromStart() {
        guard schedule.takesSnapshots else { return }
        let now = clock.now()
        nextIntervalBoundary = intervalSchedule.nextBoundary(after: now)
        nextProfileBoundary = profileSchedule?.nextBoundary(after: now)
        if schedule.live != nil { nextLivePass = now }
        // Catch up a boundary that passed moments ago (restart after a crash or an upgrade).
        let lastInterval = intervalSchedule.start(containing: now)
        var catchUp: [Timestamp: Set<SeriesKind>] = [:]
        if now.milliseconds - lastInterval.milliseconds <= schedule.catchUpMilliseconds {
            catchUp[lastInterval, default: []].insert(.interval)
        }
        if let profileSchedule {
            let lastProfile = profileSchedule.start(containing: now)
            if now.milliseconds - lastProfile.milliseconds <= schedule.catchUpMilliseconds {
                catchUp[lastProfile, default: []].insert(.profile)
            }
        }
        for (boundary, series) in catchUp.sorted(by: { $0.key < $1.key }) {
            enqueue(SnapshotCycleTask(boundary: boundary, series: series, meterCount: meters.count, onlyMissing: true))
        }
        scheduleBackfill(onlyAnswering: false)
        publishBus()
    }

    /// Enqueues snapshot cycles for boundaries that are due, and a live pass. Returns whether it
    /// enqueued anything.
    private func enqueueDueWork() -> Bool {
        let now = clock.now()
        var series: Set<SeriesKind> = []
        var boundary: Timestamp?
        if let next = nextIntervalBoundary, now >= next {
            let latest = intervalSchedule.start(containing: now)
            reportMissed(from: next, to: latest, schedule: intervalSchedule, series: .interval)
            series.insert(.interval)
            boundary = latest
            nextIntervalBoundary = intervalSchedule.nextBoundary(after: now)
        }
        if let profileSchedule, let next = nextProfileBoundary, now >= next {
            let latest = profileSchedule.start(containing: now)
            reportMissed(from: next, to: latest, schedule: profileSchedule, series: .profile)
            if boundary == nil || boundary == latest {
                series.insert(.profile)
                boundary = latest
            } else {
                enqueue(SnapshotCycleTask(boundary: latest, series: [.profile], meterCount: meters.count, onlyMissing: false))
            }
            nextProfileBoundary = profileSchedule.nextBoundary(after: now)
        }
        if let boundary {
            enqueue(SnapshotCycleTask(boundary: boundary, series: series, meterCount: meters.count, onlyMissing: false))
            return true
        }
        if let live = schedule.live, let next = nextLivePass, now >= next {
            nextLivePass = now.adding(seconds: Int64(live.periodSeconds))
            enqueue(LivePassTask(meterCount: meters.count))
            return true
        }
        return false
    }

    private func reportMissed(from first: Timestamp, to latest: Timestamp, schedule: IntervalSchedule, series: SeriesKind) {
        guard first < latest else { return }
        let count = (latest.milliseconds - first.milliseconds) / schedule.lengthMilliseconds
        let message = "\(count) \(series.rawValue) boundaries from \(first) missed (the previous cycle overran or the clock jumped)"
        logger.warning("\(message)")
        onEvent(GatewayEvent(time: clock.now(), kind: .intervalMissed, severity: .warning, bus: name, message: message))
    }

    // MARK: Polling (bus thread)

    /// Polls one meter (the quantities of `scope`) with its protocol's reader, updating its health
    /// and raising online/offline, security and clock events.
    /// With `readStatus`, the profile's status input is read with the values (snapshots feed alarm rules):
    /// a Modbus status register, a DLMS alarm register, an IEC 62056-21 error-code line.
    func poll(_ meter: PolledMeter, scope: MeterReadScope, livePeriodMilliseconds: Int64? = nil, readStatus: Bool = false) -> MeterPoll {
        let started = ContinuousClock.now
        var result: MeterPoll
        if let dlms = meter.dlms {
            result = DLMSMeterReader.poll(meter, link: dlms, scope: scope, bus: self, readStatus: readStatus)
        } else if let iec = meter.iec {
            result = IECMeterReader.poll(meter, link: iec, scope: scope, bus: self, readStatus: readStatus)
        } else if let mbus = meter.mbus {
            result = MBusMeterReader.poll(meter, link: mbus, scope: scope, bus: self)
        } else if meter.settings.protocolKind == .modbus {
            let plan = meter.modbusPlan(scope)
            result = ModbusMeterReader.poll(slave: meter.slave, blocks: plan, timer: &meter.timer, line: line,
                                            status: readStatus ? meter.profile.modbus?.status : nil)
            if let refined = result.refinedPlan {
                meter.adopt(refined, replacing: plan)
                logger.notice("meter \(meter.id) refuses merged reads over registers it does not have; reading it in \(refined.count) requests instead of \(plan.count)")
            }
        } else {
            result = MeterPoll(failed: .malformedResponse, quantities: meter.profile.quantities,
                               detail: "protocol \(meter.settings.protocolKind.rawValue) is not driven on RS-485 buses by this build")
        }
        if meter.settings.protocolKind != .modbus { result.elapsed = ContinuousClock.now - started }
        reportProtocolEvents(meter, result)
        let now = clock.now()
        let before = meter.health.state
        if let failure = result.transportFailure {
            meter.health.recordFailure(failure, at: now, livePeriodMilliseconds: livePeriodMilliseconds ?? 60_000,
                                       capMilliseconds: intervalSchedule.lengthMilliseconds)
            if before != .offline {
                var log = logger
                log[metadataKey: "meter"] = .string(meter.id.rawValue)
                if failure == .portUnavailable {
                    // The port's own message (logged once by the line) names the cause; the meter is not at fault.
                    log.debug("meter \(meter.id) not read: the port is unavailable")
                } else {
                    log.warning("meter \(meter.id) (address \(meter.settings.address)) is offline: \(result.failureDetail ?? failure.description); check its wiring, address and line settings")
                }
                onEvent(GatewayEvent(time: now, kind: .meterOffline, severity: .warning, bus: name, meter: meter.id,
                                     message: "no usable answer: \(failure)" + (result.failureDetail.map { " (\($0))" } ?? "")))
            }
        } else {
            meter.health.recordAnswer(at: now, error: result.valueError)
            if before == .offline {
                logger.notice("meter \(meter.id) is answering again")
                onEvent(GatewayEvent(time: now, kind: .meterOnline, severity: .info, bus: name, meter: meter.id, message: "answering again"))
            }
            if let valueError = result.valueError, meter.health.state == .degraded, before != .degraded {
                logger.warning("meter \(meter.id) answered with errors: \(valueError)")
                onEvent(GatewayEvent(time: now, kind: .meterError, severity: .warning, bus: name, meter: meter.id,
                                     message: valueError.description))
            }
        }
        publish(meter)
        lock.withLock {
            polls += 1
            progressInstant = .now
        }
        return result
    }

    func snapshot(of meter: PolledMeter, boundary: Timestamp, values: [QuantityValue], meterTime: Timestamp? = nil,
                  status: UInt64? = nil) -> MeterSnapshot {
        MeterSnapshot(meter: meter.id, intervalStart: boundary, gatewayTime: clock.now(), meterTime: meterTime,
                      clockUnsynced: !clockSynchronised(), values: values, status: status)
    }

    // MARK: Storing

    /// A snapshot the archive refused (disk full, locked); retried until it is stored.
    struct PendingCommit {
        var series: SeriesKind
        var intervalStart: Timestamp
        var snapshots: [MeterSnapshot]
    }

    /// Stores one series of a cycle; on failure keeps it for retry. Returns whether it is stored.
    @discardableResult
    func store(series: SeriesKind, intervalStart: Timestamp, snapshots: [MeterSnapshot]) -> Bool {
        guard !snapshots.isEmpty else { return true }
        do {
            try sink.store(bus: name, series: series, intervalStart: intervalStart, snapshots: snapshots)
            return true
        } catch {
            logger.error("could not store the \(series.rawValue) snapshot of \(intervalStart): \(error); keeping it in memory and retrying")
            // One event per episode (until the delayed snapshots are stored), not one per interval.
            if pendingCommits.isEmpty {
                onEvent(GatewayEvent(time: clock.now(), kind: .archiveError, severity: .error, bus: name,
                                     message: "could not store \(series.rawValue) snapshot \(intervalStart): \(error)"))
            }
            pendingCommits.append(PendingCommit(series: series, intervalStart: intervalStart, snapshots: snapshots))
            // Bounded: keep at most two days of hourly snapshots in memory.
            if pendingCommits.count > 200 { pendingCommits.removeFirst(pendingCommits.count - 200) }
            return false
        }
    }

    private func retryPendingCommits(force: Bool = false) {
        guard !pendingCommits.isEmpty, force || ContinuousClock.now >= nextCommitRetry else { return }
        nextCommitRetry = .now + schedule.commitRetryInterval
        var still: [PendingCommit] = []
        for commit in pendingCommits {
            do {
                try sink.store(bus: name, series: commit.series, intervalStart: commit.intervalStart, snapshots: commit.snapshots)
                logger.notice("stored the delayed \(commit.series.rawValue) snapshot of \(commit.intervalStart)")
            } catch {
                still.append(commit)
            }
        }
        if still.isEmpty, !pendingCommits.isEmpty {
            onEvent(GatewayEvent(time: clock.now(), kind: .archiveRecovered, severity: .info, bus: name, message: "delayed snapshots stored"))
        }
        pendingCommits = still
        publishBus()
    }

    // MARK: Status publishing

    private func meterStatus(_ m: PolledMeter) -> MeterStatus {
        MeterStatus(id: m.id, address: m.settings.address.description, profile: m.profile.id, state: m.health.state,
                    lastError: m.health.lastError?.description, lastSuccess: m.health.lastSuccess,
                    responseTimeoutMilliseconds: m.timer.responseTimeoutMilliseconds(requestWireMilliseconds: 0),
                    turnaroundMilliseconds: m.timer.smoothedMilliseconds)
    }

    private func publishAll() {
        let statuses = meters.map(meterStatus)
        lock.withLock { published.meters = statuses }
    }

    func publish(_ meter: PolledMeter) {
        let s = meterStatus(meter)
        lock.withLock {
            if let i = published.meters.firstIndex(where: { $0.id == s.id }) { published.meters[i] = s }
        }
    }

    /// Whether `stop()` was called (loops other than the task loop poll this).
    var isStopRequested: Bool { lock.withLock { stopRequested } }

    /// Changes the published status under the lock; `pollsDone` counts meter polls (the LED).
    func publishUpdate(pollsDone: Int = 0, _ update: (inout BusStatus) -> Void) {
        lock.withLock {
            polls += pollsDone
            progressInstant = .now
            update(&published)
        }
    }

    /// The archive's interval schedule of this bus.
    var intervals: IntervalSchedule { intervalSchedule }

    func publishBus(lastCycle: CycleReport? = nil) {
        let portOpen = line.port != nil
        let portError = line.openError?.description
        let next = nextIntervalBoundary
        let pending = pendingCommits.count
        let cycles = cyclesCompleted
        lock.withLock {
            published.portOpen = portOpen
            published.portError = portError
            published.nextIntervalBoundary = next
            published.pendingCommits = pending
            published.cyclesCompleted = cycles
            if let lastCycle { published.lastCycle = lastCycle }
        }
    }
}

/// Transactions and wire time (character times of every byte sent and received) of the DLMS and
/// IEC 62056-21 sessions a bus owner ran since it started: what benchmarks compare elapsed time with.
public struct SessionWireTotals: Hashable, Sendable {
    public var transactions = 0
    public var wireMilliseconds = 0.0
}

extension BusOwner {
    /// The DLMS and IEC sessions' totals so far.
    public func sessionWireTotals() -> SessionWireTotals { lock.withLock { sessionTotals } }

    /// Adds one session's statistics (DLMSBusExchange, IECMeterReader).
    func noteSession(transactions: Int, wireMilliseconds: Double) {
        lock.withLock {
            sessionTotals.transactions += transactions
            sessionTotals.wireMilliseconds += wireMilliseconds
        }
    }
}
