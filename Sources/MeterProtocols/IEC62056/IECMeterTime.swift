import ConcentratorCore

/// Which clock a VDEW time stamp is on: its leading season digit.
public enum IECSeason: UInt8, Hashable, Sendable {
    case standard = 0, summer = 1, utc = 2
}

/// A meter's clock reading: calendar fields as printed (years 2000–2099) and the season digit when
/// the format carries one.
public struct IECMeterTime: Hashable, Sendable, CustomStringConvertible {
    public var civil: CivilDateTime
    public var season: IECSeason?

    public init(_ civil: CivilDateTime, season: IECSeason? = nil) {
        self.civil = civil
        self.season = season
    }

    public var description: String { civil.description + (season.map { " (season \($0.rawValue))" } ?? "") }
}

/// The zone a meter keeps its clock in: the standard offset and whether it follows summer time.
/// Converts meter clock readings to instants and back (time is injected: nothing reads a clock).
public struct IECMeterClockZone: Hashable, Sendable {
    /// Whether, and by which rule, the meter's clock moves an hour ahead in summer.
    public enum SummerTime: String, Hashable, Sendable {
        case none
        /// EU rule (Directive 2000/84/EC): +1 h from the last Sunday of March 01:00 UTC to the last
        /// Sunday of October 01:00 UTC.
        case europeanUnion
    }

    public var standardOffsetMinutes: Int
    public var summerTime: SummerTime

    public init(standardOffsetMinutes: Int = 0, summerTime: SummerTime = .none) {
        self.standardOffsetMinutes = standardOffsetMinutes
        self.summerTime = summerTime
    }

    public static let utc = IECMeterClockZone()

    /// Whether summer time is in force at `time`.
    public func isSummer(at time: Timestamp) -> Bool {
        guard summerTime == .europeanUnion else { return false }
        let year = CivilDateTime(time).year
        return time >= Self.lastSundayOneUTC(year: year, month: 3) && time < Self.lastSundayOneUTC(year: year, month: 10)
    }

    private static func lastSundayOneUTC(year: Int, month: Int) -> Timestamp {
        let last = CivilDateTime(year: year, month: month, day: 31, hour: 1)!
        let back = last.weekday % 7 // Sunday (7) → 0
        return last.timestamp().adding(seconds: -Int64(back) * 86_400)
    }

    /// The meter's clock reading at `time`, with the season it is in.
    public func meterTime(at time: Timestamp) -> IECMeterTime {
        let summer = isSummer(at: time)
        return IECMeterTime(CivilDateTime(time, offsetMinutes: standardOffsetMinutes + (summer ? 60 : 0)),
                            season: summer ? .summer : .standard)
    }

    /// The instant a meter reading denotes. With a season digit the offset follows it; without one,
    /// summer time is assumed when it is in force at that reading (in the repeated autumn hour that
    /// picks the first pass).
    public func timestamp(of reading: IECMeterTime) -> Timestamp {
        switch reading.season {
        case .utc?: return reading.civil.timestamp()
        case .standard?: return reading.civil.timestamp(offsetMinutes: standardOffsetMinutes)
        case .summer?: return reading.civil.timestamp(offsetMinutes: standardOffsetMinutes + 60)
        case nil:
            let asSummer = reading.civil.timestamp(offsetMinutes: standardOffsetMinutes + 60)
            return isSummer(at: asSummer) ? asSummer : reading.civil.timestamp(offsetMinutes: standardOffsetMinutes)
        }
    }
}

/// Reads and writes the clock texts meters use (`hhmmss`, `YYMMDD`, VDEW season forms, P.01 stamps).
public enum IECTimeText {
    static func digits(_ bytes: ArraySlice<UInt8>) -> Int? {
        guard !bytes.isEmpty, bytes.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return bytes.reduce(0) { $0 * 10 + Int($1 - 0x30) }
    }

    static func two(_ v: Int) -> String { v < 10 ? "0\(v)" : String(v % 100) }

    /// Splits `text` into digit groups, dropping `-`, `:`, `,`, `.` and spaces; nil for other characters.
    static func plainDigits(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        for b in text.utf8 {
            if (0x30...0x39).contains(b) { out.append(b) } else if !"-:,. ".utf8.contains(b) { return nil }
        }
        return out
    }

    /// Parses a time of day in `format`; returns hour, minute, second and the season when present.
    public static func parseTime(_ text: String, _ format: IECTimeFormat) -> (hour: Int, minute: Int, second: Int, season: IECSeason?)? {
        let b = Array(text.utf8)
        var season: IECSeason?
        var d: [UInt8]
        switch format {
        case .hhmmss:
            guard b.count == 6 else { return nil }
            d = b
        case .colons:
            guard b.count == 8, b[2] == UInt8(ascii: ":"), b[5] == UInt8(ascii: ":") else { return nil }
            d = Array(b[0..<2] + b[3..<5] + b[6..<8])
        case .seasonHHMMSS:
            guard b.count == 7, let s = digits(b[0..<1]).flatMap({ IECSeason(rawValue: UInt8($0)) }) else { return nil }
            season = s
            d = Array(b[1...])
        }
        guard let h = digits(d[0..<2]), let m = digits(d[2..<4]), let s = digits(d[4..<6]), h < 24, m < 60, s < 60 else { return nil }
        return (h, m, s, season)
    }

    /// Parses a date in `format` (two-digit years are 2000–2099).
    public static func parseDate(_ text: String, _ format: IECDateFormat) -> (year: Int, month: Int, day: Int, season: IECSeason?)? {
        let b = Array(text.utf8)
        var season: IECSeason?
        var d: [UInt8]
        switch format {
        case .yymmdd:
            guard b.count == 6 else { return nil }
            d = b
        case .dashes:
            guard b.count == 8, b[2] == UInt8(ascii: "-"), b[5] == UInt8(ascii: "-") else { return nil }
            d = Array(b[0..<2] + b[3..<5] + b[6..<8])
        case .seasonYYMMDD:
            guard b.count == 7, let s = digits(b[0..<1]).flatMap({ IECSeason(rawValue: UInt8($0)) }) else { return nil }
            season = s
            d = Array(b[1...])
        }
        guard let y = digits(d[0..<2]), let m = digits(d[2..<4]), let day = digits(d[4..<6]),
              CivilDateTime(year: 2000 + y, month: m, day: day) != nil else { return nil }
        return (2000 + y, m, day, season)
    }

    /// A meter reading from its time and date texts (the season digit of either wins).
    public static func meterTime(time: String, _ timeFormat: IECTimeFormat, date: String, _ dateFormat: IECDateFormat) -> IECMeterTime? {
        guard let t = parseTime(time, timeFormat), let d = parseDate(date, dateFormat),
              let civil = CivilDateTime(year: d.year, month: d.month, day: d.day, hour: t.hour, minute: t.minute, second: t.second)
        else { return nil }
        return IECMeterTime(civil, season: t.season ?? d.season)
    }

    public static func formatTime(_ t: IECMeterTime, _ format: IECTimeFormat) -> String {
        let c = t.civil
        switch format {
        case .hhmmss: return two(c.hour) + two(c.minute) + two(c.second)
        case .colons: return two(c.hour) + ":" + two(c.minute) + ":" + two(c.second)
        case .seasonHHMMSS: return String((t.season ?? .standard).rawValue) + two(c.hour) + two(c.minute) + two(c.second)
        }
    }

    public static func formatDate(_ t: IECMeterTime, _ format: IECDateFormat) -> String {
        let c = t.civil
        switch format {
        case .yymmdd: return two(c.year % 100) + two(c.month) + two(c.day)
        case .dashes: return two(c.year % 100) + "-" + two(c.month) + "-" + two(c.day)
        case .seasonYYMMDD: return String((t.season ?? .standard).rawValue) + two(c.year % 100) + two(c.month) + two(c.day)
        }
    }

    /// A P.01 range bound in `format` (minutes resolution).
    public static func formatRangeBound(_ t: IECMeterTime, _ format: IECRangeFormat) -> String {
        let c = t.civil
        let plain = two(c.year % 100) + two(c.month) + two(c.day) + two(c.hour) + two(c.minute)
        switch format {
        case .seasonYYMMDDhhmm: return String((t.season ?? .standard).rawValue) + plain
        case .yymmddhhmm: return plain
        case .dashesComma: return two(c.year % 100) + "-" + two(c.month) + "-" + two(c.day) + "," + two(c.hour) + ":" + two(c.minute)
        }
    }

    /// A P.01 header stamp: `[Z]YYMMDDhhmm[ss]` (10–13 digits) or a separated form such as
    /// `YY-MM-DD,hh:mm` / `YY-MM-DD hh:mm:ss`.
    public static func parseStamp(_ text: String) -> IECMeterTime? {
        guard let d = plainDigits(text) else { return nil }
        let separated = d.count != text.utf8.count
        var season: IECSeason?
        var rest = d[...]
        if !separated && (d.count == 11 || d.count == 13) {
            guard let s = IECSeason(rawValue: d[0] - 0x30) else { return nil }
            season = s
            rest = d.dropFirst()
        }
        guard rest.count == 10 || rest.count == 12 else { return nil }
        let i = rest.startIndex
        guard let y = digits(rest[i..<(i + 2)]), let mo = digits(rest[(i + 2)..<(i + 4)]), let day = digits(rest[(i + 4)..<(i + 6)]),
              let h = digits(rest[(i + 6)..<(i + 8)]), let mi = digits(rest[(i + 8)..<(i + 10)]) else { return nil }
        let s = rest.count == 12 ? digits(rest[(i + 10)..<(i + 12)]) : 0
        guard let s, let civil = CivilDateTime(year: 2000 + y, month: mo, day: day, hour: h, minute: mi, second: s) else { return nil }
        return IECMeterTime(civil, season: season)
    }
}
