import Archive
import Bus
import ConcentratorCore
import Logging
import Platform

/// How the agent runs: its clock (virtual in tests and the demo), where the control socket goes,
/// and the process environment (NOTIFY_SOCKET, WATCHDOG_USEC).
public struct AgentOptions: Sendable {
    public var clock: any WallClock
    public var controlSocketPath: String?
    public var environment: [String: String]
    /// Whether readings are flagged clock-unsynced when the kernel says so (off with a virtual clock).
    public var checkClockSync: Bool
    /// How long a graceful stop may take for the buses together (each finishes its current
    /// transaction and stores what it read). Below the unit's TimeoutStopSec=, with room for the
    /// uplink and the archive to close.
    public var stopBudget: Duration

    public init(clock: any WallClock = SystemClock(), controlSocketPath: String? = nil, environment: [String: String] = [:],
                checkClockSync: Bool = true, stopBudget: Duration = .seconds(20)) {
        self.clock = clock
        self.controlSocketPath = controlSocketPath
        self.environment = environment
        self.checkClockSync = checkClockSync
        self.stopBudget = stopBudget
    }

    /// Set to 1 to enable test-only control operations (`test.stall`); never set in production.
    public static let testHooksVariable = "CONCENTRATOR_TEST_HOOKS"
}

/// Why the agent could not start (after its configuration was accepted).
public enum AgentStartError: Error, CustomStringConvertible {
    case stateDirectory(FileError)
    case archive(ArchiveError)
    case controlSocket(FileError)

    public var description: String {
        switch self {
        case .stateDirectory(let e): return "state directory: \(e); check it exists and belongs to the agent's user"
        case .archive(let e): return "archive: \(e)"
        case .controlSocket(let e): return "control socket: \(e)"
        }
    }
}

/// The running concentrator: one owner per bus, the archive, the control socket and the
/// maintenance loop (retention, systemd status and watchdog).
public final class Agent: @unchecked Sendable {
    public let setup: AgentSetup
    private let options: AgentOptions
    let logger: Logger
    private let startedAt: Timestamp
    let notifier: SystemdNotifier
    private var archive: ArchiveStore?
    private var events: EventRecorder?
    var buses: [BusOwner] = []
    private var control: ControlServer?
    /// The loops that must progress for systemd's watchdog to be fed (see `ProgressWatchdog`).
    public let progress = ProgressWatchdog()
    var indicators: IndicatorPanel?
    private let lock = ConditionLock()
    private var stopping = false
    private var maintenanceRunning = false

    public init(setup: AgentSetup, options: AgentOptions, logger: Logger) {
        self.setup = setup
        self.options = options
        self.logger = logger
        startedAt = options.clock.now()
        notifier = SystemdNotifier(environment: options.environment)
    }

    /// Where the control socket lives.
    public var controlSocketPath: String {
        options.controlSocketPath ?? FileSystem.join(setup.config.device.runtimeDirectory, "control.sock")
    }

    /// Opens the archive, starts every bus owner and the control socket.
    public func start() throws(AgentStartError) {
        let device = setup.config.device
        do {
            try FileSystem.createDirectory(device.stateDirectory, mode: 0o700)
            try FileSystem.createDirectory(device.runtimeDirectory, mode: 0o750)
        } catch {
            throw .stateDirectory(error)
        }
        let store: ArchiveStore
        do {
            store = try ArchiveStore.open(directory: device.stateDirectory, clock: options.clock, logger: logger).store
        } catch {
            throw .archive(error)
        }
        archive = store
        let recorder = EventRecorder(archive: store, logger: logger)
        events = recorder
        let sink = ArchiveSnapshotSink(archive: store)
        let schedule = BusSchedule(archive: setup.config.archive, live: setup.config.polling.live)
        let checkSync = options.checkClockSync
        buses = setup.config.buses.map { bus in
            BusOwner(settings: bus, meters: setup.meters(on: bus.name), schedule: schedule, clock: options.clock, sink: sink,
                     logger: logger, clockSynchronised: { checkSync ? ClockSynchronisation.isSynchronised() : true },
                     onEvent: { recorder.record($0) })
        }
        for bus in buses { progress.register(name: "bus \(bus.name)") { bus.lastProgress } }
        let handler = ControlRequestHandler(buses: buses, setup: setup, events: recorder,
                                            testHooks: options.environment[AgentOptions.testHooksVariable] == "1") { [weak self] in
            self?.status() ?? AgentStatus(device: "", version: "", startedAt: Timestamp(milliseconds: 0),
                                          now: Timestamp(milliseconds: 0), clockSynchronised: false, buses: [], archive: nil)
        }
        do {
            control = try ControlServer(path: controlSocketPath, handler: handler, logger: logger)
        } catch {
            store.close()
            throw .controlSocket(error)
        }
        for bus in buses { bus.start() }
        startIndicators()
        control?.start()
        recorder.record(GatewayEvent(time: options.clock.now(), kind: .agentStarted, severity: .info,
                                     message: "concentrator \(ConcentratorVersion.current) started with \(setup.config.meters.count) meters on \(buses.count) buses"))
        lock.withLock { maintenanceRunning = true }
        DedicatedThread.start(name: "maintenance") { [self] in maintain() }
        logger.info("running: device \(device.id), \(buses.count) buses, \(setup.config.meters.count) meters, control socket \(controlSocketPath)")
        notifier.ready(status: healthSummary())
    }

    /// Starts, waits for SIGTERM/SIGINT, then stops gracefully. The caller must have blocked the
    /// termination signals (`TerminationSignals.block()`) before any thread started.
    public func run() throws(AgentStartError) {
        try start()
        let signal = TerminationSignals.wait()
        logger.notice("\(TerminationSignals.name(signal)) received; stopping")
        stop()
    }

    /// Stops gracefully: no new control requests, each bus finishes its current transaction and
    /// stores what it read, queued archive writes complete, then the archive closes.
    public func stop() {
        let first = lock.withLock { () -> Bool in
            defer { stopping = true }
            return !stopping
        }
        guard first else { return }
        notifier.stopping()
        events?.record(GatewayEvent(time: options.clock.now(), kind: .agentStopping, severity: .info, message: "stopping"))
        control?.stop()
        stopBuses(within: options.stopBudget)
        lock.lock()
        while maintenanceRunning { lock.wait(for: .milliseconds(100)) }
        lock.unlock()
        indicators?.stop()
        events?.stop()
        archive?.close()
        logger.info("stopped")
    }

    /// The agent's state, for the control socket and systemd STATUS.
    public func status() -> AgentStatus {
        let archiveStatus = archive.map { store -> ArchiveStatus in
            let range = try? store.reader.storedRange(series: .interval)
            return ArchiveStatus(path: store.path, fileBytes: FileSystem.size(store.path) ?? 0,
                                 newestInterval: range?.upperBound, oldestInterval: range?.lowerBound, lastError: nil)
        }
        return AgentStatus(device: setup.config.device.id, version: ConcentratorVersion.current, startedAt: startedAt,
                           now: options.clock.now(), clockSynchronised: ClockSynchronisation.isSynchronised(),
                           buses: buses.map { $0.status() }, archive: archiveStatus)
    }

    /// One line for systemd's STATUS=.
    func healthSummary() -> String {
        let statuses = buses.map { $0.status() }
        let online = statuses.reduce(0) { $0 + $1.metersOnline }
        let total = statuses.reduce(0) { $0 + $1.meters.count }
        let portsDown = statuses.filter { !$0.portOpen }.count
        let last = statuses.compactMap { $0.lastCycle?.intervalStart }.max().map { ISO8601.format($0) } ?? "none yet"
        return "\(online)/\(total) meters answering, \(portsDown) ports down, last snapshot \(last)"
    }

    // MARK: Maintenance

    private func maintain() {
        var nextPrune = options.clock.now()
        var nextStatus = ContinuousClock.now
        var watchdog = notifier.watchdogInterval.map { WatchdogGate(interval: $0, now: .now) }
        while !lock.withLock({ stopping }) {
            let now = options.clock.now()
            if now >= nextPrune, let archive {
                // Small steps with a time budget: a commit waits at most one step (DESIGN rule 6).
                do {
                    let r = try archive.pruneBlocking(now: now, retentionDays: setup.config.archive.retentionDays)
                    if r.snapshotsRemoved + r.eventsRemoved + r.auditEntriesRemoved > 0 {
                        logger.info("retention: removed \(r.snapshotsRemoved) snapshots, \(r.eventsRemoved) events, \(r.auditEntriesRemoved) audit entries in \(r.steps) steps (longest \(Int(r.longestStep.inMilliseconds)) ms)")
                    }
                    nextPrune = r.complete ? now.adding(seconds: 600) : now.adding(seconds: 5)
                } catch {
                    nextPrune = now.adding(seconds: 600)
                }
            }
            if ContinuousClock.now >= nextStatus {
                notifier.status(healthSummary())
                nextStatus = .now + .seconds(10)
            }
            if watchdog != nil { watchdogTick(&watchdog!) }
            sleepThread(.milliseconds(250))
        }
        lock.withLock { maintenanceRunning = false }
        lock.broadcast()
    }
}
