import ConcentratorCore

/// A meter's reachability and back-off state.
///
/// The rules (DESIGN.md, "Bus owner and scheduler"):
/// - every snapshot cycle tries every meter once, so a meter that returns is picked up within one
///   cycle, and a dead meter costs at most one timeout per cycle (no retries for an offline meter);
/// - a meter that was online gets its configured retries at the end of the cycle, after the
///   others were read, so a transient error never delays healthy meters;
/// - between cycles (the fast live cadence) an offline meter is probed with exponential back-off.
public struct MeterHealth: Hashable, Sendable {
    public private(set) var state: MeterLinkState = .unknown
    public private(set) var consecutiveFailures = 0
    public private(set) var lastError: MeterErrorCode?
    public private(set) var lastSuccess: Timestamp?
    public private(set) var lastAttempt: Timestamp?
    /// When a live-cadence probe of an offline meter is next allowed.
    public private(set) var nextLiveProbe: Timestamp?

    public init() {}

    /// Records a poll where the meter answered. `error` is set when some values failed (exceptions).
    public mutating func recordAnswer(at time: Timestamp, error: MeterErrorCode? = nil) {
        state = error == nil ? .online : .degraded
        consecutiveFailures = 0
        lastError = error
        lastSuccess = time
        lastAttempt = time
        nextLiveProbe = nil
    }

    /// Records a poll where the meter did not answer usably. `livePeriodMilliseconds` sets the
    /// back-off base for live probes: 1, 2, 4 … periods, capped at `capMilliseconds`.
    public mutating func recordFailure(_ error: MeterErrorCode, at time: Timestamp, livePeriodMilliseconds: Int64,
                                       capMilliseconds: Int64) {
        state = .offline
        consecutiveFailures += 1
        lastError = error
        lastAttempt = time
        let exponent = min(consecutiveFailures - 1, 20)
        let delay = min(livePeriodMilliseconds << Int64(exponent), capMilliseconds)
        nextLiveProbe = time.adding(milliseconds: delay)
    }

    /// Whether a failed transaction deserves a retry within this cycle (only meters that were
    /// answering before; an offline meter is probed once per cycle).
    public var deservesRetry: Bool { consecutiveFailures <= 1 && lastSuccess != nil }

    /// Whether the live cadence should poll this meter now.
    public func liveProbeDue(at time: Timestamp) -> Bool {
        guard state == .offline, let next = nextLiveProbe else { return true }
        return time >= next
    }
}
