import ConcentratorCore

/// The rule of a POSIX `TZ` string (POSIX.1-2017 §8.3 with the RFC 8536 §3.3.1 extensions: hours
/// −167…167 in transition times), as found in the footer of a TZif v2+ file. It gives the local time
/// for instants beyond the file's transition table, e.g. `CET-1CEST,M3.5.0,M10.5.0/3` for Europe/Rome.
public struct POSIXTimeZoneRule: Hashable, Sendable {
    /// Standard time: abbreviation and offset east of UTC in seconds (POSIX writes it west-positive).
    public let standard: ZoneLocalTimeType
    /// Daylight time and when it starts and ends, if the zone has it.
    public let daylight: Daylight?

    /// Daylight saving time and its yearly transitions.
    public struct Daylight: Hashable, Sendable {
        public let type: ZoneLocalTimeType
        /// When DST starts, in local standard time.
        public let start: TransitionDate
        /// When DST ends, in local daylight time.
        public let end: TransitionDate
    }

    /// One yearly transition: a day rule and a local time of day in seconds (may be negative or beyond 24 h).
    public struct TransitionDate: Hashable, Sendable {
        /// Which day of the year the transition falls on.
        public enum Day: Hashable, Sendable {
            /// `Jn`: day 1–365, February 29 never counted.
            case julianNoLeap(Int)
            /// `n`: day 0–365, February 29 counted in leap years.
            case zeroBased(Int)
            /// `Mm.w.d`: weekday d (0 = Sunday) of week w (1–5, 5 = last) of month m.
            case monthWeekDay(month: Int, week: Int, weekday: Int)
        }

        public let day: Day
        public let secondsOfDay: Int

        /// Local-epoch seconds (wall clock as if UTC) of this transition in `year`.
        func localSeconds(in year: Int) -> Int64 {
            let dayNumber: Int64
            switch day {
            case .julianNoLeap(let n):
                var d = ISO8601.daysFromCivil(Int64(year), 1, 1) + Int64(n - 1)
                if isLeap(year), n >= 60 { d += 1 }
                dayNumber = d
            case .zeroBased(let n):
                dayNumber = ISO8601.daysFromCivil(Int64(year), 1, 1) + Int64(n)
            case .monthWeekDay(let month, let week, let weekday):
                let first = ISO8601.daysFromCivil(Int64(year), Int64(month), 1)
                // 1970-01-01 was a Thursday (weekday 4 with Sunday = 0).
                let firstWeekday = Int(((first + 4) % 7 + 7) % 7)
                var d = first + Int64((weekday - firstWeekday + 7) % 7) + Int64(7 * (week - 1))
                let length = LocalDate(year: year, month: month, day: 1)!.daysInMonth
                while d - first >= Int64(length) { d -= 7 }
                dayNumber = d
            }
            return dayNumber * 86_400 + Int64(secondsOfDay)
        }
    }

    /// Parses a POSIX TZ string. Throws for anything else, naming what is wrong.
    public init(_ text: String) throws(TimeZoneRulesError) {
        var p = Scanner(Array(text.utf8))
        let stdName = try p.name()
        let stdOffset = try p.offset(what: "standard offset")
        standard = ZoneLocalTimeType(utcOffsetSeconds: -stdOffset, isDaylightSaving: false, abbreviation: stdName)
        if p.isAtEnd {
            daylight = nil
            return
        }
        let dstName = try p.name()
        var dstOffset = stdOffset - 3600
        if let c = p.peek, c != UInt8(ascii: ",") { dstOffset = try p.offset(what: "daylight offset") }
        guard p.take(UInt8(ascii: ",")) else {
            throw TimeZoneRulesError("TZ string \"\(text)\" has daylight time without transition rules")
        }
        let start = try p.transition()
        guard p.take(UInt8(ascii: ",")) else { throw TimeZoneRulesError("TZ string \"\(text)\": expected ',' before the DST end rule") }
        let end = try p.transition()
        guard p.isAtEnd else { throw TimeZoneRulesError("TZ string \"\(text)\": unexpected text after the DST end rule") }
        daylight = Daylight(type: ZoneLocalTimeType(utcOffsetSeconds: -dstOffset, isDaylightSaving: true, abbreviation: dstName),
                            start: start, end: end)
    }

    /// The transitions of `year` as (UTC seconds, type after the transition), in time order.
    func transitions(in year: Int) -> [(seconds: Int64, type: ZoneLocalTimeType)] {
        guard let daylight else { return [] }
        let start = daylight.start.localSeconds(in: year) - Int64(standard.utcOffsetSeconds)
        let end = daylight.end.localSeconds(in: year) - Int64(daylight.type.utcOffsetSeconds)
        return [(start, daylight.type), (end, standard)].sorted { $0.seconds < $1.seconds }
    }

    /// The local time type in effect at `seconds` (UTC).
    func type(atSeconds seconds: Int64) -> ZoneLocalTimeType {
        guard daylight != nil else { return standard }
        let year = Int(ISO8601.civilFromDays((seconds + Int64(standard.utcOffsetSeconds)).floorDiv(86_400)).0)
        var current = standard
        var found = false
        for y in (year - 1)...(year + 1) {
            for t in transitions(in: y) where t.seconds <= seconds {
                current = t.type
                found = true
            }
        }
        // Before any transition of year-1 (cannot happen for well-formed rules): the state before the
        // first transition of the year is the type the last transition of a year switches to.
        return found ? current : (transitions(in: year).last?.type ?? standard)
    }

    /// The first transition strictly after `seconds` (UTC), if the zone has DST.
    func nextTransition(afterSeconds seconds: Int64) -> Int64? {
        guard daylight != nil else { return nil }
        let year = Int(ISO8601.civilFromDays(seconds.floorDiv(86_400)).0)
        for y in (year - 1)...(year + 2) {
            for t in transitions(in: y) where t.seconds > seconds { return t.seconds }
        }
        return nil
    }
}

private func isLeap(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

extension Int64 {
    /// Division rounding towards minus infinity.
    func floorDiv(_ d: Int64) -> Int64 { self >= 0 ? self / d : (self - d + 1) / d }
}

/// Reads the parts of a TZ string.
private struct Scanner {
    let bytes: [UInt8]
    var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { index >= bytes.count }
    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }
    var text: String { String(decoding: bytes, as: UTF8.self) }

    mutating func take(_ c: UInt8) -> Bool {
        guard peek == c else { return false }
        index += 1
        return true
    }

    /// A zone abbreviation: three or more letters, or `<…>` quoted with letters, digits, '+' and '-'.
    mutating func name() throws(TimeZoneRulesError) -> String {
        let start = index
        if take(UInt8(ascii: "<")) {
            while let c = peek, c != UInt8(ascii: ">") {
                guard isAlnum(c) || c == UInt8(ascii: "+") || c == UInt8(ascii: "-") else { break }
                index += 1
            }
            guard take(UInt8(ascii: ">")), index - start >= 5 else { throw TimeZoneRulesError("TZ string \"\(text)\": bad quoted zone name") }
            return String(decoding: bytes[(start + 1)..<(index - 1)], as: UTF8.self)
        }
        while let c = peek, isAlpha(c) { index += 1 }
        guard index - start >= 3 else { throw TimeZoneRulesError("TZ string \"\(text)\": zone name needs at least 3 letters") }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// `[+-]hh[:mm[:ss]]` in seconds; hours up to `maxHours`.
    mutating func hms(what: String, maxHours: Int) throws(TimeZoneRulesError) -> Int {
        var sign = 1
        if take(UInt8(ascii: "-")) { sign = -1 } else { _ = take(UInt8(ascii: "+")) }
        let h = try number(what: what, maxDigits: 3)
        guard h <= maxHours else { throw TimeZoneRulesError("TZ string \"\(text)\": \(what) hours out of range") }
        var seconds = h * 3600
        if take(UInt8(ascii: ":")) {
            let m = try number(what: what, maxDigits: 2)
            guard m < 60 else { throw TimeZoneRulesError("TZ string \"\(text)\": \(what) minutes out of range") }
            seconds += m * 60
            if take(UInt8(ascii: ":")) {
                let s = try number(what: what, maxDigits: 2)
                guard s < 60 else { throw TimeZoneRulesError("TZ string \"\(text)\": \(what) seconds out of range") }
                seconds += s
            }
        }
        return sign * seconds
    }

    mutating func offset(what: String) throws(TimeZoneRulesError) -> Int { try hms(what: what, maxHours: 24) }

    mutating func number(what: String, maxDigits: Int) throws(TimeZoneRulesError) -> Int {
        let start = index
        var value = 0
        while let c = peek, c >= 48, c <= 57, index - start < maxDigits {
            value = value * 10 + Int(c - 48)
            index += 1
        }
        guard index > start else { throw TimeZoneRulesError("TZ string \"\(text)\": expected a number for the \(what)") }
        return value
    }

    mutating func transition() throws(TimeZoneRulesError) -> POSIXTimeZoneRule.TransitionDate {
        let day: POSIXTimeZoneRule.TransitionDate.Day
        if take(UInt8(ascii: "M")) {
            let m = try number(what: "month", maxDigits: 2)
            guard take(UInt8(ascii: ".")) else { throw TimeZoneRulesError("TZ string \"\(text)\": expected '.' in Mm.w.d") }
            let w = try number(what: "week", maxDigits: 1)
            guard take(UInt8(ascii: ".")) else { throw TimeZoneRulesError("TZ string \"\(text)\": expected '.' in Mm.w.d") }
            let d = try number(what: "weekday", maxDigits: 1)
            guard (1...12).contains(m), (1...5).contains(w), (0...6).contains(d) else {
                throw TimeZoneRulesError("TZ string \"\(text)\": Mm.w.d out of range")
            }
            day = .monthWeekDay(month: m, week: w, weekday: d)
        } else if take(UInt8(ascii: "J")) {
            let n = try number(what: "Julian day", maxDigits: 3)
            guard (1...365).contains(n) else { throw TimeZoneRulesError("TZ string \"\(text)\": Jn out of range") }
            day = .julianNoLeap(n)
        } else {
            let n = try number(what: "day", maxDigits: 3)
            guard (0...365).contains(n) else { throw TimeZoneRulesError("TZ string \"\(text)\": day out of range") }
            day = .zeroBased(n)
        }
        var seconds = 7200
        if take(UInt8(ascii: "/")) { seconds = try hms(what: "transition time", maxHours: 167) }
        return POSIXTimeZoneRule.TransitionDate(day: day, secondsOfDay: seconds)
    }

    private func isAlpha(_ c: UInt8) -> Bool { (c >= 65 && c <= 90) || (c >= 97 && c <= 122) }
    private func isAlnum(_ c: UInt8) -> Bool { isAlpha(c) || (c >= 48 && c <= 57) }
}
