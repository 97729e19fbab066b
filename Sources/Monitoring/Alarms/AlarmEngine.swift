import ConcentratorCore

/// Evaluates the configured alarm rules on every meter in their scope: fed observations, communication
/// changes, quarter-hours, acknowledgements and the passing of time, it moves each rule-on-meter
/// through inactive → pending → raised → acknowledged → cleared and returns the transitions to send.
///
/// Pure and single-threaded: no clock (every input carries its time), no I/O. The integration owns
/// one engine, feeds it from one place, persists `states` after every non-empty result and hands
/// transitions to the event recorder. Docs/edge-monitoring.md describes states, inputs and limits.
public struct AlarmEngine: Sendable {
    /// The rule behind each key.
    public let rules: [AlarmKey: AlarmRule]
    public let rateLimit: AlarmRateLimit
    /// Every alarm's state; persist it (`AlarmStateCodec`) whenever a call returned transitions.
    public private(set) var states: [AlarmKey: AlarmInstanceState]
    /// Persisted states whose rule or meter no longer exists in the configuration (dropped).
    public let droppedKeys: [AlarmKey]

    /// The length of the rate limiter's sliding window and of the quiet period that ends flapping.
    public static let rateWindowSeconds: Int64 = 3600

    public init(rules: [AlarmRule], config: ConcentratorConfig, rateLimit: AlarmRateLimit = AlarmRateLimit(),
                restoring persisted: [AlarmKey: AlarmInstanceState] = [:]) {
        var byKey: [AlarmKey: AlarmRule] = [:]
        for rule in rules {
            for meter in rule.meters(in: config) { byKey[AlarmKey(rule: rule.id, meter: meter)] = rule }
        }
        self.rules = byKey
        self.rateLimit = rateLimit
        var states: [AlarmKey: AlarmInstanceState] = [:]
        for key in byKey.keys { states[key] = persisted[key] ?? AlarmInstanceState() }
        self.states = states
        droppedKeys = persisted.keys.filter { byKey[$0] == nil }.sorted()
    }

    /// The engine for a whole configuration's `monitoring` section.
    public init(config: ConcentratorConfig, restoring persisted: [AlarmKey: AlarmInstanceState] = [:]) {
        self.init(rules: config.monitoring?.alarms ?? [], config: config,
                  rateLimit: config.monitoring?.rateLimit ?? AlarmRateLimit(), restoring: persisted)
    }

    /// Open alarms (raised or acknowledged), sorted by key.
    public var openAlarms: [(key: AlarmKey, state: AlarmInstanceState)] {
        states.filter { $0.value.phase.isOpen }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    // MARK: - Inputs

    /// A meter's values and flags at one time: threshold, mains-absence, flag and zero-consumption rules.
    public mutating func observe(_ observation: MeterObservation) -> [AlarmTransition] {
        var out: [AlarmTransition] = []
        for key in keys(for: observation.meter) {
            guard let rule = rules[key] else { continue }
            let verdict: Verdict
            switch rule.condition {
            case .threshold(let quantity, let direction, let limit, let hysteresis):
                verdict = Self.threshold(observation.values[quantity], direction: direction, limit: limit, hysteresis: hysteresis)
            case .mainsAbsence(let phases, let limit, let hysteresis, let flag):
                verdict = Self.mains(observation, phases: phases, limit: limit, hysteresis: hysteresis, flag: flag)
            case .flag(let name):
                verdict = observation.flags[name].map { $0 ? .violated(value: 1, threshold: nil) : .normal(value: 0) } ?? .unknown
            case .zeroConsumption(let quantity, let days, let tolerance):
                verdict = zeroConsumption(key, observation.values[quantity], at: observation.time, days: days, tolerance: tolerance)
            case .communicationLost, .spike:
                continue
            }
            apply(verdict, to: key, rule: rule, at: observation.time, into: &out)
        }
        return out
    }

    /// A meter stopped answering or answers again: communication-lost rules.
    public mutating func observe(_ change: CommunicationChange) -> [AlarmTransition] {
        var out: [AlarmTransition] = []
        for key in keys(for: change.meter) {
            guard let rule = rules[key], case .communicationLost = rule.condition else { continue }
            apply(change.answering ? .normal(value: 1) : .violated(value: 0, threshold: nil), to: key, rule: rule, at: change.time, into: &out)
        }
        return out
    }

    /// A finished quarter-hour with its baseline: spike rules on that quantity.
    public mutating func observe(_ quarter: QuarterHourObservation) -> [AlarmTransition] {
        var out: [AlarmTransition] = []
        for key in keys(for: quarter.meter) {
            guard let rule = rules[key], case .spike(let quantity, let factor, _, let samples, let floor) = rule.condition,
                  quantity == quarter.quantity else { continue }
            let verdict: Verdict
            if let median = SpikeBaseline.median(quarter.baseline), quarter.baseline.count >= samples {
                let limit = factor * median
                verdict = quarter.value > limit && quarter.value >= floor
                    ? .violated(value: quarter.value, threshold: limit) : .normal(value: quarter.value)
            } else {
                verdict = .unknown
            }
            apply(verdict, to: key, rule: rule, at: quarter.time, into: &out)
        }
        return out
    }

    /// Time passes without new input: communication-lost alarms whose minimum duration has elapsed are
    /// raised (the meter is known to be silent), and flapping that has been quiet for an hour ends.
    /// Call it at least once a minute (the agent's maintenance loop).
    public mutating func advance(to now: Timestamp) -> [AlarmTransition] {
        var out: [AlarmTransition] = []
        for key in states.keys.sorted() {
            guard let rule = rules[key], var state = states[key] else { continue }
            if case .communicationLost = rule.condition, state.phase == .pending, let since = state.since,
               now.milliseconds - since.milliseconds >= Int64(rule.minimumDurationSeconds) * 1000 {
                raise(&state, key: key, rule: rule, at: now, into: &out)
            }
            if let since = state.limiter.lastChange ?? state.limiter.flappingSince, state.limiter.flappingSince != nil,
               now.seconds - since >= Self.rateWindowSeconds {
                let open = state.phase.isOpen
                out.append(AlarmTransition(kind: .flappingEnded, key: key, time: now, severity: rule.severity, value: state.value,
                                           threshold: state.threshold, occurrence: state.occurrence, phase: state.phase,
                                           suppressed: state.limiter.suppressed))
                state.limiter = AlarmRateLimiterState()
                state.limiter.reportedOpen = open
            }
            states[key] = state
        }
        return out
    }

    /// An operator acknowledges an open alarm (the `alarm.ack` verb). Never rate-limited.
    public mutating func acknowledge(_ key: AlarmKey, at time: Timestamp) -> AcknowledgementResult {
        guard let rule = rules[key], var state = states[key] else { return .unknownAlarm }
        switch state.phase {
        case .raised:
            state.phase = .acknowledged
            states[key] = state
            return .acknowledged(AlarmTransition(kind: .acknowledged, key: key, time: time, severity: rule.severity, value: state.value,
                                                 threshold: state.threshold, occurrence: state.occurrence, phase: .acknowledged))
        case .acknowledged:
            return .alreadyAcknowledged
        default:
            return .notOpen(state.phase)
        }
    }

    // MARK: - The state machine

    enum Verdict: Equatable {
        /// The condition holds.
        case violated(value: Double?, threshold: Double?)
        /// The condition is over (beyond the hysteresis).
        case normal(value: Double?)
        /// Inside the hysteresis band: not raised anew, not cleared either; a pending alarm lapses.
        case band(value: Double?)
        /// Not enough to decide (no value, too little history): nothing changes.
        case unknown
    }

    private mutating func apply(_ verdict: Verdict, to key: AlarmKey, rule: AlarmRule, at time: Timestamp, into out: inout [AlarmTransition]) {
        guard var state = states[key] else { return }
        switch verdict {
        case .unknown:
            return
        case .violated(let value, let threshold):
            state.value = value
            state.threshold = threshold
            switch state.phase {
            case .inactive, .cleared:
                if rule.minimumDurationSeconds == 0 {
                    raise(&state, key: key, rule: rule, at: time, into: &out)
                } else {
                    state.phase = .pending
                    state.since = time
                }
            case .pending:
                if let since = state.since, time.milliseconds - since.milliseconds >= Int64(rule.minimumDurationSeconds) * 1000 {
                    raise(&state, key: key, rule: rule, at: time, into: &out)
                }
            case .raised, .acknowledged:
                break
            }
        case .normal(let value), .band(let value):
            if value != nil { state.value = value }
            switch state.phase {
            case .pending:
                state.phase = .inactive
                state.since = nil
            case .raised, .acknowledged:
                if case .normal = verdict {
                    state.phase = .cleared
                    state.since = time
                    forward(.cleared, &state, key: key, rule: rule, at: time, into: &out)
                }
            case .inactive, .cleared:
                break
            }
        }
        states[key] = state
    }

    private func raise(_ state: inout AlarmInstanceState, key: AlarmKey, rule: AlarmRule, at time: Timestamp, into out: inout [AlarmTransition]) {
        state.phase = .raised
        state.since = time
        state.occurrence &+= 1
        forward(.raised, &state, key: key, rule: rule, at: time, into: &out)
    }

    /// Passes a raise or clear through the rate limiter: forwarded while under the limit; beyond it,
    /// one `flapping` summary, then at most one summary an hour until an hour passes without change.
    private func forward(_ kind: AlarmTransition.Kind, _ state: inout AlarmInstanceState, key: AlarmKey, rule: AlarmRule,
                         at time: Timestamp, into out: inout [AlarmTransition]) {
        let now = time.seconds
        var limiter = state.limiter
        limiter.recent.removeAll { now - $0 >= Self.rateWindowSeconds }
        let transition = AlarmTransition(kind: kind, key: key, time: time, severity: rule.severity, value: state.value,
                                         threshold: state.threshold, occurrence: state.occurrence, phase: state.phase)
        if limiter.flappingSince == nil, limiter.recent.count < rateLimit.maxTransitionsPerHour {
            limiter.recent.append(now)
            limiter.reportedOpen = state.phase.isOpen
            out.append(transition)
        } else {
            if limiter.flappingSince == nil { limiter.flappingSince = now }
            limiter.suppressed += 1
            limiter.lastChange = now
            if limiter.lastSummary.map({ now - $0 >= Self.rateWindowSeconds }) ?? true {
                limiter.lastSummary = now
                var summary = transition
                summary.kind = .flapping
                summary.suppressed = limiter.suppressed
                out.append(summary)
            }
        }
        state.limiter = limiter
    }

    // MARK: - Conditions

    private func keys(for meter: MeterID) -> [AlarmKey] {
        rules.keys.filter { $0.meter == meter }.sorted()
    }

    static func threshold(_ value: Double?, direction: ThresholdDirection, limit: Double, hysteresis: Double) -> Verdict {
        guard let value, value.isFinite else { return .unknown }
        switch direction {
        case .above:
            if value > limit { return .violated(value: value, threshold: limit) }
            return value < limit - hysteresis || hysteresis == 0 && value <= limit ? .normal(value: value) : .band(value: value)
        case .below:
            if value < limit { return .violated(value: value, threshold: limit) }
            return value > limit + hysteresis || hysteresis == 0 && value >= limit ? .normal(value: value) : .band(value: value)
        }
    }

    static func mains(_ o: MeterObservation, phases: [QuantityID], limit: Double, hysteresis: Double, flag: String?) -> Verdict {
        let voltages = phases.compactMap { o.values[$0] }.filter(\.isFinite)
        let failFlag = flag.flatMap { o.flags[$0] }
        guard !voltages.isEmpty || failFlag != nil else { return .unknown }
        let lowest = voltages.min()
        if failFlag == true || (lowest.map { $0 < limit } ?? false) { return .violated(value: lowest ?? 0, threshold: limit) }
        if let lowest, lowest < limit + hysteresis, hysteresis > 0 { return .band(value: lowest) }
        return .normal(value: lowest)
    }

    private mutating func zeroConsumption(_ key: AlarmKey, _ value: Double?, at time: Timestamp, days: Int, tolerance: Double) -> Verdict {
        guard let value, value.isFinite, var state = states[key] else { return .unknown }
        defer { states[key] = state }
        guard let base = state.baselineValue, let since = state.baselineTime, time >= since else {
            state.baselineValue = value
            state.baselineTime = time
            return .normal(value: 0)
        }
        if value < base || value > base + tolerance {
            // Consumption (or a counter reset / replaced meter: start a new quiet period from here).
            state.baselineValue = value
            state.baselineTime = time
            return .normal(value: max(0, value - base))
        }
        let quiet = time.milliseconds - since.milliseconds
        return quiet >= Int64(days) * 86_400_000 ? .violated(value: value - base, threshold: tolerance) : .band(value: value - base)
    }
}

/// The baseline of a spike rule: values of the same local quarter-hour on earlier days.
public enum SpikeBaseline {
    /// The median, or nil for no values.
    public static func median(_ values: [Double]) -> Double? {
        let sorted = values.filter(\.isFinite).sorted()
        guard !sorted.isEmpty else { return nil }
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    /// From a quarter-hour series (interval start → value), the values at the same local wall-clock
    /// quarter-hour as `intervalStart` on each of the `days` previous local days. Days without a value
    /// are left out; on DST days the wall-clock time decides (02:15 on the spring day does not exist
    /// and is left out; on the autumn day the first 02:15 is taken).
    public static func values(series: [Timestamp: Double], intervalStart: Timestamp, days: Int, zone: ZoneRules) -> [Double] {
        let local = zone.localDateTime(at: intervalStart)
        var out: [Double] = []
        for back in 1...max(1, days) {
            let date = local.date.adding(days: -back)
            let instant = zone.instant(for: LocalDateTime(date: date, secondsOfDay: local.secondsOfDay))
            guard zone.localDateTime(at: instant) == LocalDateTime(date: date, secondsOfDay: local.secondsOfDay) else { continue }
            if let v = series[instant] { out.append(v) }
        }
        return out
    }
}
