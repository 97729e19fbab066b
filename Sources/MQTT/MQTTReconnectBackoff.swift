/// Computes how long to wait before a reconnect attempt: `initialDelay × 2^attempt`, capped at
/// `maxDelay`, then multiplied by a random factor in `[1 − jitter, 1 + jitter)`. Pure: the random
/// source is passed in, so tests use a seeded generator.
public struct MQTTReconnectBackoff: Sendable {
    public let policy: MQTTReconnectPolicy

    public init(policy: MQTTReconnectPolicy) {
        self.policy = policy
    }

    /// The delay without jitter before retry number `attempt` (0 is the first retry after a failure).
    public func nominalDelay(attempt: Int) -> Duration {
        var delay = policy.initialDelay
        var step = 0
        while step < attempt {
            if delay >= policy.maxDelay { return policy.maxDelay }
            delay = delay * 2
            step += 1
        }
        return min(delay, policy.maxDelay)
    }

    /// The delay with jitter before retry number `attempt`.
    public func delay(attempt: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let nominal = nominalDelay(attempt: attempt)
        guard policy.jitterFraction > 0 else { return nominal }
        let unit = Double.random(in: 0..<1, using: &generator)
        let factor = 1 + policy.jitterFraction * (2 * unit - 1)
        return nominal * factor
    }
}
