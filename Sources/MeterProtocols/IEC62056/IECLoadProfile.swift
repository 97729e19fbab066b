import ConcentratorCore

/// A P.01 load profile answer, decoded. The format (EMH/VDEW, LEM EM4TII+ manual §4.2.6):
///
///     P.01(ZYYMMDDhhmmss)(status)(period)(n)(code1)(unit1)…(codeN)(unitN) CR LF
///     (v1)…(vN) CR LF            one line per period, the first at the header's time
///     …                          a new header line wherever the status changes
///
/// e.g. `P.01(1190417001500)(00000000)(15)(6)(1.5)(kW)(2.5)(kW)(5.5)(kvar)(6.5)(kvar)(7.5)(kvar)(8.5)(kvar)`.
public struct IECLoadProfile: Hashable, Sendable {
    /// A channel as the header lists it.
    public struct Channel: Hashable, Sendable {
        public var code: String
        public var unit: String

        public init(code: String, unit: String) {
            self.code = code
            self.unit = unit
        }
    }

    /// One period: its meter time, the status word of its header, and one value per channel (nil
    /// where the meter printed no number).
    public struct Entry: Hashable, Sendable {
        public var time: IECMeterTime
        public var status: String
        public var values: [Double?]

        public init(time: IECMeterTime, status: String, values: [Double?]) {
            self.time = time
            self.status = status
            self.values = values
        }
    }

    public var channels: [Channel]
    public var periodMinutes: Int
    public var entries: [Entry]

    public init(channels: [Channel], periodMinutes: Int, entries: [Entry]) {
        self.channels = channels
        self.periodMinutes = periodMinutes
        self.entries = entries
    }

    /// The longest profile accepted (a year of 15-minute periods).
    public static let entryLimit = 40_000
    static let channelLimit = 64

    /// Decodes the lines of the answer's data block. An answer without any header is an empty
    /// profile only when it has no lines at all.
    public static func decode(_ block: IECDataBlock, code: OBISCode = OBISCode(c: 99, d: 1)) throws(ByteFormatError) -> IECLoadProfile {
        var channels: [Channel]?
        var period = 0
        var entries: [Entry] = []
        var next: (time: IECMeterTime, status: String)?
        for (index, line) in block.lines.enumerated() {
            guard let first = line.sets.first else { continue }
            if let address = first.address {
                guard line.sets.count == 1, let obis = try? OBISCode.parse(address), code.matches(obis) else {
                    throw ByteFormatError("line \(index + 1) is neither a \(code) header nor a value line", at: block.offset(ofLine: index))
                }
                let header = try Self.header(first.values, line: index, at: block.offset(ofLine: index))
                if let known = channels, known != header.channels {
                    throw ByteFormatError("line \(index + 1): the channels changed inside one answer", at: block.offset(ofLine: index))
                }
                channels = header.channels
                period = header.period
                next = (header.time, header.status)
                continue
            }
            guard let channels, let current = next else {
                throw ByteFormatError("line \(index + 1): values before any \(code) header", at: block.offset(ofLine: index))
            }
            let values = line.sets.flatMap(\.values)
            guard line.sets.count == 1, values.count == channels.count else {
                throw ByteFormatError("line \(index + 1) has \(values.count) values for \(channels.count) channels", at: block.offset(ofLine: index))
            }
            guard entries.count < entryLimit else { throw ByteFormatError("more than \(entryLimit) profile entries", at: block.offset(ofLine: index)) }
            entries.append(Entry(time: current.time, status: current.status, values: values.map(\.number)))
            next = (Self.advance(current.time, minutes: period), current.status)
        }
        return IECLoadProfile(channels: channels ?? [], periodMinutes: period, entries: entries)
    }

    private static func header(_ values: [IECValue], line: Int, at offset: Int) throws(ByteFormatError) -> (time: IECMeterTime, status: String, period: Int, channels: [Channel]) {
        guard values.count >= 4, let time = IECTimeText.parseStamp(values[0].text) else {
            throw ByteFormatError("line \(line + 1): a header starts with (time stamp)(status)(period)(count)", at: offset)
        }
        guard let period = Int(values[2].text), (1...1440).contains(period) else {
            throw ByteFormatError("line \(line + 1): capture period \"\(values[2].text)\" is not 1–1440 minutes", at: offset)
        }
        guard let count = Int(values[3].text), (0...channelLimit).contains(count), values.count == 4 + 2 * count else {
            throw ByteFormatError("line \(line + 1): the header's channel count does not match its code/unit pairs", at: offset)
        }
        var channels: [Channel] = []
        for i in 0..<count {
            let code = values[4 + 2 * i].text
            guard (try? OBISCode.parse(code)) != nil else {
                throw ByteFormatError("line \(line + 1): channel \(i + 1) code \"\(code)\" is not an OBIS code", at: offset)
            }
            channels.append(Channel(code: code, unit: values[5 + 2 * i].text))
        }
        return (time, values[1].text, period, channels)
    }

    /// `time` plus `minutes` on the meter's calendar (the season digit kept).
    static func advance(_ time: IECMeterTime, minutes: Int) -> IECMeterTime {
        let moved = time.civil.timestamp().adding(seconds: Int64(minutes) * 60)
        return IECMeterTime(CivilDateTime(moved), season: time.season)
    }

    /// The lines a meter sends for this profile (one header, then value lines), as data set texts;
    /// `decimals` digits after the point.
    public func encodedLines(code: String = "P.01", status: String = "00000000", decimals: Int = 3) -> [String] {
        guard let first = entries.first else { return [] }
        var header = code + "(" + Self.stampText(first.time) + ")(" + status + ")(\(periodMinutes))(\(channels.count))"
        for c in channels { header += "(" + c.code + ")(" + c.unit + ")" }
        return [header] + entries.map { e in e.values.map { "(" + ($0.map { IECNumberText.format($0, decimals: decimals) } ?? "") + ")" }.joined() }
    }

    static func stampText(_ t: IECMeterTime) -> String {
        let c = t.civil
        let two = IECTimeText.two
        return (t.season.map { String($0.rawValue) } ?? "") + two(c.year % 100) + two(c.month) + two(c.day) + two(c.hour) + two(c.minute) + two(c.second)
    }
}

/// Prints numbers the way meters do: fixed decimals, no exponent.
public enum IECNumberText {
    /// `value` with `decimals` digits after the point, zero-padded to `width` characters (sign
    /// included) when given: `format(32907.841, decimals: 3, width: 11)` → `0032907.841`.
    public static func format(_ value: Double, decimals: Int, width: Int = 0) -> String {
        let scale = (0..<decimals).reduce(1.0) { r, _ in r * 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9.0e15 else { return value < 0 ? "-0" : "0" }
        let whole = Int64(scaled)
        var digits = String(whole)
        if decimals > 0 {
            if digits.count <= decimals { digits = String(repeating: "0", count: decimals - digits.count + 1) + digits }
            digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -decimals))
        }
        let sign = value < 0 && whole != 0 ? "-" : ""
        let padding = max(0, width - sign.count - digits.count)
        return sign + String(repeating: "0", count: padding) + digits
    }
}
