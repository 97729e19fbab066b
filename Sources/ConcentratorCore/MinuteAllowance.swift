/// How many of something (unverifiable command messages, bad acks) get individual treatment — a
/// reply, an audit entry, a log line — per minute of the wall clock; the rest are counted. One value
/// type for every such flood guard, so they all behave alike (issue 17 #7, #12). Pure: the caller
/// passes the time and keeps the value under its own lock.
public struct MinuteAllowance: Hashable, Sendable {
    /// What one more occurrence gets.
    public enum Decision: Hashable, Sendable {
        /// Within the allowance: treat it individually.
        case admitted
        /// The first beyond the allowance this minute: say once that the rest are only counted.
        case exhausted
        /// Beyond the allowance: only count it.
        case counted

        public var isAdmitted: Bool { self == .admitted }
    }

    public let perMinute: Int
    private var minute = Int64.min
    private var count = 0
    private var countedInPreviousMinute = 0

    public init(perMinute: Int) { self.perMinute = perMinute }

    /// Takes one occurrence at `now`.
    public mutating func take(at now: Timestamp) -> Decision {
        let current = now.milliseconds / 60_000
        if current != minute {
            countedInPreviousMinute = max(0, count - perMinute)
            minute = current
            count = 0
        }
        count += 1
        if count <= perMinute { return .admitted }
        return count == perMinute + 1 ? .exhausted : .counted
    }

    /// Occurrences beyond the allowance in the minute before the current one, reported once (0 after
    /// the first call, and when there were none): for a closing line "… n more were not logged".
    public mutating func takeCountedInPreviousMinute() -> Int {
        defer { countedInPreviousMinute = 0 }
        return countedInPreviousMinute
    }
}
