/// The time retention may trust (issue 17 #4; DESIGN rule 5: "the clock is checked for plausibility
/// before anything is pruned by age"). Pure: the caller passes the wall clock, a monotonic reading
/// (time since any fixed origin, which never jumps) and what it knows about the kernel's clock.
///
/// - While the wall clock moves as the monotonic clock does (within `tolerance`), it is plausible and
///   retention uses it.
/// - A step beyond `tolerance` (a bad RTC after a power cut, a wrong NTP answer, a hand-set clock) is
///   reported once, and retention goes on from the last plausible time plus the elapsed time: a jump
///   of +60 days prunes nothing the elapsed time would not have pruned. The step is accepted only
///   when the kernel reports its clock synchronised and the step has stood for `confirmation`
///   (monotonic time), or when the wall clock comes back in line.
/// - At start the reference is the newest time the device is known to have seen (`evidence`: the
///   newest archived interval, the newest outbox entry, the last head-end ack, the last retention
///   cutoff plus the retention). A wall clock behind it, or more than `startGap` ahead of it without
///   kernel synchronisation, is treated as a step.
///
/// `RetentionCutoff` bounds how far one retention step may move on top of this.
public struct RetentionClock: Sendable {
    /// What one observation found.
    public enum Change: Hashable, Sendable {
        /// The wall clock stepped by `milliseconds` (positive: forward) relative to the time retention trusts.
        case stepped(milliseconds: Int64, from: Timestamp, to: Timestamp)
        /// A step was accepted: the kernel reports its clock synchronised.
        case accepted(milliseconds: Int64)
        /// The wall clock came back in line with the time retention trusts.
        case backInLine
    }

    /// How far the wall clock may drift from the monotonic clock before it counts as a step.
    public let tolerance: Int64
    /// Wall milliseconds per monotonic millisecond (1 for the system clock; the accelerated test clock's rate).
    public let rate: Double
    /// A wall clock this far ahead of the evidence at start counts as a step unless the kernel is synchronised.
    public let startGap: Int64
    /// How long a step must stand, with the kernel synchronised, before it is accepted.
    public let confirmation: Duration

    private var reference: (wall: Timestamp, monotonic: Duration)?
    private var pending: (offset: Int64, since: Duration)?

    public init(tolerance: Int64 = 600_000, rate: Double = 1, startGap: Int64 = 86_400_000,
                confirmation: Duration = .seconds(3600)) {
        self.tolerance = tolerance
        self.rate = rate
        self.startGap = startGap
        self.confirmation = confirmation
    }

    /// Whether a step is waiting for confirmation (retention follows the elapsed time meanwhile).
    public var stepPending: Bool { pending != nil }

    /// The time retention may use at `monotonic`: the wall clock when it is plausible, otherwise the
    /// last plausible time plus the elapsed time.
    public func trustedNow(wall: Timestamp, monotonic: Duration) -> Timestamp {
        guard let reference, pending != nil else { return wall }
        return expected(from: reference, at: monotonic)
    }

    /// Looks at the wall clock now; returns what changed, if anything. `kernelSynchronised` is nil
    /// when unknown (a virtual clock). `evidence` is only used at the first observation.
    public mutating func observe(wall: Timestamp, monotonic: Duration, kernelSynchronised: Bool?,
                                 evidence: Timestamp? = nil) -> Change? {
        guard let current = reference else {
            guard let evidence else {
                reference = (wall, monotonic)
                return nil
            }
            let offset = wall.milliseconds - evidence.milliseconds
            let behind = offset < -tolerance
            let farAhead = offset > startGap && kernelSynchronised != true
            reference = behind || farAhead ? (evidence, monotonic) : (wall, monotonic)
            guard behind || farAhead else { return nil }
            pending = (offset, monotonic)
            return .stepped(milliseconds: offset, from: evidence, to: wall)
        }
        let expectedNow = expected(from: current, at: monotonic)
        let offset = wall.milliseconds - expectedNow.milliseconds
        if abs(offset) <= tolerance {
            reference = (wall, monotonic)
            defer { pending = nil }
            return pending == nil ? nil : .backInLine
        }
        if let step = pending, abs(step.offset - offset) <= tolerance {
            if kernelSynchronised == true, monotonic - step.since >= confirmation {
                reference = (wall, monotonic)
                pending = nil
                return .accepted(milliseconds: offset)
            }
            return nil
        }
        // A new step (or the first): keep the trusted time where the elapsed time puts it.
        reference = (expectedNow, monotonic)
        pending = (offset, monotonic)
        return .stepped(milliseconds: offset, from: expectedNow, to: wall)
    }

    private func expected(from reference: (wall: Timestamp, monotonic: Duration), at monotonic: Duration) -> Timestamp {
        let elapsed = (monotonic - reference.monotonic).inMillisecondsRounded
        return reference.wall.adding(milliseconds: Int64((Double(elapsed) * rate).rounded()))
    }

    /// "60 d 0 h", "2 h 5 min", "45 s": a step for people.
    public static func describe(milliseconds: Int64) -> String {
        let s = abs(milliseconds) / 1000
        if s >= 86_400 { return "\(s / 86_400) d \((s % 86_400) / 3600) h" }
        if s >= 3600 { return "\(s / 3600) h \((s % 3600) / 60) min" }
        if s >= 60 { return "\(s / 60) min \(s % 60) s" }
        return "\(s) s"
    }
}

/// How far one retention step may move the cutoff: never back (what is pruned is gone), and at most
/// `maximumAdvance` past the previous cutoff, so that even a clock that passed every check cannot
/// take the whole archive in one step. Pure.
public enum RetentionCutoff {
    public static let maximumAdvance: Int64 = 86_400_000

    /// The cutoff to use now, given the one the trusted clock proposes and the previous one (persisted).
    public static func bounded(proposed: Timestamp, previous: Timestamp?) -> Timestamp {
        guard let previous else { return proposed }
        return Timestamp(milliseconds: min(max(proposed.milliseconds, previous.milliseconds),
                                           previous.milliseconds + maximumAdvance))
    }
}

extension Duration {
    /// Whole milliseconds (rounded toward zero).
    var inMillisecondsRounded: Int64 {
        let (s, atto) = components
        return s * 1000 + atto / 1_000_000_000_000_000
    }
}
