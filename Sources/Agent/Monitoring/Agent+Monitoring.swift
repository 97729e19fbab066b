import Archive
import Bus
import Commands
import ConcentratorCore
import Monitoring
import Platform

/// Edge monitoring in the agent's lifecycle: started after the archive and before the buses (so the
/// first snapshots are observed), stopped after the buses (their last snapshots are observed) and
/// before the uplink and the archive, restarted by a reload. The wiring in `Agent` is marked
/// "edge monitoring".
extension Agent {
    /// Starts monitoring for `setup` (stopping the one in force first).
    func startMonitoring(_ setup: AgentSetup) {
        guard let archive else { return }
        stopMonitoring()
        let checkSync = options.checkClockSync
        let environment = MonitoringEnvironment(
            archive: archive, clock: options.clock, logger: logger,
            reportsToUplink: { [weak self] in self?.setup.config.uplink != nil },
            workArrived: { [weak self] in self?.uplink?.workArrived() },
            noteStored: { [weak self] in self?.events?.noteStored($0) },
            clockSynchronised: { checkSync ? ClockSynchronisation.isSynchronised() : true })
        let service = MonitoringService(setup: setup, environment: environment) { [weak self] meter, on in
            self?.currentBuses.first { $0.owns(meter) }?.setRelay(meter: meter, connected: on, startDeadline: .seconds(30))
        }
        service.start()
        monitoring = service
    }

    /// Stops monitoring within a few seconds (its state is written one last time).
    func stopMonitoring() {
        guard let service = monitoring else { return }
        monitoring = nil
        if !service.stop(deadline: .now + .seconds(5)) { logger.error("monitoring did not stop within 5 s; its last state may not be stored") }
    }

    /// Hands the live cadence's values to monitoring (threshold and mains rules react within a live period).
    func observeLiveValues(of bus: BusOwner) {
        bus.onLiveValues = { [weak self] snapshot in self?.monitoring?.liveValuesRead(snapshot) }
    }

    /// Hands every committed snapshot to monitoring (the snapshot sink calls it after the commit).
    func attachMonitoring(to sink: ArchiveSnapshotSink) {
        sink.onStored = { [weak self] series, snapshots in self?.monitoring?.snapshotsStored(snapshots, series: series) }
    }
}

extension AgentCommandExecutor {
    func acknowledgeAlarm(rule: String, meter: MeterID) -> AlarmAcknowledgement? {
        agentMonitoring?.alarms.acknowledge(rule: rule, meter: meter)
    }

    func changeSchedule(_ change: ScheduleChange, arguments: JSONValue) -> Result<JSONValue, CommandRejection>? {
        agentMonitoring?.schedules?.change(change, arguments: arguments)
    }

    func scheduleReport(output: String?) -> JSONValue? {
        agentMonitoring?.schedules?.report(output: output)
    }
}

extension Agent {
    /// The control socket's `monitoring`: `{"alarms": [...], "schedules": <schedule.get result or null>}`
    /// as JSON text, for the installer's console.
    func monitoringReport() -> String? {
        guard let service = monitoring, service.isConfigured else { return nil }
        let alarms: [JSONValue] = service.alarms.alarms().map { key, rule, state in
            func number(_ v: Double?) -> JSONValue { v.map { .number($0, text: DecimalText.format($0, maximumFractionDigits: 6)) } ?? .null }
            return .sortedObject(["rule": .string(key.rule), "meter": .string(key.meter.rawValue), "phase": .string(state.phase.name),
                                  "kind": .string(rule.condition.kindName), "severity": .number(Double(rule.severity.rawValue), text: String(rule.severity.rawValue)),
                                  "since": state.since.map { .string(ISO8601.format($0)) } ?? .null,
                                  "value": number(state.value), "threshold": number(state.threshold)])
        }
        return JSONWriter.render(.sortedObject(["alarms": .array(alarms), "schedules": service.schedules?.report(output: nil) ?? .null]),
                                 pretty: false)
    }
}

extension Agent {
    /// The control socket's `schedule.set` (the installer's console): read like the verb's args,
    /// applied and kept like a `schedule.set` from the head-end, and audited (role `console`).
    func changeScheduleFromConsole(_ arguments: String) -> Result<String, ControlFailure> {
        guard let schedules = monitoring?.schedules, let outputs = setup.config.monitoring?.outputs.map(\.id) else {
            return .failure(ControlFailure(code: "unsupported", message: "no switched outputs: monitoring.outputs and a location are needed"))
        }
        guard let parsed = try? JSONParser.parse(arguments) else {
            return .failure(ControlFailure(code: "bad-request", message: "the arguments are not JSON"))
        }
        let collector = IssueCollector()
        guard let reader = collector.object(parsed, at: "$.arguments") else {
            return .failure(ControlFailure(code: "bad-request", message: "the arguments must be a JSON object"))
        }
        let change = ConfigurationLoader.readScheduleChange(reader, outputs: outputs)
        reader.finish()
        guard collector.issues.isEmpty, let change else {
            return .failure(ControlFailure(code: "bad-request", message: collector.issues.map(\.description).joined(separator: "; ")))
        }
        switch schedules.change(change, arguments: parsed, auditedAs: "console") {
        case .success(let report): return .success(JSONWriter.render(report, pretty: false))
        case .failure(let rejection): return .failure(ControlFailure(code: "internal", message: rejection.message))
        }
    }
}
