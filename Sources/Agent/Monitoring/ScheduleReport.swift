import Archive
import Commands
import ConcentratorCore
import Monitoring
import Wire

/// The texts of the schedules: the `schedule.get` result (Docs/mqtt-api.md), and the event and
/// audit entry of each switching outcome. Pure.
enum ScheduleReport {
    /// `{"timeZone", "now", "outputs": [{"output", "kind", "meter", "state", "source", "nextChange",
    /// "nextChangeLocal", "confirmed", "attempts", "failureAlarmed", "schedule", "override", "timers"}]}`.
    static func render(outputs: [SwitchedOutput], engine: ScheduleEngine, planner: SwitchingPlanner, runtime: Set<String>,
                       now: Timestamp) -> JSONValue {
        let zone = engine.zone
        func time(_ t: Timestamp?) -> JSONValue { t.map { .string(ISO8601.format($0)) } ?? .null }
        func local(_ t: Timestamp?) -> JSONValue { t.map { .string(CERExportCodec.localText($0, zone: zone)) } ?? .null }
        var items: [JSONValue] = []
        for output in outputs {
            var m: [String: JSONValue] = ["output": .string(output.id), "kind": .string(output.kind.rawValue),
                                          "meter": .string(output.meter.rawValue)]
            if let d = engine.decision(for: output.id, at: now) {
                m["state"] = .string(d.state.rawValue)
                m["source"] = .string(d.source.rawValue)
                m["nextChange"] = time(d.nextChange)
                m["nextChangeLocal"] = local(d.nextChange)
            } else {
                m["state"] = .null
                m["source"] = .string("unmanaged")
            }
            let switching = planner.states[output.id]
            m["confirmed"] = switching?.confirmed.map { .string($0.rawValue) } ?? .null
            m["attempts"] = CanonicalJSON.integer(switching?.attempts ?? 0)
            m["failureAlarmed"] = .bool(switching?.alarmed ?? false)
            if let s = engine.schedules[output.id] {
                m["schedule"] = .sortedObject(["id": .string(s.id), "origin": .string(runtime.contains(output.id) ? "runtime" : "config"),
                                               "windows": .array(s.windows.map(window))])
            } else {
                m["schedule"] = .null
            }
            m["override"] = engine.overrides[output.id].map {
                .sortedObject(["state": .string($0.state.rawValue), "until": time($0.until)])
            } ?? .null
            m["timers"] = .array(engine.timers.filter { $0.output == output.id }.sorted { $0.start < $1.start }.map {
                .sortedObject(["id": .string($0.id), "state": .string($0.state.rawValue), "start": time($0.start), "end": time($0.end)])
            })
            items.append(.sortedObject(m))
        }
        return .sortedObject(["timeZone": .string(zone.name), "now": time(now), "nowLocal": local(now), "outputs": .array(items)])
    }

    static func window(_ w: ScheduleWindow) -> JSONValue {
        func point(_ t: ScheduleTime) -> JSONValue {
            switch t {
            case .clock(let time): return .string(time.description)
            case .solar(let event, let offset):
                return .sortedObject(["event": .string(event.rawValue), "offsetMinutes": CanonicalJSON.integer(offset)])
            }
        }
        let days = Weekday.allCases.filter { w.days.contains($0) }.map { JSONValue.string($0.rawValue) }
        return .sortedObject(["from": point(w.from), "to": point(w.to), "days": .array(days)])
    }

    /// The event (and audit entry, for attempts) of one outcome. `output_switched` lines are
    /// `output=ID state=on|off result=switched|retrying source=… due=UTC local=… attempts=N [retry_at=…] detail=TEXT`;
    /// a failure alarmed or cleared is a `meter_alarm` with rule `switching:ID` on the output's meter.
    static func describe(_ outcome: SwitchingOutcome, output: SwitchedOutput, due: Timestamp, source: SwitchingSource, detail: String,
                         zone: ZoneRules) -> (GatewayEvent, AuditEntry?) {
        func line(_ state: OutputState, _ result: String, _ attempts: Int, extra: String = "") -> String {
            "output=\(output.id) state=\(state.rawValue) result=\(result) source=\(source.rawValue) due=\(ISO8601.format(due)) "
                + "local=\(CERExportCodec.localText(due, zone: zone)) attempts=\(attempts)\(extra) detail=\(detail)"
        }
        func audit(_ at: Timestamp, _ state: OutputState, ok: Bool, _ message: String) -> AuditEntry {
            let arguments = JSONWriter.render(.sortedObject(["output": .string(output.id), "meter": .string(output.meter.rawValue),
                                                             "state": .string(state.rawValue), "source": .string(source.rawValue)]),
                                              pretty: false)
            return AuditEntry(time: at, keyID: "", role: "schedule", verb: "switch", arguments: arguments, result: ok ? "ok" : "failed",
                              message: message)
        }
        let key = AlarmKey(rule: "switching:" + output.id, meter: output.meter)
        switch outcome {
        case .switched(_, let state, let at, let attempts):
            let text = line(state, "switched", attempts)
            return (GatewayEvent(time: at, kind: .outputSwitched, severity: .info, meter: output.meter, message: text),
                    audit(at, state, ok: true, text))
        case .retrying(_, let state, let at, let attempts, let retryAt):
            let text = line(state, "retrying", attempts, extra: " retry_at=\(ISO8601.format(retryAt))")
            return (GatewayEvent(time: at, kind: .outputSwitched, severity: .warning, meter: output.meter, message: text),
                    audit(at, state, ok: false, text))
        case .failureAlarmed(_, _, let at, let attempts, _):
            return (AlarmTransition(kind: .raised, key: key, time: at, severity: .error, value: Double(attempts), threshold: nil,
                                    occurrence: 1, phase: .raised).event, nil)
        case .failureCleared(_, _, let at):
            return (AlarmTransition(kind: .cleared, key: key, time: at, severity: .error, value: nil, threshold: nil, occurrence: 1,
                                    phase: .cleared).event, nil)
        }
    }
}
