import Archive
import Bus
import Commands
import ConcentratorCore
import Logging
import Monitoring
import Platform

/// Edge monitoring on the gateway as one component with an explicit start and a stop by deadline:
/// the alarms (`AlarmMonitor`), the schedules (`ScheduleRunner`, when outputs and a location are
/// configured), a ticker that lets time pass for the alarm rules (at least every 30 s of agent time),
/// and the meters' POD and serial number reported to the head-end when they change
/// (`meter_identity` events, for the CER export). Docs/edge-monitoring.md, "Integration".
final class MonitoringService: @unchecked Sendable {
    let alarms: AlarmMonitor
    let schedules: ScheduleRunner?
    /// Whether the configuration has a `monitoring` section. Without one only the meters' identities
    /// are reported, and the verbs and the console say that monitoring does not run.
    let isConfigured: Bool
    private let environment: MonitoringEnvironment
    private let identities: [(meter: MeterID, text: String)]
    private let lock = ConditionLock()
    private var stopping = false
    private var ticking = false

    init(setup: AgentSetup, environment: MonitoringEnvironment, switchRelay: @escaping ScheduleRunner.Switch) {
        self.environment = environment
        isConfigured = setup.config.monitoring != nil
        alarms = AlarmMonitor(setup: setup, environment: environment)
        schedules = ScheduleRunner(setup: setup, environment: environment, switchRelay: switchRelay)
        identities = setup.config.meters.compactMap { m in
            guard m.pod != nil || m.serialNumber != nil else { return nil }
            var members: [String: JSONValue] = [:]
            if let pod = m.pod { members["pod"] = .string(pod) }
            if let serial = m.serialNumber { members["serialNumber"] = .string(serial) }
            return (m.id, JSONWriter.render(.sortedObject(members), pretty: false))
        }
    }

    /// Starts the alarms' ticker and reports changed meter identities. The schedules start
    /// separately (`startSchedules`), once the buses run.
    func start() {
        reportIdentities()
        lock.withLock { ticking = true }
        DedicatedThread.start(name: "alarm-tick") { [self] in
            while true {
                alarms.advance()
                let wait = min(environment.clock.realDuration(ofMilliseconds: 30_000), .seconds(1))
                let done = lock.withLock { () -> Bool in
                    if !stopping { _ = lock.wait(for: max(wait, .milliseconds(10))) }
                    return stopping
                }
                if done { break }
            }
            lock.withLock { ticking = false }
            lock.broadcast()
        }
    }

    /// Starts switching outputs (the buses must be running).
    func startSchedules() { schedules?.start() }

    /// Stops the schedules (after a switching in progress), the ticker, then the alarms (their state
    /// written one last time), all within `deadline`. Returns false when something did not finish.
    @discardableResult
    func stop(deadline: ContinuousClock.Instant) -> Bool {
        var ok = schedules?.stop(deadline: deadline) ?? true
        lock.lock()
        stopping = true
        lock.broadcast()
        while ticking, deadline > .now { _ = lock.wait(for: .milliseconds(50)) }
        ok = ok && !ticking
        lock.unlock()
        return alarms.stop(deadline: deadline) && ok
    }

    // MARK: Inputs

    func snapshotsStored(_ snapshots: [MeterSnapshot], series: SeriesKind) {
        guard alarms.watchesAnything, !snapshots.isEmpty else { return }
        alarms.snapshotsStored(snapshots, series: series)
    }

    func liveValuesRead(_ snapshot: MeterSnapshot) {
        guard alarms.watchesAnything, !snapshot.values.isEmpty else { return }
        alarms.liveValuesRead(snapshot)
    }

    func eventRecorded(_ event: GatewayEvent) {
        guard alarms.watchesAnything else { return }
        alarms.eventRecorded(event)
    }

    /// One `meter_identity` event per meter whose POD or serial number differs from what was last
    /// reported (message: a JSON object with `pod` and `serialNumber`), stored with the new list.
    private func reportIdentities() {
        let current = JSONWriter.render(.sortedObject(Dictionary(identities.map { ($0.meter.rawValue, JSONValue.string($0.text)) },
                                                                 uniquingKeysWith: { a, _ in a })), pretty: false)
        let stored = (try? environment.archive.reader.monitoringState(.identities)).flatMap { try? JSONParser.parse($0) }
        guard stored.map({ JSONWriter.render($0, pretty: false) }) != current else { return }
        let previous = stored?.members ?? []
        let now = environment.clock.now()
        let events = identities.filter { id in previous.first { $0.key == id.meter.rawValue }?.value.stringValue != id.text }.map {
            GatewayEvent(time: now, kind: .meterIdentity, severity: .info, meter: $0.meter, message: $0.text)
        }
        MonitoringRecorder(environment: environment).record([(.identities, Array(current.utf8))], events: events)
    }
}
