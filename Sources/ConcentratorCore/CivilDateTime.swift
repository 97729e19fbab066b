/// A calendar date and time of day without a zone (proleptic Gregorian), as meters print their
/// clocks. Converts to and from `Timestamp` given the offset of the zone it is read in.
public struct CivilDateTime: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int

    /// Nil unless every field is in range (month 1–12, the day exists in that month, hour 0–23,
    /// minute 0–59, second 0–59).
    public init?(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) {
        guard (1...12).contains(month), (1...Self.daysIn(month: month, year: year)).contains(day),
              (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second) else { return nil }
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
    }

    /// The civil time at `time` in a zone `offsetMinutes` east of UTC (whole seconds, rounded down).
    public init(_ time: Timestamp, offsetMinutes: Int = 0) {
        let secs = time.seconds + Int64(offsetMinutes) * 60
        let days = secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400
        let rem = secs - days * 86_400
        let (y, m, d) = ISO8601.civilFromDays(days)
        year = Int(y)
        month = Int(m)
        day = Int(d)
        hour = Int(rem / 3600)
        minute = Int(rem / 60 % 60)
        second = Int(rem % 60)
    }

    /// The instant this civil time denotes in a zone `offsetMinutes` east of UTC.
    public func timestamp(offsetMinutes: Int = 0) -> Timestamp {
        let days = ISO8601.daysFromCivil(Int64(year), Int64(month), Int64(day))
        let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetMinutes) * 60
        return Timestamp(seconds: seconds)
    }

    /// 1 = Monday … 7 = Sunday (ISO 8601).
    public var weekday: Int {
        let days = ISO8601.daysFromCivil(Int64(year), Int64(month), Int64(day))
        // 1970-01-01 was a Thursday (4).
        return Int(((days % 7) + 7 + 3) % 7) + 1
    }

    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    public static func < (a: CivilDateTime, b: CivilDateTime) -> Bool {
        (a.year, a.month, a.day, a.hour, a.minute, a.second) < (b.year, b.month, b.day, b.hour, b.minute, b.second)
    }

    /// `2026-03-29 02:00:00`.
    public var description: String {
        func pad(_ v: Int, _ w: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, w - s.count)) + s }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2)) \(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2))"
    }
}
