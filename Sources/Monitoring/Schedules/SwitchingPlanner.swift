import ConcentratorCore

/// One output's switching progress: the state it should reach, what was last confirmed, and the
/// retries of a switching that failed. Persisted by the integration with the schedule state.
public struct OutputSwitchingState: Hashable, Sendable, Codable {
    /// The state being switched to, or already reached.
    public internal(set) var target: OutputState?
    /// The state the meter last confirmed.
    public internal(set) var confirmed: OutputState?
    /// When switching to `target` was first attempted (nil once confirmed).
    public internal(set) var firstAttempt: Timestamp?
    public internal(set) var attempts: Int = 0
    /// When the next attempt is due.
    public internal(set) var nextAttempt: Timestamp?
    /// An attempt was handed out and its result is not in yet.
    public internal(set) var inFlight = false
    /// The failure was alarmed (the retry window passed without success).
    public internal(set) var alarmed = false

    public init() {}
}

/// Something the planner asks the integration to do.
public struct SwitchingAttempt: Hashable, Sendable {
    public var output: String
    public var state: OutputState
    /// 1 for the first try.
    public var attempt: Int
}

/// What came of an attempt, for the audit and the event batch.
public enum SwitchingOutcome: Hashable, Sendable {
    /// Switched (after `attempts` tries).
    case switched(output: String, state: OutputState, at: Timestamp, attempts: Int)
    /// Failed; the next try is due at `retryAt`.
    case retrying(output: String, state: OutputState, at: Timestamp, attempts: Int, retryAt: Timestamp)
    /// The retry window passed without success: raise the switching alarm (retries continue).
    case failureAlarmed(output: String, state: OutputState, at: Timestamp, attempts: Int, since: Timestamp)
    /// A switching succeeded after its failure was alarmed: clear the alarm.
    case failureCleared(output: String, state: OutputState, at: Timestamp)
}

/// Turns desired states into switching attempts and retries a failed switching with a growing pause
/// (`firstRetrySeconds`, doubled each time, at most `maxRetryIntervalSeconds`) until it succeeds;
/// when `windowSeconds` pass without success the failure is alarmed once, and retries go on at the
/// longest interval. A new desired state starts over (the alarm stays until a switching succeeds).
/// Pure: the integration calls `plan` on every tick and `record` with each attempt's result.
public struct SwitchingPlanner: Sendable {
    public let policy: SwitchingRetryPolicy
    public private(set) var states: [String: OutputSwitchingState]

    public init(policy: SwitchingRetryPolicy, restoring states: [String: OutputSwitchingState] = [:]) {
        self.policy = policy
        var restored = states
        // An attempt in flight when the agent stopped has no result: try it again now.
        for (output, var s) in restored where s.inFlight {
            s.inFlight = false
            restored[output] = s
        }
        self.states = restored
    }

    /// The attempt to make now for `output`, if any.
    public mutating func plan(output: String, desired: OutputState, at now: Timestamp) -> SwitchingAttempt? {
        var s = states[output] ?? OutputSwitchingState()
        defer { states[output] = s }
        if s.target != desired {
            s.target = desired
            if s.confirmed == desired {
                s.firstAttempt = nil
                s.nextAttempt = nil
                s.attempts = 0
                return nil
            }
            s.firstAttempt = now
            s.nextAttempt = now
            s.attempts = 0
        }
        guard s.confirmed != desired, !s.inFlight, let due = s.nextAttempt, now >= due else { return nil }
        s.inFlight = true
        s.attempts += 1
        return SwitchingAttempt(output: output, state: desired, attempt: s.attempts)
    }

    /// The result of the attempt handed out for `output`.
    public mutating func record(output: String, succeeded: Bool, at now: Timestamp) -> [SwitchingOutcome] {
        guard var s = states[output], let target = s.target, s.inFlight else { return [] }
        defer { states[output] = s }
        s.inFlight = false
        if succeeded {
            var out: [SwitchingOutcome] = [.switched(output: output, state: target, at: now, attempts: s.attempts)]
            if s.alarmed { out.append(.failureCleared(output: output, state: target, at: now)) }
            s.confirmed = target
            s.firstAttempt = nil
            s.nextAttempt = nil
            s.attempts = 0
            s.alarmed = false
            return out
        }
        let delay = retryDelaySeconds(afterAttempt: s.attempts)
        let retryAt = now.adding(seconds: Int64(delay))
        s.nextAttempt = retryAt
        var out: [SwitchingOutcome] = [.retrying(output: output, state: target, at: now, attempts: s.attempts, retryAt: retryAt)]
        if !s.alarmed, let first = s.firstAttempt, now.milliseconds - first.milliseconds >= Int64(policy.windowSeconds) * 1000 {
            s.alarmed = true
            out.append(.failureAlarmed(output: output, state: target, at: now, attempts: s.attempts, since: first))
        }
        return out
    }

    /// The pause after the `n`-th failed attempt: first × 2^(n−1), at most the longest interval.
    public func retryDelaySeconds(afterAttempt n: Int) -> Int {
        var delay = policy.firstRetrySeconds
        for _ in 1..<max(1, n) {
            delay *= 2
            if delay >= policy.maxRetryIntervalSeconds { return policy.maxRetryIntervalSeconds }
        }
        return min(delay, policy.maxRetryIntervalSeconds)
    }
}
