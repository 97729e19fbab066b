import ConcentratorCore

/// The disciplined time of a node without NTP, for status and for its own beacons.
public struct MeshClockEstimate: Hashable, Sendable {
    /// UTC as the node now believes it.
    public var time: Timestamp
    /// 1: the node's own clock is synchronised (NTP, GNSS); n+1: disciplined from a stratum-n
    /// neighbour; 16: unsynchronised.
    public var stratum: UInt8
    /// Estimated offset of the local clock: UTC − local, in milliseconds.
    public var offsetMilliseconds: Double
    /// Estimated drift of the local clock, in parts per million (positive: UTC runs ahead).
    public var driftPPM: Double
    /// Estimated error of `time` in milliseconds (fit residual plus drift uncertainty since the last sample).
    public var errorMilliseconds: Double
    /// The neighbour the estimate follows, nil when the local clock is synchronised or nothing was heard.
    public var source: MeshNodeID?
    public var samples: Int
}

/// Disciplines a node's clock from beacons. Each beacon from a neighbour with a better stratum gives
/// one sample (local receive time, offset = sender's time + transit − local time); the discipline
/// keeps the last `maximumSamples` (an hour at one beacon a minute) from the best stratum heard, fits offset(local) = a + b·(local − t₀)
/// by least squares (b is the drift), rejects samples far from the fit, and yields the corrected time
/// and a stratum one worse than its source. A node whose own clock is synchronised ignores samples and
/// reports stratum 1. Pure: every instant is passed in.
public struct MeshClockDiscipline: Sendable {
    struct Sample: Hashable, Sendable {
        var local: Int64
        var offset: Double
    }

    public let maximumSamples: Int
    /// Samples of a stratum are preferred over a better stratum not heard for this long.
    public let sourceTimeoutMilliseconds: Int64
    /// After this long without a sample the estimate is reported unsynchronised.
    public let holdoverMilliseconds: Int64
    /// Drift beyond this is taken as a bad fit and not used.
    public static let maximumDriftPPM = 500.0

    private var samples: [Sample] = [] {
        didSet { cachedFit = fit() }
    }
    /// The fit of `samples`, recomputed whenever they change.
    private var cachedFit: Fit?
    private var sourceStratum: UInt8 = MeshTimeAdvertisement.unsynchronised
    private var source: MeshNodeID?
    private var lastSampleAt: Int64?
    /// Consecutive samples rejected as outliers; three that agree with each other are a step.
    private var rejected: [Sample] = []
    /// Samples rejected as outliers so far.
    public private(set) var rejectedSamples = 0
    /// Whether the local clock itself is synchronised (then samples are ignored).
    public var localClockSynchronised = false
    /// Samples closer together than this are skipped (one beacon from each of many neighbours adds
    /// little and costs a fit each).
    public let minimumSpacingMilliseconds: Int64

    public init(maximumSamples: Int = 64, minimumSpacingMilliseconds: Int64 = 0, sourceTimeoutMilliseconds: Int64 = 600_000,
                holdoverMilliseconds: Int64 = 21_600_000) {
        self.maximumSamples = max(2, maximumSamples)
        self.minimumSpacingMilliseconds = minimumSpacingMilliseconds
        self.sourceTimeoutMilliseconds = sourceTimeoutMilliseconds
        self.holdoverMilliseconds = holdoverMilliseconds
    }

    /// Offers a beacon's time. `transitMilliseconds` is the link's estimate of the time from stamping
    /// to reception (the radio's airtime; 0 on a LAN). Returns whether the sample was used.
    @discardableResult
    public mutating func offer(_ advertisement: MeshTimeAdvertisement, from sender: MeshNodeID, receivedAtLocal local: Timestamp,
                               transitMilliseconds: Int64 = 0) -> Bool {
        guard !localClockSynchronised, advertisement.stratum < MeshTimeAdvertisement.unsynchronised - 1 else { return false }
        let sourceStale = lastSampleAt.map { local.milliseconds - $0 > sourceTimeoutMilliseconds } ?? true
        if advertisement.stratum < sourceStratum || (sourceStale && advertisement.stratum != sourceStratum) {
            samples = []
            sourceStratum = advertisement.stratum
            rejected = []
        } else if advertisement.stratum > sourceStratum {
            return false
        } else if let last = lastSampleAt, local.milliseconds - last < minimumSpacingMilliseconds, local.milliseconds >= last {
            return false
        }
        let offset = Double(advertisement.time.milliseconds + transitMilliseconds - local.milliseconds)
        let sample = Sample(local: local.milliseconds, offset: offset)
        if samples.count >= 4, let fit = cachedFit {
            let predicted = fit.a + fit.b * Double(local.milliseconds - fit.t0)
            let tolerance = max(4 * fit.rms, 250 + Double(advertisement.errorMilliseconds))
            if abs(offset - predicted) > tolerance {
                rejectedSamples += 1
                rejected.append(sample)
                if rejected.count > 3 { rejected.removeFirst() }
                // Three in a row that agree with each other: the clock (or the source) stepped; start
                // over from them. Delays that merely vary (a busy radio queue) do not agree and are dropped.
                let offsets = rejected.map(\.offset)
                guard rejected.count == 3, offsets.max()! - offsets.min()! <= tolerance else { return false }
                samples = rejected
                rejected = []
                source = sender
                lastSampleAt = local.milliseconds
                return true
            }
        }
        rejected = []
        samples.append(sample)
        if samples.count > maximumSamples { samples.removeFirst(samples.count - maximumSamples) }
        source = sender
        lastSampleAt = local.milliseconds
        return true
    }

    /// The corrected time and its quality at local time `local`.
    public func estimate(atLocal local: Timestamp) -> MeshClockEstimate {
        if localClockSynchronised {
            return MeshClockEstimate(time: local, stratum: 1, offsetMilliseconds: 0, driftPPM: 0, errorMilliseconds: 0, source: nil,
                                     samples: 0)
        }
        guard let fit = cachedFit, let last = lastSampleAt else {
            return MeshClockEstimate(time: local, stratum: MeshTimeAdvertisement.unsynchronised, offsetMilliseconds: 0, driftPPM: 0,
                                     errorMilliseconds: .infinity, source: nil, samples: samples.count)
        }
        let offset = fit.a + fit.b * Double(local.milliseconds - fit.t0)
        let age = Double(max(0, local.milliseconds - last))
        let error = fit.rms + age * 50e-6
        let stale = local.milliseconds - last > holdoverMilliseconds
        let stratum = stale ? MeshTimeAdvertisement.unsynchronised : min(MeshTimeAdvertisement.unsynchronised - 1, sourceStratum + 1)
        return MeshClockEstimate(time: local.adding(milliseconds: Int64(offset.rounded())), stratum: stratum, offsetMilliseconds: offset,
                                 driftPPM: fit.b * 1e6, errorMilliseconds: error, source: source, samples: samples.count)
    }

    /// What the node puts in its beacons.
    public func advertisement(atLocal local: Timestamp) -> MeshTimeAdvertisement {
        let e = estimate(atLocal: local)
        let error = e.errorMilliseconds.isFinite ? UInt16(min(65_535, max(0, e.errorMilliseconds.rounded(.up)))) : UInt16.max
        return MeshTimeAdvertisement(time: e.time, stratum: e.stratum, errorMilliseconds: error)
    }

    struct Fit {
        var t0: Int64
        var a: Double
        var b: Double
        var rms: Double
    }

    /// Least squares offset = a + b·(local − t0), then again without the samples far below the line:
    /// a beacon that waited in its sender's queue carries an older time, never a newer one, so the
    /// fit follows the upper envelope of the offsets. The drift is used only once the samples span
    /// a minute and stays within ±500 ppm.
    func fit() -> Fit? {
        guard let first = fit(samples) else { return nil }
        let floor = max(2 * first.rms, 100)
        let kept = samples.filter { $0.offset - (first.a + first.b * Double($0.local - first.t0)) >= -floor }
        guard kept.count >= 2, kept.count < samples.count else { return first }
        return fit(kept) ?? first
    }

    private func fit(_ samples: [Sample]) -> Fit? {
        guard let first = samples.first else { return nil }
        let t0 = first.local
        let n = Double(samples.count)
        let xs = samples.map { Double($0.local - t0) }
        let ys = samples.map(\.offset)
        let mx = xs.reduce(0, +) / n
        let my = ys.reduce(0, +) / n
        var sxx = 0.0, sxy = 0.0
        for i in 0..<samples.count {
            sxx += (xs[i] - mx) * (xs[i] - mx)
            sxy += (xs[i] - mx) * (ys[i] - my)
        }
        var b = 0.0
        if samples.count >= 3, (xs.last ?? 0) - (xs.first ?? 0) >= 60_000, sxx > 0 {
            b = sxy / sxx
            if abs(b) * 1e6 > Self.maximumDriftPPM { b = 0 }
        }
        let a = my - b * mx
        var squares = 0.0
        for i in 0..<samples.count {
            let r = ys[i] - (a + b * xs[i])
            squares += r * r
        }
        return Fit(t0: t0, a: a, b: b, rms: (squares / n).squareRoot())
    }
}
