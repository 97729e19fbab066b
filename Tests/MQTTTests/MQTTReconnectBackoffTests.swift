@testable import MQTT
import Testing

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator for reproducible jitter.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct MQTTReconnectBackoffTests {
    let backoff = MQTTReconnectBackoff(policy: MQTTReconnectPolicy(initialDelay: .seconds(1), maxDelay: .seconds(60),
                                                                   jitterFraction: 0.2))

    @Test func nominalDelayDoublesFromOneSecondAndStopsAtSixty() {
        let expected: [Duration] = [1, 2, 4, 8, 16, 32, 60, 60, 60].map { .seconds($0) }
        #expect((0..<9).map { backoff.nominalDelay(attempt: $0) } == expected)
        #expect(backoff.nominalDelay(attempt: 10_000) == .seconds(60), "no overflow after days of retries")
    }

    @Test func jitterStaysWithinTwentyPercentAndSpreadsBothWays() {
        var generator = SplitMix64(state: 42)
        for attempt in 0..<8 {
            let nominal = backoff.nominalDelay(attempt: attempt)
            let delays = (0..<500).map { _ in backoff.delay(attempt: attempt, using: &generator) }
            #expect(delays.allSatisfy { $0 >= nominal * 0.8 && $0 < nominal * 1.2 }, "attempt \(attempt)")
            #expect(delays.contains { $0 < nominal * 0.9 }, "some retries come early (attempt \(attempt))")
            #expect(delays.contains { $0 > nominal * 1.1 }, "some retries come late (attempt \(attempt))")
        }
    }

    @Test func delaysGrowAcrossAttemptsDespiteJitter() {
        var generator = SplitMix64(state: 7)
        let delays = (0..<7).map { backoff.delay(attempt: $0, using: &generator) }
        // Doubling beats ±20 %: 1.2 × d < 0.8 × 2d.
        #expect(zip(delays, delays.dropFirst()).allSatisfy { $0 < $1 }, "\(delays)")
    }

    @Test func theSameSeedGivesTheSameDelaysAndAnotherSeedDoesNot() {
        var first = SplitMix64(state: 2024)
        var second = SplitMix64(state: 2024)
        var other = SplitMix64(state: 2025)
        let a = (0..<10).map { backoff.delay(attempt: $0, using: &first) }
        let b = (0..<10).map { backoff.delay(attempt: $0, using: &second) }
        let c = (0..<10).map { backoff.delay(attempt: $0, using: &other) }
        #expect(a == b)
        #expect(a != c)
    }

    @Test func zeroJitterGivesTheNominalDelay() {
        let exact = MQTTReconnectBackoff(policy: MQTTReconnectPolicy(initialDelay: .milliseconds(250), maxDelay: .seconds(2),
                                                                     jitterFraction: 0))
        var generator = SplitMix64(state: 1)
        #expect((0..<5).map { exact.delay(attempt: $0, using: &generator) }
                == [.milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(2)])
    }
}
