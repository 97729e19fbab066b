/// The switching part of the `monitoring` section: outputs, schedules, one-off timers, overrides and
/// the retry policy. Docs/configuration.md, "monitoring".
extension ConfigurationLoader {
    public static let outputCountRange = 0...256
    public static let windowCountRange = 1...16
    public static let timerCountRange = 0...64
    public static let offsetMinutesRange = -240...240
    public static let circuitRange = 1...64
    public static let retryFirstRange = 5...3600
    public static let retryIntervalRange = 5...3600
    public static let retryWindowRange = 60...86_400

    static func readSwitching(_ r: JSONObjectReader, meters: MonitoringMeters, into settings: inout MonitoringSettings) {
        var outputIDs: [String] = []
        if let items = r.array("outputs") {
            checkCount(items.count, outputCountRange, noun: "outputs", path: r.path + ".outputs", line: r.member("outputs")?.line,
                       collector: r.collector)
            for o in objects(items, collector: r.collector) {
                if let output = readOutput(o, meters: meters, known: &outputIDs) { settings.outputs.append(output) }
            }
        }
        var scheduled: [String: String] = [:]
        var scheduleIDs: [String: String] = [:]
        if let items = r.array("schedules") {
            checkCount(items.count, outputCountRange, noun: "schedules", path: r.path + ".schedules", line: r.member("schedules")?.line,
                       collector: r.collector)
            for o in objects(items, collector: r.collector) {
                if let s = readSchedule(o, outputs: outputIDs, scheduled: &scheduled, ids: &scheduleIDs) { settings.schedules.append(s) }
            }
        }
        if let items = r.array("timers") {
            checkCount(items.count, timerCountRange, noun: "timers", path: r.path + ".timers", line: r.member("timers")?.line,
                       collector: r.collector)
            var ids: [String: String] = [:]
            for o in objects(items, collector: r.collector) {
                if let timer = readTimer(o, outputs: outputIDs, ids: &ids) { settings.timers.append(timer) }
            }
        }
        if let items = r.array("overrides") {
            checkCount(items.count, outputCountRange, noun: "overrides", path: r.path + ".overrides", line: r.member("overrides")?.line,
                       collector: r.collector)
            for o in objects(items, collector: r.collector) {
                if let override = readOverride(o, outputs: outputIDs) { settings.overrides.append(override) }
            }
        }
        if let o = r.object("switching") {
            let defaults = SwitchingRetryPolicy()
            let first = o.int("firstRetrySeconds", in: retryFirstRange) ?? defaults.firstRetrySeconds
            let longest = o.int("maxRetryIntervalSeconds", in: retryIntervalRange) ?? defaults.maxRetryIntervalSeconds
            let window = o.int("windowSeconds", in: retryWindowRange) ?? defaults.windowSeconds
            if longest < first {
                o.collector.add(path: o.path + ".maxRetryIntervalSeconds", line: o.member("maxRetryIntervalSeconds")?.line ?? o.line,
                                problem: "shorter than firstRetrySeconds (\(first))", value: .number(Double(longest), text: String(longest)),
                                expected: "at least \(first)")
            }
            o.finish()
            settings.switching = SwitchingRetryPolicy(firstRetrySeconds: first, maxRetryIntervalSeconds: max(first, longest),
                                                      windowSeconds: window)
        }
        let needsLocation = !settings.schedules.isEmpty || settings.alarms.contains { if case .spike = $0.condition { return true }; return false }
        if needsLocation, settings.location == nil, !r.has("location") {
            r.collector.add(path: r.path + ".location", line: r.line, problem: "missing: schedules and spike rules need the site's location",
                            expected: "\"location\": {\"latitude\": …, \"longitude\": …, \"timeZone\": \"Europe/Rome\"}")
        }
    }

    /// One entry of `timers`.
    private static func readTimer(_ o: JSONObjectReader, outputs: [String], ids: inout [String: String]) -> OneOffTimer? {
        let id = identifier(o, "id", required: true)
        if let id, let first = ids[id] {
            o.collector.add(path: o.path + ".id", line: o.member("id")?.line, problem: "duplicate timer id", value: .string(id),
                            expected: "an id not used by another timer (\(first) has it)")
        } else if let id { ids[id] = o.path }
        let output = outputReference(o, outputs: outputs)
        let state = o.string("state", allowed: OutputState.allCases.map(\.rawValue)).flatMap(OutputState.init(rawValue:)) ?? .on
        let start = instant(o, "start"), end = instant(o, "end")
        if let start, let end, end <= start {
            o.collector.add(path: o.path + ".end", line: o.member("end")?.line, problem: "ends before it starts",
                            value: o.member("end")?.value, expected: "an instant after \"start\"")
        }
        o.finish()
        guard let id, let output, let start, let end, end > start else { return nil }
        return OneOffTimer(id: id, output: output, state: state, start: start, end: end)
    }

    /// One entry of `overrides`.
    private static func readOverride(_ o: JSONObjectReader, outputs: [String]) -> OutputOverride? {
        let output = outputReference(o, outputs: outputs)
        let state = o.string("state", required: true, allowed: OutputState.allCases.map(\.rawValue)).flatMap(OutputState.init(rawValue:))
        let until = instant(o, "until")
        o.finish()
        guard let output, let state, let until else { return nil }
        return OutputOverride(output: output, state: state, until: until)
    }

    /// The arguments of `schedule.set` (Docs/mqtt-api.md): exactly one of `schedule` (an entry as in
    /// `monitoring.schedules`), `override` (as in `monitoring.overrides`), `timer` (as in
    /// `monitoring.timers`) or `remove` (`{"output": id, "what": "schedule"|"override"|"timers"}`),
    /// read by the same code as config.json, against the configured `outputs`. Problems go to `o`'s collector.
    public static func readScheduleChange(_ o: JSONObjectReader, outputs: [String]) -> ScheduleChange? {
        let keys = ["schedule", "override", "timer", "remove"].filter { o.has($0) }
        guard keys.count == 1, let key = keys.first else {
            o.collector.add(path: o.path, line: o.line, problem: keys.isEmpty ? "nothing to change" : "more than one change",
                            expected: "exactly one of \"schedule\", \"override\", \"timer\", \"remove\"")
            for k in keys { _ = o.member(k) }
            return nil
        }
        guard let r = o.object(key, required: true) else { return nil }
        switch key {
        case "schedule":
            var scheduled: [String: String] = [:], ids: [String: String] = [:]
            return readSchedule(r, outputs: outputs, scheduled: &scheduled, ids: &ids).map(ScheduleChange.schedule)
        case "override":
            return readOverride(r, outputs: outputs).map(ScheduleChange.override)
        case "timer":
            var ids: [String: String] = [:]
            return readTimer(r, outputs: outputs, ids: &ids).map(ScheduleChange.timer)
        default:
            let output = outputReference(r, outputs: outputs)
            let what = r.string("what", required: true, allowed: ScheduleChange.Removal.allCases.map(\.rawValue))
                .flatMap(ScheduleChange.Removal.init(rawValue:))
            r.finish()
            guard let output, let what else { return nil }
            return .remove(output: output, what: what)
        }
    }

    private static func readOutput(_ o: JSONObjectReader, meters: MonitoringMeters, known: inout [String]) -> SwitchedOutput? {
        let before = o.collector.issues.count
        let id = identifier(o, "id", required: true)
        if let id {
            if known.contains(id) {
                o.collector.add(path: o.path + ".id", line: o.member("id")?.line, problem: "duplicate output id", value: .string(id),
                                expected: "an id not used by another output")
            }
            known.append(id)
        }
        let kind = o.string("kind", required: true, allowed: SwitchedOutput.Kind.allCases.map(\.rawValue)).flatMap(SwitchedOutput.Kind.init(rawValue:))
        let meter = identifier(o, "meter", required: true)
        if let meter, !meters.knownIDs.contains(meter) {
            o.collector.add(path: o.path + ".meter", line: o.member("meter")?.line, problem: "unknown meter", value: .string(meter),
                            expected: "a configured meter id: " + list(meters.knownIDs, none: "(no meters configured)"))
        } else if let meter, kind == .relay, let profile = meters.profileByMeter[meter], meters.context.profiles[profile]?.hasRelay == false {
            o.collector.add(path: o.path + ".meter", line: o.member("meter")?.line,
                            problem: "the meter's profile \(profile) declares no relay", value: .string(meter),
                            expected: "a meter whose profile has a \"relay\" (Docs/profiles.md)")
        }
        let circuit = o.int("circuit", in: circuitRange)
        if kind == .lightingCircuit, circuit == nil, !o.has("circuit") {
            o.collector.add(path: o.path + ".circuit", line: o.line, problem: "missing required key",
                            expected: "the circuit number on the controller, \(circuitRange.lowerBound)–\(circuitRange.upperBound)")
        }
        if kind == .relay, o.has("circuit") {
            o.collector.add(path: o.path + ".circuit", line: o.member("circuit")?.line, problem: "only lighting circuits have a circuit number",
                            expected: "no \"circuit\" for kind \"relay\"")
        }
        o.finish()
        guard o.collector.issues.count == before, let id, let kind, let meter else { return nil }
        return SwitchedOutput(id: id, kind: kind, meter: MeterID(meter), circuit: kind == .lightingCircuit ? circuit : nil)
    }

    private static func readSchedule(_ o: JSONObjectReader, outputs: [String], scheduled: inout [String: String],
                                     ids: inout [String: String]) -> OutputSchedule? {
        let before = o.collector.issues.count
        let id = identifier(o, "id", required: true)
        if let id, let first = ids[id] {
            o.collector.add(path: o.path + ".id", line: o.member("id")?.line, problem: "duplicate schedule id", value: .string(id),
                            expected: "an id not used by another schedule (\(first) has it)")
        } else if let id { ids[id] = o.path }
        let output = outputReference(o, outputs: outputs)
        if let output, let first = scheduled[output] {
            o.collector.add(path: o.path + ".output", line: o.member("output")?.line,
                            problem: "output already driven by another schedule (\(first))", value: .string(output),
                            expected: "one schedule per output: put all its windows in one schedule")
        } else if let output { scheduled[output] = o.path }
        var windows: [ScheduleWindow] = []
        if let items = o.array("windows", required: true) {
            checkCount(items.count, windowCountRange, noun: "windows", path: o.path + ".windows", line: o.member("windows")?.line,
                       collector: o.collector)
            for w in objects(items, collector: o.collector) {
                if let window = readWindow(w) { windows.append(window) }
            }
        }
        o.finish()
        guard o.collector.issues.count == before, let id, let output else { return nil }
        return OutputSchedule(id: id, output: output, windows: windows)
    }

    private static func readWindow(_ w: JSONObjectReader) -> ScheduleWindow? {
        let from = scheduleTime(w, "from"), to = scheduleTime(w, "to")
        var days = Set(Weekday.allCases)
        var daysOK = true
        if let items = w.array("days") {
            days = []
            for item in items {
                guard let name = item.value.stringValue, let day = Weekday(rawValue: name), !days.contains(day) else {
                    w.collector.add(path: item.path, line: item.line, problem: "not a weekday, or listed twice", value: item.value,
                                    expected: Weekday.allCases.map(\.rawValue).joined(separator: ", "))
                    daysOK = false
                    continue
                }
                days.insert(day)
            }
            if items.isEmpty {
                w.collector.add(path: w.path + ".days", line: w.member("days")?.line, problem: "must not be empty",
                                expected: "the weekdays the window starts on; leave out for every day")
                daysOK = false
            }
        }
        w.finish()
        if let from, let to, from == to {
            w.collector.add(path: w.path + ".to", line: w.member("to")?.line, problem: "the window starts and ends at the same time",
                            expected: "a different time than \"from\"")
            return nil
        }
        guard let from, let to, daysOK else { return nil }
        return ScheduleWindow(from: from, to: to, days: days)
    }

    /// `"HH:MM"` or `{"event": "sunset", "offsetMinutes": -10}`.
    private static func scheduleTime(_ w: JSONObjectReader, _ key: String) -> ScheduleTime? {
        guard let m = w.member(key, required: true) else { return nil }
        let path = w.path + "." + key
        let rule = "\"HH:MM\" (local time) or {\"event\": \(SolarEvent.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: "|")), \"offsetMinutes\": n}"
        if let text = m.value.stringValue {
            guard let time = TimeOfDay(text) else {
                w.collector.add(path: path, line: m.line, problem: "not a time of day", value: m.value, expected: rule)
                return nil
            }
            return .clock(time)
        }
        guard let o = w.collector.object(m.value, at: path, line: m.line) else { return nil }
        let event = o.string("event", required: true, allowed: SolarEvent.allCases.map(\.rawValue)).flatMap(SolarEvent.init(rawValue:))
        let offset = o.int("offsetMinutes", in: offsetMinutesRange) ?? 0
        o.finish()
        return event.map { .solar($0, offsetMinutes: offset) }
    }

    private static func outputReference(_ o: JSONObjectReader, outputs: [String]) -> String? {
        guard let name = o.string("output", required: true, maxLength: 64) else { return nil }
        guard outputs.contains(name) else {
            o.collector.add(path: o.path + ".output", line: o.member("output")?.line, problem: "unknown output", value: .string(name),
                            expected: "the id of an entry in monitoring.outputs: " + list(outputs, none: "(no outputs configured)"))
            return nil
        }
        return name
    }

    /// An instant written as ISO 8601 with a zone (`2026-05-01T20:00:00+02:00` or `…Z`).
    private static func instant(_ o: JSONObjectReader, _ key: String) -> Timestamp? {
        guard let text = o.string(key, required: true, maxLength: 40) else { return nil }
        let hasZone = text.hasSuffix("Z") || text.dropFirst(19).contains("+") || text.dropFirst(19).contains("-")
        guard text.count >= 16, text.contains("T"), hasZone, let t = ISO8601.parse(text) else {
            o.collector.add(path: o.path + "." + key, line: o.member(key)?.line, problem: "not an instant", value: .string(text),
                            expected: "ISO 8601 with a zone, e.g. \"2026-05-01T20:00:00+02:00\" or \"2026-05-01T18:00:00Z\"")
            return nil
        }
        return t
    }
}
