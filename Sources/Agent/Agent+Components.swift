import Archive
import Bus
import Commands
import Mesh
import ConcentratorCore
import Platform
import Uplink

/// The objects the running components created; cleared by their stops. Guarded by `Agent.lock`.
struct RunningParts {
    var archive: ArchiveStore?
    var events: EventRecorder?
    var commands: CommandProcessor?
    var control: ControlServer?
    /// Where the buses in force store their snapshots.
    var sink: ArchiveSnapshotSink?
}

extension Agent {
    /// Starts the agent's components in order through `life` (which unwinds on a failure). The
    /// control socket is bound before the buses open their ports (a second agent fails first) but
    /// answers requests only once everything else runs.
    func startComponents(_ setup: AgentSetup, _ life: ComponentLifecycle) throws(ComponentStartFailure) {
        let device = setup.config.device
        let budget = options.stopBudget
        try life.start(AgentPart("archive", start: { [self] in
            let archiveOptions = ArchiveOptions(reserveBytes: Int64(setup.config.archive.storageReserveBytes))
            archive = try ArchiveStore.open(directory: device.stateDirectory, options: archiveOptions, clock: options.clock, logger: logger).store
        }, stop: { [self] _ in
            archive?.close()
        }), unwindBudget: budget)
        try life.start(AgentPart("events", start: { [self] in
            guard let archive else { return }
            let recorder = EventRecorder(archive: archive, logger: logger)
            recorder.addListener { [weak self] in self?.uplink?.enqueue(event: $0) }
            recorder.addListener { [weak self] in self?.monitoring?.eventRecorded($0) } // edge monitoring
            events = recorder
            keys = Self.deviceKeys(stateDirectory: device.stateDirectory, logger: logger)
        }, stop: { [self] _ in
            events?.stop()
        }), unwindBudget: budget)
        try life.start(AgentPart("control socket", start: { [self] in
            let testHooks = options.environment[AgentOptions.testHooksVariable] == "1"
            let server = try ControlServer(path: controlSocketPath, handler: ControlRequestHandler(agent: self, testHooks: testHooks), logger: logger)
            lock.withLock { parts.control = server }
        }, stop: { [self] _ in
            takeControl()?.stop()
        }), unwindBudget: budget)
        try life.start(uplinkComponent(setup, startupGrace: .seconds(2)), unwindBudget: budget)
        try life.start(AgentPart("mesh", start: { [self] in startMesh(setup) }, stop: { [self] _ in
            let service = lock.withLock { () -> MeshService? in
                defer { mesh = nil }
                return mesh
            }
            uplink?.useAlternateRoute(nil)
            progress.unregister(name: "mesh")
            service?.stop()
        }), unwindBudget: budget)
        resumeConfigTrial()
        try life.start(AgentPart("maintenance", start: { [self] in
            lock.withLock {
                maintenanceRunning = true
                maintenanceStop = false
            }
            DedicatedThread.start(name: "maintenance") { [self] in maintain() }
        }, stop: { [self] deadline in
            lock.withLock { maintenanceStop = true }
            lock.lock()
            while maintenanceRunning, ContinuousClock.now < deadline + .seconds(1) { lock.wait(for: .milliseconds(100)) }
            lock.unlock()
        }), unwindBudget: budget)
        // Edge monitoring before the buses, so their first snapshots are observed.
        try life.start(monitoringComponent(setup), unwindBudget: budget)
        try life.start(busesComponent(setup), unwindBudget: budget)
        try life.start(indicatorsComponent(), unwindBudget: budget)
        try life.start(AgentPart("commands", start: { [self] in
            guard let archive, let recorder = events else { return }
            let executor = AgentCommandExecutor(agent: self)
            let processor = CommandProcessor(deviceID: device.id, archive: archive, clock: options.clock, logger: logger, channel: executor,
                                             executor: executor, onEvent: { recorder.record($0) })
            commands = processor
            // The command thread is watched like the bus threads (issue 17 #8).
            progress.register(name: "commands") { processor.lastProgress }
        }, stop: { [self] deadline in
            let processor = lock.withLock { () -> CommandProcessor? in
                defer { parts.commands = nil }
                return parts.commands
            }
            progress.unregister(name: "commands")
            processor?.stop(timeout: max(.seconds(1), deadline - .now))
        }), unwindBudget: budget)
        try life.start(AgentPart("control requests", start: { [self] in
            lock.withLock { parts.control }?.start()
        }, stop: { [self] _ in
            takeControl()?.stop()
        }), unwindBudget: budget)
    }

    /// The control server, taken out of service (closed once only).
    private func takeControl() -> ControlServer? {
        lock.withLock {
            defer { parts.control = nil }
            return parts.control
        }
    }

    /// The uplink as a component: its stop stops exactly the service its start created. The sink and
    /// the event listener reach the uplink in force through `uplink`, never a stopped one.
    func uplinkComponent(_ setup: AgentSetup, startupGrace: Duration) -> AgentPart {
        let created = Locked<UplinkService?>(nil)
        return AgentPart("uplink", start: { [self] in
            guard let archive else { return }
            let service = makeUplink(setup, keys: keys, archive: archive, startupGrace: startupGrace)
            created.value = service
            uplink = service
            // The mesh (when running) carries batches while the broker is unreachable.
            if let mesh = lock.withLock({ mesh }) {
                service?.useAlternateRoute(mesh)
                service?.decorateStatus { $0.mesh = mesh.state }
            }
            if let service { progress.register(name: "uplink") { service.lastProgress } }
        }, stop: { [self] _ in
            guard let service = created.value else { return }
            service.stopBlocking()
            let current = lock.withLock { () -> Bool in
                guard let u = currentUplink, u === service else { return false }
                currentUplink = nil
                return true
            }
            if current { progress.unregister(name: "uplink") }
        })
    }

    /// The bus owners of `setup` as one component; they store through a sink that wakes the uplink in force.
    func busesComponent(_ setup: AgentSetup) -> AgentPart {
        AgentPart("buses", start: { [self] in
            guard let archive else { return }
            let sink = ArchiveSnapshotSink(archive: archive, schedules: Self.schedules(setup.config.archive),
                                           reportsToUplink: setup.config.uplink != nil)
            sink.onEnqueued = { [weak self] in self?.uplink?.workArrived() }
            attachMonitoring(to: sink) // edge monitoring
            lock.withLock { parts.sink = sink }
            startBuses(setup, sink: sink)
            monitoring?.startSchedules() // edge monitoring: switching needs the buses
        }, stop: { [self] deadline in
            stopBuses(takeBuses(), within: max(.zero, deadline - .now))
        })
    }

    /// Edge monitoring (alarms, schedules) as a component: stopped after the buses, before the uplink.
    func monitoringComponent(_ setup: AgentSetup) -> AgentPart {
        AgentPart("monitoring", start: { [self] in startMonitoring(setup) }, stop: { [self] _ in stopMonitoring() })
    }

    /// The board's LEDs as a component.
    func indicatorsComponent() -> AgentPart {
        AgentPart("indicators", start: { [self] in startIndicators() }, stop: { [self] _ in
            indicators?.stop()
            indicators = nil
        })
    }
}
