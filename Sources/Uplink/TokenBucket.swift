import Platform

/// A byte-rate limiter: the drain may burst up to `capacity` bytes, then sends at `rate` bytes per
/// second, so a backlog after an outage never saturates a cellular link. Pure: time is passed in.
public struct TokenBucket: Hashable, Sendable {
    public let rate: Double
    public let capacity: Double
    private var tokens: Double
    private var last: ContinuousClock.Instant?

    public init(bytesPerSecond: Int, burst: Int) {
        rate = Double(bytesPerSecond)
        capacity = Double(max(burst, bytesPerSecond))
        tokens = capacity
    }

    /// Takes `bytes` at `now`; returns how long the caller must wait before sending them (zero when
    /// they fit now). A message larger than the capacity waits until the bucket is full, then goes.
    public mutating func take(_ bytes: Int, now: ContinuousClock.Instant) -> Duration {
        if let last { tokens = min(capacity, tokens + (now - last).inSeconds * rate) }
        last = now
        let need = min(Double(bytes), capacity)
        if tokens >= need {
            tokens -= need
            return .zero
        }
        let wait = (need - tokens) / rate
        tokens = 0
        last = now + .microseconds(Int64(wait * 1_000_000))
        return .microseconds(Int64(wait * 1_000_000))
    }
}
