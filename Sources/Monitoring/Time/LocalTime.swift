import ConcentratorCore

/// A calendar date without a time zone (proleptic Gregorian), e.g. 2026-03-29.
public struct LocalDate: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    /// A date from its fields; nil when the day does not exist (2026-02-30).
    public init?(year: Int, month: Int, day: Int) {
        guard (1...12).contains(month), (1...31).contains(day) else { return nil }
        self.year = year
        self.month = month
        self.day = day
        guard LocalDate(daysSinceEpoch: daysSinceEpoch) == self else { return nil }
    }

    /// The date `days` days after 1970-01-01.
    public init(daysSinceEpoch days: Int64) {
        let (y, m, d) = ISO8601.civilFromDays(days)
        year = Int(y)
        month = Int(m)
        day = Int(d)
    }

    /// Parses `YYYY-MM-DD`.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]) else { return nil }
        self.init(year: y, month: m, day: d)
    }

    public var daysSinceEpoch: Int64 { ISO8601.daysFromCivil(Int64(year), Int64(month), Int64(day)) }

    /// ISO weekday: Monday = 1 … Sunday = 7 (1970-01-01 was a Thursday).
    public var weekday: Weekday {
        let d = daysSinceEpoch
        let index = ((d + 3) % 7 + 7) % 7 // 0 = Monday
        return Weekday.allCases[Int(index)]
    }

    public func adding(days: Int) -> LocalDate { LocalDate(daysSinceEpoch: daysSinceEpoch + Int64(days)) }

    /// Days in this date's month.
    public var daysInMonth: Int {
        let next = month == 12 ? LocalDate(year: year + 1, month: 1, day: 1)! : LocalDate(year: year, month: month + 1, day: 1)!
        return Int(next.daysSinceEpoch - LocalDate(year: year, month: month, day: 1)!.daysSinceEpoch)
    }

    public static func < (a: LocalDate, b: LocalDate) -> Bool { a.daysSinceEpoch < b.daysSinceEpoch }

    public var description: String { pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let date = LocalDate(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a YYYY-MM-DD date: \(text)"))
        }
        self = date
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// A local date and wall-clock time, as a person in the zone reads it.
public struct LocalDateTime: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let date: LocalDate
    /// Seconds after local midnight, 0 ..< 86400.
    public let secondsOfDay: Int

    public init(date: LocalDate, secondsOfDay: Int) {
        precondition((0..<86_400).contains(secondsOfDay), "seconds of day out of range")
        self.date = date
        self.secondsOfDay = secondsOfDay
    }

    public init(date: LocalDate, time: TimeOfDay) { self.init(date: date, secondsOfDay: time.secondsOfDay) }

    /// The local date-time whose "local epoch seconds" (seconds since 1970-01-01T00:00 on the wall clock) are `seconds`.
    public init(localEpochSeconds seconds: Int64) {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        date = LocalDate(daysSinceEpoch: days)
        secondsOfDay = Int(seconds - days * 86_400)
    }

    /// Seconds since 1970-01-01T00:00 of the wall clock (as if the zone were UTC).
    public var localEpochSeconds: Int64 { date.daysSinceEpoch * 86_400 + Int64(secondsOfDay) }

    public var hour: Int { secondsOfDay / 3600 }
    public var minute: Int { secondsOfDay / 60 % 60 }

    public static func < (a: LocalDateTime, b: LocalDateTime) -> Bool { a.localEpochSeconds < b.localEpochSeconds }

    public var description: String {
        var text = date.description + "T" + pad(hour, 2) + ":" + pad(minute, 2)
        if secondsOfDay % 60 != 0 { text += ":" + pad(secondsOfDay % 60, 2) }
        return text
    }
}

/// Zero-padded decimal text of a non-negative number.
func pad(_ value: Int, _ width: Int) -> String {
    let s = String(value)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}
