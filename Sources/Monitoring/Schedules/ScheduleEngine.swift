import ConcentratorCore

/// Why an output is in the state it should be in.
public enum SwitchingSource: String, Hashable, Sendable, Codable {
    case override, timer, schedule
}

/// What an output should be now, why, and when that next changes.
public struct OutputDecision: Hashable, Sendable {
    public var output: String
    public var state: OutputState
    public var source: SwitchingSource
    /// The next instant the desired state changes, if one is found within `ScheduleEngine.searchDays`.
    public var nextChange: Timestamp?
}

/// Computes the desired state of every switched output from its schedule windows (clock times and
/// solar events in the site's zone), one-off timers and overrides with an expiry, and the next
/// switching instant. Pure: the instant and the zone rules are passed in; nothing switches here
/// (`SwitchingPlanner` turns decisions into attempts and retries).
///
/// Precedence: an override until it expires, then the latest-started running timer, then the
/// schedule's windows (on inside any window, off outside). An output with none of these is not
/// managed (`decision` returns nil) and keeps whatever state it has.
public struct ScheduleEngine: Sendable {
    public let location: SiteLocation
    public let zone: ZoneRules
    public private(set) var schedules: [String: OutputSchedule]
    public private(set) var timers: [OneOffTimer]
    public private(set) var overrides: [String: OutputOverride]

    /// How far ahead `decision` looks for the next change (polar day and night can last months).
    public static let searchDays = 400

    public init(location: SiteLocation, zone: ZoneRules, schedules: [OutputSchedule], timers: [OneOffTimer] = [],
                overrides: [OutputOverride] = []) {
        self.location = location
        self.zone = zone
        var byOutput: [String: OutputSchedule] = [:]
        for s in schedules { byOutput[s.output] = s }
        self.schedules = byOutput
        self.timers = timers
        var o: [String: OutputOverride] = [:]
        for override in overrides { o[override.output] = override }
        self.overrides = o
    }

    /// The engine for a configuration's monitoring section; nil without a location.
    public init?(settings: MonitoringSettings, zone: ZoneRules) {
        guard let location = settings.location else { return nil }
        self.init(location: location, zone: zone, schedules: settings.schedules, timers: settings.timers, overrides: settings.overrides)
    }

    // MARK: - Changes (schedule.set, the console)

    public mutating func setSchedule(_ schedule: OutputSchedule) { schedules[schedule.output] = schedule }
    public mutating func removeSchedule(output: String) { schedules[output] = nil }
    public mutating func setOverride(_ override: OutputOverride) { overrides[override.output] = override }
    public mutating func removeOverride(output: String) { overrides[output] = nil }
    public mutating func addTimer(_ timer: OneOffTimer) {
        timers.removeAll { $0.id == timer.id }
        timers.append(timer)
    }

    /// Removes every one-off timer of `output`.
    public mutating func removeTimers(output: String) { timers.removeAll { $0.output == output } }

    /// Forgets timers and overrides that ended at or before `now` (keeps persisted state small).
    public mutating func removeExpired(at now: Timestamp) {
        timers.removeAll { $0.end <= now }
        overrides = overrides.filter { $0.value.until > now }
    }

    /// The outputs this engine manages, sorted.
    public var managedOutputs: [String] {
        Set(schedules.keys).union(timers.map(\.output)).union(overrides.keys).sorted()
    }

    // MARK: - Decisions

    /// What `output` should be at `now`, or nil when nothing manages it.
    public func decision(for output: String, at now: Timestamp) -> OutputDecision? {
        guard let (state, source) = state(of: output, at: now) else { return nil }
        return OutputDecision(output: output, state: state, source: source, nextChange: nextChange(of: output, after: now, from: state))
    }

    /// Decisions for every managed output.
    public func decisions(at now: Timestamp) -> [OutputDecision] {
        managedOutputs.compactMap { decision(for: $0, at: now) }
    }

    /// The desired state and its source at `t`, without looking ahead.
    public func state(of output: String, at t: Timestamp) -> (OutputState, SwitchingSource)? {
        if let o = overrides[output], t < o.until { return (o.state, .override) }
        if let timer = timers.filter({ $0.output == output && $0.start <= t && t < $0.end }).max(by: { $0.start < $1.start }) {
            return (timer.state, .timer)
        }
        guard let schedule = schedules[output] else { return nil }
        let date = zone.localDateTime(at: t).date
        let on = windows(of: schedule, from: date.adding(days: -2), to: date).contains { $0.start <= t && t < $0.end }
        return (on ? .on : .off, .schedule)
    }

    /// The on-intervals of `schedule`'s windows that start on local days `first`…`last`.
    public func windows(of schedule: OutputSchedule, from first: LocalDate, to last: LocalDate) -> [(start: Timestamp, end: Timestamp)] {
        var out: [(Timestamp, Timestamp)] = []
        var day = first
        while day <= last {
            for window in schedule.windows where window.days.contains(day.weekday) {
                guard let start = resolve(window.from, on: day, asEnd: false) else { continue }
                let ends = [resolve(window.to, on: day, asEnd: true), resolve(window.to, on: day.adding(days: 1), asEnd: true)]
                if let end = ends.compactMap({ $0 }).first(where: { $0 > start }) { out.append((start, end)) }
            }
            day = day.adding(days: 1)
        }
        return out
    }

    /// The instant of a switching time on a local day. Solar events that do not happen that day
    /// (polar day or night) resolve by what the sky does: an event whose condition already holds all
    /// day resolves to the start of the day; one that never comes gives no start (the window does not
    /// open that day) and, as an end, the end of the day (the window stays open).
    public func resolve(_ time: ScheduleTime, on day: LocalDate, asEnd: Bool) -> Timestamp? {
        switch time {
        case .clock(let t):
            return zone.instant(for: LocalDateTime(date: day, time: t))
        case .solar(let event, let offset):
            let result = SolarCalculator.time(of: event, on: day, latitude: location.latitude, longitude: location.longitude, zone: zone)
            switch result {
            case .at(let t):
                return t.adding(seconds: Int64(offset) * 60)
            case .sunAlwaysAbove, .sunAlwaysBelow:
                let already = (result == .sunAlwaysAbove) == event.isRising
                if already { return zone.startOfDay(day) }
                return asEnd ? zone.startOfDay(day.adding(days: 1)) : nil
            }
        }
    }

    /// The first instant after `now` at which the desired state differs from `current`.
    func nextChange(of output: String, after now: Timestamp, from current: OutputState) -> Timestamp? {
        var candidates: [Timestamp] = []
        if let o = overrides[output], o.until > now { candidates.append(o.until) }
        for timer in timers where timer.output == output {
            if timer.start > now { candidates.append(timer.start) }
            if timer.end > now { candidates.append(timer.end) }
        }
        let today = zone.localDateTime(at: now).date
        let horizon = today.adding(days: Self.searchDays)
        var from = today
        var checked = now
        var chunk = 8
        while from < horizon {
            let to = min(from.adding(days: chunk), horizon)
            // Windows that start up to two days earlier can still end inside this chunk; boundaries
            // from the chunk's last day are left for the next chunk, which sees every window around them.
            let limit = to == horizon ? Timestamp(milliseconds: .max) : zone.startOfDay(to)
            var boundaries = candidates
            if let schedule = schedules[output] {
                for w in windows(of: schedule, from: from.adding(days: -2), to: to) { boundaries += [w.start, w.end] }
            }
            for b in boundaries.filter({ $0 > checked && $0 < limit }).sorted() {
                if let (state, _) = state(of: output, at: b), state != current { return b }
            }
            checked = Timestamp(milliseconds: limit.milliseconds - 1)
            from = to
            chunk = 32
        }
        return nil
    }
}
