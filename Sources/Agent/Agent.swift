import Archive
import Bus
import Commands
import ConcentratorCore
import KeyFiles
import Logging
import Platform
import Uplink

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
    /// Another component did not start (what started before it was stopped again).
    case component(String, String)

    public var description: String {
        switch self {
        case .stateDirectory(let e): return "state directory: \(e); check it exists and belongs to the agent's user"
        case .archive(let e): return "archive: \(e)"
        case .controlSocket(let e): return "control socket: \(e)"
        case .component(let name, let reason): return "\(name): \(reason)"
        }
    }
}

/// How `Agent.run()` ended.
public enum AgentExit: Sendable {
    /// SIGTERM or SIGINT: the process should exit.
    case stopped
    /// A `restart` command: the process should execute itself again (`ProcessRestart.reexecute`).
    case restartRequested
}

/// The running concentrator: one owner per bus, the archive, the uplink with its command processor,
/// the control socket and the maintenance loop (retention, configuration trial, systemd status and watchdog).
public final class Agent: AgentControl, @unchecked Sendable {
    let options: AgentOptions
    let logger: Logger
    private let startedAt: Timestamp
    let notifier: SystemdNotifier
    /// The loops that must progress for systemd's watchdog to be fed (see `ProgressWatchdog`).
    public let progress = ProgressWatchdog()
    var indicators: IndicatorPanel?
    var archive: ArchiveStore? {
        get { lock.withLock { parts.archive } }
        set { lock.withLock { parts.archive = newValue } }
    }
    var events: EventRecorder? {
        get { lock.withLock { parts.events } }
        set { lock.withLock { parts.events = newValue } }
    }
    /// Verifies and runs signed commands from the head-end (when an uplink is configured).
    var commands: CommandProcessor? {
        get { lock.withLock { parts.commands } }
        set { lock.withLock { parts.commands = newValue } }
    }
    /// The running parts, set and cleared by their components (`Agent+Components.swift`); under `lock`.
    var parts = RunningParts()
    /// The started components in order (replaced at each start).
    var lifecycle: ComponentLifecycle { lock.withLock { currentLifecycle } }
    private var currentLifecycle = ComponentLifecycle()
    /// Test hook: the component with this name fails to start.
    var failingComponent: String?
    private var deviceKeys: DeviceKeys?
    /// The device keys in force (replaced by `keys.rotate`).
    var keys: DeviceKeys? {
        get { lock.withLock { deviceKeys } }
        set { lock.withLock { deviceKeys = newValue } }
    }
    /// A configuration applied by command and waiting for the head-end's ack; guarded by `lock`.
    var trialState = ConfigTrialState.none
    private var runningUntilSignal = false
    private var restartRequested = false
    /// Replaced by a reload that changes the uplink settings; read under `lock`.
    var currentUplink: UplinkService?
    var uplink: UplinkService? {
        get { lock.withLock { currentUplink } }
        set { lock.withLock { currentUplink = newValue } }
    }
    let lock = ConditionLock()
    /// The mesh (when configured): relays for others, and carries this device's batches while its broker is unreachable.
    var mesh: MeshService?
    private var stopping = false
    var maintenanceRunning = false
    var maintenanceStop = false
    // Replaced together by a reload; read under `lock`.
    private var currentSetup: AgentSetup
    var buses: [BusOwner] = []
    /// Serialises reloads (a SIGHUP and a control request at once).
    private let reloadLock = ConditionLock()
    /// Edge monitoring (Agent+Monitoring.swift); read under `lock`.
    private var monitoringService: MonitoringService?
    var monitoring: MonitoringService? {
        get { lock.withLock { monitoringService } }
        set { lock.withLock { monitoringService = newValue } }
    }

    public init(setup: AgentSetup, options: AgentOptions, logger: Logger) {
        currentSetup = setup
        self.options = options
        self.logger = logger
        startedAt = options.clock.now()
        notifier = SystemdNotifier(environment: options.environment)
    }

    /// The configuration in force.
    public var setup: AgentSetup { lock.withLock { currentSetup } }

    /// The bus owners in force.
    var currentBuses: [BusOwner] { lock.withLock { buses } }

    /// Where the control socket lives.
    public var controlSocketPath: String {
        options.controlSocketPath ?? FileSystem.join(setup.config.device.runtimeDirectory, "control.sock")
    }

    /// Starts the components in order (`startComponents`): the archive, the event recorder, the
    /// control socket, the uplink, the maintenance loop, the buses, the LEDs, the command processor,
    /// then control requests. A failed start stops what already started, in reverse.
    public func start() throws(AgentStartError) {
        let setup = self.setup
        let device = setup.config.device
        do {
            try FileSystem.createDirectory(device.stateDirectory, mode: 0o700)
            try FileSystem.createDirectory(device.runtimeDirectory, mode: 0o750)
        } catch {
            throw .stateDirectory(error)
        }
        let life = ComponentLifecycle(failing: failingComponent)
        lock.withLock { currentLifecycle = life }
        do throws(ComponentStartFailure) {
            try startComponents(setup, life)
        } catch {
            if let e = error.underlying as? ArchiveError { throw .archive(e) }
            if let e = error.underlying as? FileError, error.component == "control socket" { throw .controlSocket(e) }
            throw .component(error.component, "\(error.underlying)")
        }
        events?.record(GatewayEvent(time: options.clock.now(), kind: .agentStarted, severity: .info,
                                    message: "concentrator \(ConcentratorVersion.current) started with \(setup.config.meters.count) meters on \(setup.config.buses.count) buses"))
        logger.info("running: device \(device.id), \(setup.config.buses.count) buses, \(setup.config.meters.count) meters, control socket \(controlSocketPath)")
        notifier.ready(status: healthSummary())
    }

    /// Creates and starts one owner per configured bus, storing through `sink`.
    func startBuses(_ setup: AgentSetup, sink: ArchiveSnapshotSink) {
        guard let recorder = events else { return }
        let schedule = busSchedule(setup)
        let checkSync = options.checkClockSync
        let services = archive.map { meterServices(setup, archive: $0) } ?? .none
        let owners = setup.config.buses.map { bus in
            BusOwner(settings: bus, meters: setup.meters(on: bus.name), schedule: schedule, clock: options.clock, sink: sink,
                     logger: logger, clockSynchronised: { checkSync ? ClockSynchronisation.isSynchronised() : true },
                     services: services, onEvent: { recorder.record($0) })
        }
        lock.withLock { buses = owners }
        for bus in owners { observeLiveValues(of: bus) } // edge monitoring
        for bus in owners {
            progress.register(name: "bus \(bus.name)") { bus.lastProgress }
            bus.start()
        }
    }

    /// Takes the bus owners out of service (they are stopped by `stopBuses(_:within:)`).
    func takeBuses() -> [BusOwner] {
        let owners = lock.withLock { () -> [BusOwner] in
            defer { buses = [] }
            return buses
        }
        for bus in owners { progress.unregister(name: "bus \(bus.name)") }
        return owners
    }

    /// Starts, then serves signals until SIGTERM/SIGINT: SIGHUP reloads the configuration. The
    /// caller must have blocked the signals (`TerminationSignals.block()`) before any thread started.
    /// Returns `.restartRequested` after a `restart` command (the caller re-executes the program).
    @discardableResult
    public func run() throws(AgentStartError) -> AgentExit {
        try start()
        lock.withLock { runningUntilSignal = true }
        while true {
            let signal = TerminationSignals.wait()
            if signal == TerminationSignals.reloadSignal {
                switch reload() {
                case .success(let summary): logger.notice("SIGHUP: \(summary)")
                case .failure(let failure): logger.error("SIGHUP: configuration not applied: \(failure.message)")
                }
                continue
            }
            if lock.withLock({ restartRequested }) {
                logger.notice("restart requested by command; stopping, then starting again")
                break
            }
            logger.notice("\(TerminationSignals.name(signal)) received; stopping")
            break
        }
        let restart = lock.withLock { restartRequested }
        stop()
        return restart ? .restartRequested : .stopped
    }

    /// Makes `run()` stop and return `.restartRequested` (the `restart` command). Ignored when the
    /// agent was started without `run()` (embedded in tests), where no signal loop could hear it.
    func requestRestart() {
        let accepted = lock.withLock { () -> Bool in
            guard runningUntilSignal else { return false }
            restartRequested = true
            return true
        }
        guard accepted else {
            logger.warning("restart requested, but this agent does not run its signal loop; ignored")
            return
        }
        TerminationSignals.raiseTerminate()
    }

    /// Re-reads the configuration file. If it is valid, the buses restart with it (each finishing
    /// its transaction and storing what it read first); if not, nothing changes and every problem is
    /// returned. The device id and the state and runtime directories need a restart.
    func reload() -> Result<String, ControlFailure> {
        reloadLock.withLock {
            let old = setup
            let new: AgentSetup
            do throws(AgentSetupError) {
                new = try AgentSetup.load(configPath: old.configPath)
            } catch {
                return .failure(ControlFailure(code: "invalid-config", message: error.description))
            }
            let (a, b) = (old.config.device, new.config.device)
            guard a.id == b.id, a.stateDirectory == b.stateDirectory, a.runtimeDirectory == b.runtimeDirectory else {
                return .failure(ControlFailure(code: "restart-required",
                                               message: "device id, state or runtime directory changed; restart the agent to apply"))
            }
            if new.config == old.config {
                return .success("configuration unchanged")
            }
            lock.withLock { currentSetup = new }
            let life = lifecycle
            if new.config.uplink != old.config.uplink {
                // The uplink restarts with the new broker or keys; what it had not sent stays queued.
                restartUplink(new)
            }
            // Edge monitoring takes the new rules, outputs and schedules; the buses restart with the new
            // configuration (each finishing its transaction first), then the LEDs.
            try? life.replace(life.component(named: "monitoring"), with: monitoringComponent(new), within: options.stopBudget)
            try? life.replace(life.component(named: "buses"), with: busesComponent(new), within: options.stopBudget)
            try? life.replace(life.component(named: "indicators"), with: indicatorsComponent(), within: options.stopBudget)
            let summary = "configuration applied: \(new.config.buses.count) buses, \(new.config.meters.count) meters (was \(old.config.buses.count) buses, \(old.config.meters.count) meters)"
            events?.record(GatewayEvent(time: options.clock.now(), kind: .configApplied, severity: .info, message: summary))
            logger.notice("\(summary)")
            return .success(summary)
        }
    }

    /// Replaces the uplink component (new settings or new device keys): the old one says goodbye
    /// and stops; what it had not sent stays queued for the new one, which the buses' sink and the
    /// event listener find through `uplink` (nothing keeps the stopped one).
    func restartUplink(_ setup: AgentSetup) {
        guard !lock.withLock({ stopping }) else { return }
        let life = lifecycle
        try? life.replace(life.component(named: "uplink"), with: uplinkComponent(setup, startupGrace: .zero), within: options.stopBudget)
    }

    /// Restarts the uplink with the device keys in force (after `keys.rotate`), in turn with reloads.
    func restartUplinkWithCurrentKeys() { reloadLock.withLock { restartUplink(setup) } }

    /// Stops gracefully: no new control requests, each bus finishes its current transaction and
    /// stores what it read, queued archive writes complete, then the archive closes.
    public func stop() {
        let (first, restarting) = lock.withLock { () -> (Bool, Bool) in
            defer { stopping = true }
            return (!stopping, restartRequested)
        }
        guard first else { return }
        // Before a restart in place (same process id), systemd hears a reload, not a stop.
        if restarting { _ = notifier.notify("RELOADING=1\nSTATUS=restarting by command") } else { notifier.stopping() }
        events?.record(GatewayEvent(time: options.clock.now(), kind: .agentStopping, severity: .info,
                                    message: restarting ? "restarting by command" : "stopping"))
        // Control requests, commands, the LEDs, the buses (each storing what it read), the
        // maintenance loop, the uplink (sending agent_stopping), the event writer, the archive.
        lifecycle.stopAll(within: options.stopBudget)
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
                           buses: currentBuses.map { $0.status() }, archive: archiveStatus, uplink: uplink?.currentState(),
                           mesh: mesh?.state)
    }

    /// The newest audit entries, newest first (the control socket's `audit`).
    func newestAuditRecords(limit: Int) -> [CommandAuditRecord] {
        let entries = (try? archive?.reader.newestAuditEntries(limit: limit)) ?? []
        return entries.map {
            CommandAuditRecord(time: $0.time, commandID: $0.commandID, keyID: $0.keyID, role: $0.role, verb: $0.verb,
                               arguments: $0.arguments, result: $0.result, message: $0.message)
        }
    }

    /// One line for systemd's STATUS=.
    func healthSummary() -> String {
        let statuses = currentBuses.map { $0.status() }
        let online = statuses.reduce(0) { $0 + $1.metersOnline }
        let total = statuses.reduce(0) { $0 + $1.meters.count }
        let portsDown = statuses.filter { !$0.portOpen }.count
        let last = statuses.compactMap { $0.lastCycle?.intervalStart }.max().map { ISO8601.format($0) } ?? "none yet"
        return "\(online)/\(total) meters answering, \(portsDown) ports down, last snapshot \(last)"
    }

    // MARK: Maintenance

    func maintain() {
        var retention: RetentionRunner?
        var nextStatus = ContinuousClock.now
        var watchdog = notifier.watchdogInterval.map { WatchdogGate(interval: $0, now: .now) }
        // Once the agent has settled, and then every ten minutes, let the kernel take back code pages:
        // those only start-up used, and those a rare path touched once. What the loops keep using
        // faults straight back in from the page cache.
        var nextCodeRelease = ContinuousClock.now + .seconds(30)
        var firstRelease = true
        var storage = StorageWatch(directory: setup.config.device.stateDirectory, threshold: Int64(setup.config.archive.storageLowFreeBytes))
        var nextStorageCheck = ContinuousClock.now
        while !lock.withLock({ stopping || maintenanceStop }) {
            if ContinuousClock.now >= nextCodeRelease {
                let before = MemoryFootprint.residentBytes() ?? 0
                MemoryFootprint.releaseIdleCode()
                let message = "released idle code pages: resident \(before / 1024) KiB → \((MemoryFootprint.residentBytes() ?? 0) / 1024) KiB"
                if firstRelease { logger.info("\(message)") } else { logger.debug("\(message)") }
                firstRelease = false
                nextCodeRelease = .now + .seconds(600)
            }
            if let archive {
                if retention == nil { retention = makeRetentionRunner(archive: archive) }
                retentionTick(&retention!, archive: archive)
            }
            checkConfigTrial()
            if ContinuousClock.now >= nextStorageCheck, let archive {
                nextStorageCheck = .now + .seconds(5)
                let reserve = (try? archive.refreshStorageReserve()) ?? archive.storageReserve
                for event in storage.check(freeBytes: FileSystem.freeBytes(at: storage.directory), reserve: reserve, at: options.clock.now()) {
                    logger.log(level: event.severity == .info ? .notice : .warning, "\(event.kind): \(event.message)")
                    events?.record(event)
                }
            }
            if ContinuousClock.now >= nextStatus {
                notifier.status(healthSummary())
                nextStatus = .now + .seconds(10)
            }
            if watchdog != nil { watchdogTick(&watchdog!) }
            indicators?.showUplink(uplink.map { $0.currentState().connected ? .connected : .connecting } ?? .off)
            sleepThread(.milliseconds(250))
        }
        lock.withLock { maintenanceRunning = false }
        lock.broadcast()
    }
}
