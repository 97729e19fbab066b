/// A point in time: milliseconds since the Unix epoch, UTC.
///
/// Core code never reads the wall clock itself; it receives a `WallClock` (rule 4 of DESIGN.md).
public struct Timestamp: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }
    public init(seconds: Int64) { self.milliseconds = seconds * 1000 }

    /// Whole seconds since the epoch (rounded towards minus infinity).
    public var seconds: Int64 { milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000 }

    public func adding(milliseconds delta: Int64) -> Timestamp { Timestamp(milliseconds: milliseconds + delta) }
    public func adding(seconds delta: Int64) -> Timestamp { Timestamp(milliseconds: milliseconds + delta * 1000) }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.milliseconds < rhs.milliseconds }

    public var description: String { ISO8601.format(self) }

    public init(from decoder: any Decoder) throws {
        milliseconds = try decoder.singleValueContainer().decode(Int64.self)
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(milliseconds)
    }
}

/// The source of "now" for everything that needs it. Production uses the system clock; tests use
/// a virtual or accelerated clock so that a 45-day retention test runs in seconds.
public protocol WallClock: Sendable {
    /// The current wall-clock time.
    func now() -> Timestamp
    /// How much real (monotonic) time passes while this clock advances by `milliseconds`.
    /// The system clock returns the same amount; an accelerated clock returns less.
    func realDuration(ofMilliseconds milliseconds: Int64) -> Duration
}

/// Fixed-length intervals aligned to wall-clock boundaries (every hour at :00, every 15 minutes at
/// :00, :15, :30, :45), in UTC. Offsets are whole minutes dividing the hour or the day, so local
/// time zones with whole-hour offsets share the same boundaries.
public struct IntervalSchedule: Hashable, Sendable {
    public let lengthSeconds: Int64

    public init(minutes: Int) {
        precondition(minutes > 0, "interval length must be positive")
        lengthSeconds = Int64(minutes) * 60
    }

    public var lengthMilliseconds: Int64 { lengthSeconds * 1000 }

    /// The start of the interval that contains `time`.
    public func start(containing time: Timestamp) -> Timestamp {
        let s = time.seconds
        let floored = s >= 0 ? s - s % lengthSeconds : s - ((s % lengthSeconds) + lengthSeconds) % lengthSeconds
        return Timestamp(seconds: floored)
    }

    /// The first boundary strictly after `time`.
    public func nextBoundary(after time: Timestamp) -> Timestamp {
        start(containing: time).adding(seconds: lengthSeconds)
    }

    /// Whether `time` lies exactly on a boundary.
    public func isBoundary(_ time: Timestamp) -> Bool {
        time.milliseconds % lengthMilliseconds == 0
    }
}

/// Minimal ISO 8601 (UTC, "2026-11-21T10:00:00Z") formatting and parsing without Foundation's
/// calendar machinery. Used by logs, exports and the command line.
public enum ISO8601 {
    /// Formats as `YYYY-MM-DDTHH:MM:SSZ`, adding `.mmm` when the milliseconds are not zero.
    public static func format(_ t: Timestamp) -> String { format(t, alwaysMilliseconds: false) }

    /// Formats as `YYYY-MM-DDTHH:MM:SS.mmmZ`, always with milliseconds (fixed width, for log lines).
    public static func formatWithMilliseconds(_ t: Timestamp) -> String { format(t, alwaysMilliseconds: true) }

    private static func format(_ t: Timestamp, alwaysMilliseconds: Bool) -> String {
        let ms = Int64(((t.milliseconds % 1000) + 1000) % 1000)
        let secs = t.seconds
        let days = secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400
        let rem = secs - days * 86_400
        let (y, m, d) = civilFromDays(days)
        var out = "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(rem / 3600, 2)):\(pad(rem / 60 % 60, 2)):\(pad(rem % 60, 2))"
        if ms != 0 || alwaysMilliseconds { out += ".\(pad(ms, 3))" }
        return out + "Z"
    }

    /// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.fff]]` with `Z` or `±HH:MM`, or a bare number of
    /// seconds since the epoch. Returns nil for anything else.
    public static func parse(_ text: String) -> Timestamp? {
        if let secs = Int64(text) { return Timestamp(seconds: secs) }
        let chars = Array(text.utf8)
        func num(_ from: Int, _ len: Int) -> Int64? {
            guard from + len <= chars.count else { return nil }
            var v: Int64 = 0
            for c in chars[from..<(from + len)] {
                guard c >= 48, c <= 57 else { return nil }
                v = v * 10 + Int64(c - 48)
            }
            return v
        }
        guard let y = num(0, 4), chars.count >= 10, chars[4] == 45, let mo = num(5, 2), chars[7] == 45,
              let d = num(8, 2), (1...12).contains(mo), (1...31).contains(d) else { return nil }
        var seconds = daysFromCivil(y, mo, d) * 86_400
        var i = 10
        var millis: Int64 = 0
        if i < chars.count {
            guard chars[i] == 84 || chars[i] == 32, let h = num(i + 1, 2), chars.count > i + 3, chars[i + 3] == 58,
                  let mi = num(i + 4, 2), h < 24, mi < 60 else { return nil }
            seconds += h * 3600 + mi * 60
            i += 6
            if i < chars.count, chars[i] == 58 {
                guard let s = num(i + 1, 2), s < 61 else { return nil }
                seconds += s
                i += 3
                if i < chars.count, chars[i] == 46 {
                    i += 1
                    var digits = 0
                    while i < chars.count, chars[i] >= 48, chars[i] <= 57 {
                        if digits < 3 { millis = millis * 10 + Int64(chars[i] - 48) }
                        digits += 1
                        i += 1
                    }
                    guard digits > 0 else { return nil }
                    for _ in digits..<3 where digits < 3 { millis *= 10 }
                }
            }
            if i < chars.count {
                if chars[i] == 90 { i += 1 } else if chars[i] == 43 || chars[i] == 45 {
                    guard let oh = num(i + 1, 2), chars.count > i + 3, chars[i + 3] == 58, let om = num(i + 4, 2)
                    else { return nil }
                    let offset = oh * 3600 + om * 60
                    seconds += chars[i] == 43 ? -offset : offset
                    i += 6
                } else { return nil }
            }
            guard i == chars.count else { return nil }
        }
        return Timestamp(milliseconds: seconds * 1000 + millis)
    }

    private static func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    // Howard Hinnant's days_from_civil / civil_from_days (public domain algorithms).
    /// Days since 1970-01-01 of a proleptic Gregorian date (month 1–12, day 1–31).
    public static func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The proleptic Gregorian (year, month, day) of a day count since 1970-01-01.
    public static func civilFromDays(_ z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
