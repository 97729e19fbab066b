import Archive
import Bus
import Commands
import ConcentratorCore
import FoundationEssentials
import Logging
import Monitoring
import Platform

/// The switching side of edge monitoring, on its own thread (`schedules`): it sleeps until the next
/// switching instant of any output (or a retry, at most 30 s of agent time, at most 1 s real), asks
/// the `ScheduleEngine` what each output should be, lets the `SwitchingPlanner` decide on an attempt,
/// switches through the output's bus owner (the `relay` command's path: a coil write queued to the
/// owner, rule 1) and records the result: switching state, audit entry and `output_switched` event
/// in one transaction; a failure alarmed after the retry window is a `meter_alarm` with rule
/// `switching:<output>`. Needs only the bus and the clock: it runs whether the uplink is up or not, and
/// whether the clock is synchronised or not (the event's detail says when it is not).
final class ScheduleRunner: @unchecked Sendable {
    typealias Switch = @Sendable (MeterID, Bool) -> Result<Bool, BusError>?

    private let environment: MonitoringEnvironment
    private let recorder: MonitoringRecorder
    private let outputs: [String: SwitchedOutput]
    private let configured: MonitoringSettings
    private let location: SiteLocation
    private let zone: ZoneRules
    private let switchRelay: Switch
    private let lock = ConditionLock()
    // Guarded by `lock`.
    private var engine: ScheduleEngine
    private var planner: SwitchingPlanner
    /// The accepted `schedule.set` arguments, oldest first (compacted), read again at each start.
    private var changes: [JSONValue] = []
    /// The next change each output's last decision announced (the instant a switching is due).
    private var announced: [String: Timestamp] = [:]
    private var stopping = false
    private var running = false
    private var wakeRequested = false
    private var warnedUnsupported: Set<String> = []

    init?(setup: AgentSetup, environment: MonitoringEnvironment, switchRelay: @escaping Switch) {
        guard let settings = setup.config.monitoring, let location = settings.location, let zone = setup.zone,
              !settings.outputs.isEmpty else { return nil }
        self.environment = environment
        recorder = MonitoringRecorder(environment: environment)
        configured = settings
        self.location = location
        self.zone = zone
        self.switchRelay = switchRelay
        var byID: [String: SwitchedOutput] = [:]
        for o in settings.outputs { byID[o.id] = o }
        outputs = byID
        engine = ScheduleEngine(location: location, zone: zone, schedules: settings.schedules, timers: settings.timers,
                                overrides: settings.overrides)
        var restored: [String: OutputSwitchingState] = [:]
        if let bytes = try? environment.archive.reader.monitoringState(.switching) {
            do { restored = try JSONDecoder().decode([String: OutputSwitchingState].self, from: Data(bytes)) } catch {
                environment.logger.error("monitoring: the stored switching state is unreadable (\(error)); every output is switched anew")
            }
        }
        planner = SwitchingPlanner(policy: settings.switching, restoring: restored.filter { byID[$0.key] != nil })
        if let bytes = try? environment.archive.reader.monitoringState(.schedules),
           case .array(let items)? = try? JSONParser.parse(bytes) {
            for item in items {
                let (change, problem) = Self.read(item, outputs: settings.outputs.map(\.id))
                if let change {
                    Self.apply(change, to: &engine)
                    changes.append(item)
                } else {
                    environment.logger.warning("monitoring: a stored schedule change no longer applies and is dropped: \(problem)")
                }
            }
        }
    }

    // MARK: Lifecycle

    func start() {
        lock.withLock { running = true }
        DedicatedThread.start(name: "schedules") { [self] in
            loop()
            lock.withLock { running = false }
            lock.broadcast()
        }
    }

    /// Ends the thread after the switching in progress (if any), waiting at most until `deadline`.
    func stop(deadline: ContinuousClock.Instant) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        stopping = true
        lock.broadcast()
        while running {
            let left = deadline - .now
            guard left > .zero else { return false }
            _ = lock.wait(for: min(left, .milliseconds(100)))
        }
        return true
    }

    // MARK: Commands

    /// Applies a `schedule.set` change, keeps it in the archive and wakes the loop. `auditedAs`: the
    /// role of an audit entry written with it (the console's changes; the head-end's commands are
    /// audited by the command processor).
    func change(_ change: ScheduleChange, arguments: JSONValue, auditedAs role: String? = nil) -> Result<JSONValue, CommandRejection> {
        let bytes: [UInt8] = lock.withLock {
            Self.apply(change, to: &engine)
            changes = Self.compacted(changes + [arguments])
            return Array(JSONWriter.render(.array(changes), pretty: false).utf8)
        }
        let text = JSONWriter.render(arguments, pretty: false)
        let audit = role.map {
            AuditEntry(time: environment.clock.now(), keyID: "", role: $0, verb: "schedule.set", arguments: text, result: "ok",
                       message: "schedule of \(change.output) changed")
        }
        guard recorder.record([(.schedules, bytes)], audit: audit.map { [$0] } ?? []) else {
            return .failure(CommandRejection(.internalError, "the change applies now but could not be stored; it is lost at a restart"))
        }
        lock.withLock { wakeRequested = true }
        lock.broadcast()
        return .success(report(output: change.output))
    }

    /// The `schedule.get` result: each output (or one), its decision now and what drives it.
    func report(output: String?) -> JSONValue {
        let now = environment.clock.now()
        return lock.withLock {
            ScheduleReport.render(outputs: configured.outputs.filter { output == nil || $0.id == output }, engine: engine,
                                  planner: planner, runtime: Set(changes.compactMap(Self.scheduleOutput)), now: now)
        }
    }

    // MARK: The loop

    private func loop() {
        while true {
            let now = environment.clock.now()
            if lock.withLock({ stopping }) { return }
            var wake = now.adding(seconds: 30)
            // Switching does not wait for clock synchronisation: with the uplink down a gateway can be
            // without NTP for days, and lights must still switch (on the RTC's time; the events say so).
            for output in configured.outputs {
                if let next = step(output, now: now), next < wake { wake = next }
            }
            let realWait = environment.clock.realDuration(ofMilliseconds: max(0, wake.milliseconds - environment.clock.now().milliseconds))
            lock.lock()
            if !stopping, !wakeRequested { _ = lock.wait(for: min(max(realWait, .milliseconds(1)), .seconds(1))) }
            wakeRequested = false
            lock.unlock()
        }
    }

    /// Decides, switches and records one output; returns when it next needs attention.
    private func step(_ output: SwitchedOutput, now: Timestamp) -> Timestamp? {
        let planned: (attempt: SwitchingAttempt, due: Timestamp, source: SwitchingSource)? = lock.withLock {
            engine.removeExpired(at: now)
            guard let decision = engine.decision(for: output.id, at: now) else { return nil }
            let due = announced[output.id].map { $0 <= now ? $0 : now } ?? now
            announced[output.id] = decision.nextChange
            return planner.plan(output: output.id, desired: decision.state, at: now).map { ($0, due, decision.source) }
        }
        if let (attempt, due, source) = planned {
            perform(attempt, output: output, due: due, source: source)
        }
        return lock.withLock {
            let state = planner.states[output.id]
            let retry = state.flatMap { $0.target != $0.confirmed ? $0.nextAttempt : nil }
            return [announced[output.id], retry].compactMap { $0 }.min()
        }
    }

    private func perform(_ attempt: SwitchingAttempt, output: SwitchedOutput, due: Timestamp, source: SwitchingSource) {
        let on = attempt.state == .on
        let result: Result<Bool, BusError>?
        switch output.kind {
        case .relay: result = switchRelay(output.meter, on)
        case .lightingCircuit:
            if lock.withLock({ warnedUnsupported.insert(output.id).inserted }) {
                environment.logger.warning("monitoring: output \(output.id) is a lighting circuit; this build has no lighting-controller driver yet, so it is not switched")
            }
            result = .failure(.unsupported("lighting circuits have no driver in this build"))
        }
        let succeeded: Bool
        var detail: String
        switch result {
        case .success(let connected)?:
            succeeded = connected == on
            detail = succeeded ? "ok" : "read back \(connected ? "on" : "off")"
        case .failure(let error)?:
            succeeded = false
            detail = "\(error)"
        case nil:
            succeeded = false
            detail = "meter \(output.meter) is on no running bus"
        }
        if !environment.clockSynchronised() { detail += " (gateway clock not synchronised)" }
        let now = environment.clock.now()
        let (outcomes, bytes) = lock.withLock { () -> ([SwitchingOutcome], [UInt8]) in
            let outcomes = planner.record(output: output.id, succeeded: succeeded, at: now)
            return (outcomes, Self.encode(planner.states))
        }
        var events: [GatewayEvent] = []
        var audit: [AuditEntry] = []
        for outcome in outcomes {
            let (event, entry) = ScheduleReport.describe(outcome, output: output, due: due, source: source, detail: detail, zone: zone)
            events.append(event)
            if let entry { audit.append(entry) }
            environment.logger.notice("\(event.message)")
        }
        recorder.record([(.switching, bytes)], events: events, audit: audit)
    }

    // MARK: Runtime changes

    /// A stored `schedule.set` change read again against the configured outputs, or why it no longer applies.
    static func read(_ item: JSONValue, outputs: [String]) -> (change: ScheduleChange?, problem: String) {
        let collector = IssueCollector()
        guard let reader = collector.object(item, at: "$.args") else { return (nil, "not an object") }
        let change = ConfigurationLoader.readScheduleChange(reader, outputs: outputs)
        reader.finish()
        guard collector.issues.isEmpty, let change else { return (nil, collector.issues.map(\.description).joined(separator: "; ")) }
        return (change, "")
    }

    static func apply(_ change: ScheduleChange, to engine: inout ScheduleEngine) {
        switch change {
        case .schedule(let s): engine.setSchedule(s)
        case .override(let o): engine.setOverride(o)
        case .timer(let t): engine.addTimer(t)
        case .remove(let output, .schedule): engine.removeSchedule(output: output)
        case .remove(let output, .override): engine.removeOverride(output: output)
        case .remove(let output, .timers): engine.removeTimers(output: output)
        }
    }

    /// Keeps the stored list short: a later change of the same kind for the same output (timers: the
    /// same id) replaces an earlier one; at most 512 entries.
    static func compacted(_ items: [JSONValue]) -> [JSONValue] {
        var out: [JSONValue] = []
        var seen: Set<String> = []
        for item in items.reversed() {
            guard let key = identity(item), seen.insert(key).inserted else { continue }
            out.append(item)
        }
        return Array(out.reversed().suffix(512))
    }

    private static func identity(_ item: JSONValue) -> String? {
        guard let member = item.members?.first, let object = member.value.members else { return nil }
        let field = { (name: String) in object.first { $0.key == name }?.value.stringValue ?? "" }
        switch member.key {
        case "timer": return "timer:" + field("id")
        case "remove": return (field("what") == "timers" ? "remove-timers:" : (field("what") == "schedule" ? "schedule:" : "override:")) + field("output")
        default: return member.key + ":" + field("output")
        }
    }

    private static func scheduleOutput(_ item: JSONValue) -> String? {
        guard let member = item.members?.first, member.key == "schedule" else { return nil }
        return member.value.members?.first { $0.key == "output" }?.value.stringValue
    }

    static func encode(_ states: [String: OutputSwitchingState]) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? Array(encoder.encode(states))) ?? Array("{}".utf8)
    }
}
