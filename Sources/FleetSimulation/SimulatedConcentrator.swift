import ConcentratorCore
import Wire

/// One simulated concentrator: its own device keys (derived from a seed, so a fleet is the same on
/// every run), a fleet of meters with plausible values, and a sealer to the head-end. It produces
/// real sealed, signed hourly batches, numbered from 1, exactly as the agent's uplink would.
public struct SimulatedConcentrator: Sendable {
    public let id: String
    public let signingKey: SigningPrivateKey
    private let sealer: BatchSealer
    private var meters: Fleet

    /// `index` chooses the id (`<prefix>-00001`…) and the key seed; `meters` meters of 30 quantities.
    /// `cheapSealing` encodes without the column reference search (`BatchSealer.searchReferences`): real
    /// sealed, signed batches, a little larger, many times cheaper to produce in a debug build.
    public init(index: Int, prefix: String = "sim", meters: Int, headEndSealingKey: AgreementPublicKey, seed: UInt64 = 2026,
                cheapSealing: Bool = false) throws {
        let digits = String(index)
        id = "\(prefix)-\(String(repeating: "0", count: max(0, 5 - digits.count)))\(digits)"
        var random = SplitMix64(state: seed &+ UInt64(index) &* 7919)
        let keySeed = (0..<4).flatMap { _ -> [UInt8] in withUnsafeBytes(of: random.next().littleEndian, Array.init) }
        signingKey = try SigningPrivateKey(seed: keySeed)
        sealer = try BatchSealer(deviceID: id, signingKey: signingKey, headEndSealingKey: headEndSealingKey, compressionLevel: cheapSealing ? 1 : 3,
                                 searchReferences: !cheapSealing)
        self.meters = Fleet(count: meters, float32Share: 0.4, seed: seed &+ UInt64(index))
    }

    /// The public key document to register the device with (`headend devices add`).
    public var publicDocument: PublicKeyDocument { PublicKeyDocument(signingKey.publicKey, role: "device", device: id) }

    /// The sealed batch `sequence` holding the hourly snapshots of every meter for the hour starting at `start`.
    public mutating func hourlyBatch(sequence: UInt64, start: Timestamp) throws -> SealedBatch {
        let snapshots = meters.interval(start: start)
        return try sealer.seal(.snapshots(.interval, interval: IntervalSchedule(minutes: 60), snapshots), sequence: sequence)
    }

    /// Values in one hourly batch.
    public var valuesPerBatch: Int { meters.meters.count * benchQuantities.count }
}
