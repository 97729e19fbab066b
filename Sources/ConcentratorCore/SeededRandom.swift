/// A small deterministic random generator (SplitMix64, Steele, Lea and Flood 2014). Every simulated
/// meter derives its own stream from the simulator seed and its address, and the mesh simulation and
/// mesh nodes draw their jitter from it, so a run is reproducible. Not for keys or nonces.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SeededRandom.mix(state)
    }

    /// A uniform number in `range`.
    public mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * unitInterval()
    }

    /// A uniform number in [0, 1).
    public mutating func unitInterval() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// The SplitMix64 finaliser: a well-spread 64-bit hash of `value`.
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A stateless noise value in [-1, 1] for (`seed`, `key`, `tick`): the same inputs always give
    /// the same value, so a meter reports one value per quantity per simulated second.
    public static func noise(seed: UInt64, key: UInt64, tick: Int64) -> Double {
        let h = mix(seed ^ mix(key &+ 0x632B_E59B_D9B4_E019) ^ mix(UInt64(bitPattern: tick)))
        return Double(h >> 11) / Double(1 << 52) - 1
    }

    /// A stable 64-bit key for a string (FNV-1a), used to give each quantity its own noise.
    public static func key(_ text: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h
    }
}
