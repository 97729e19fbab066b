/// A month of the UTC calendar: what a monthly partition of a time-partitioned table covers.
public struct CalendarMonth: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let year: Int64
    /// 1…12.
    public let month: Int64

    public init(year: Int64, month: Int64) {
        precondition((1...12).contains(month), "month \(month) is not 1…12")
        self.year = year
        self.month = month
    }

    /// The month that contains `time`.
    public init(containing time: Timestamp) {
        let seconds = time.milliseconds >= 0 ? time.milliseconds / 1000 : (time.milliseconds - 999) / 1000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let (y, m, _) = ISO8601.civilFromDays(days)
        self.init(year: y, month: m)
    }

    /// Midnight UTC on the first day.
    public var start: Timestamp { Timestamp(seconds: ISO8601.daysFromCivil(year, month, 1) * 86_400) }

    public var next: CalendarMonth { month == 12 ? CalendarMonth(year: year + 1, month: 1) : CalendarMonth(year: year, month: month + 1) }

    /// `YYYY-MM`.
    public var description: String {
        let y = String(year), m = String(month)
        return String(repeating: "0", count: max(0, 4 - y.count)) + y + "-" + (m.count < 2 ? "0" : "") + m
    }

    public static func < (a: CalendarMonth, b: CalendarMonth) -> Bool { (a.year, a.month) < (b.year, b.month) }
}
