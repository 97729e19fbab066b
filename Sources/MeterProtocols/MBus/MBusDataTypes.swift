import ConcentratorCore

/// A calendar point from an M-Bus record (types F, G, I, J of EN 13757-3 annex A). Fields the type
/// does not carry are nil. No time zone: meters send local time.
public struct MBusDateTime: Hashable, Sendable, CustomStringConvertible {
    public var year: Int?
    public var month: Int?
    public var day: Int?
    public var hour: Int?
    public var minute: Int?
    public var second: Int?
    /// The invalid bit (IV) of type F / I, or an all-ones "no date" pattern.
    public var isInvalid: Bool
    /// The summer-time bit (SU).
    public var isSummerTime: Bool

    public init(year: Int? = nil, month: Int? = nil, day: Int? = nil, hour: Int? = nil, minute: Int? = nil, second: Int? = nil,
                isInvalid: Bool = false, isSummerTime: Bool = false) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
        self.isInvalid = isInvalid
        self.isSummerTime = isSummerTime
    }

    /// `2008-05-31 23:50`, `2019-10-31`, `12:30:05`.
    public var description: String {
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        var parts: [String] = []
        if let year, let month, let day { parts.append("\(year)-\(two(month))-\(two(day))") }
        if let hour, let minute { parts.append("\(two(hour)):\(two(minute))" + (second.map { ":" + two($0) } ?? "")) }
        return parts.joined(separator: " ") + (isInvalid ? " (invalid)" : "")
    }
}

/// The number and date codings of EN 13757-3 annex A. Pure.
public enum MBusDataCoding {
    /// Type A: BCD, least significant byte first. A top nibble F (or A–E per some meters' "-"
    /// convention: only F is standard) makes the value negative; other digits above 9 make the
    /// value unreadable (nil).
    public static func bcd<C: Collection>(_ bytes: C) -> Int64? where C.Element == UInt8 {
        let ordered = Array(bytes.reversed())
        guard !ordered.isEmpty else { return nil }
        var value: Int64 = 0
        var negative = false
        for (i, byte) in ordered.enumerated() {
            var high = byte >> 4
            let low = byte & 0x0F
            if i == 0, high == 0xF {
                negative = true
                high = 0
            }
            guard high <= 9, low <= 9 else { return nil }
            value = value * 100 + Int64(high) * 10 + Int64(low)
        }
        return negative ? -value : value
    }

    /// BCD digits for a non-negative value (the simulator's encoder): `count` bytes, LSB first.
    public static func bcdBytes(_ value: UInt64, count: Int) -> [UInt8] {
        var v = value
        var out: [UInt8] = []
        for _ in 0..<count {
            let low = UInt8(v % 10); v /= 10
            let high = UInt8(v % 10); v /= 10
            out.append(high << 4 | low)
        }
        return out
    }

    /// Type B: signed binary integer, least significant byte first (1–8 bytes).
    public static func signedInteger<C: Collection>(_ bytes: C) -> Int64 where C.Element == UInt8 {
        let count = bytes.count
        guard count > 0 else { return 0 }
        var raw: UInt64 = 0
        for (i, b) in bytes.enumerated() where i < 8 { raw |= UInt64(b) << UInt64(8 * i) }
        if count < 8, raw & (UInt64(1) << UInt64(8 * count - 1)) != 0 { raw |= ~((UInt64(1) << UInt64(8 * count)) - 1) }
        return Int64(bitPattern: raw)
    }

    /// Unsigned little-endian integer (flags, dates).
    public static func unsignedInteger<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
        var raw: UInt64 = 0
        for (i, b) in bytes.enumerated() where i < 8 { raw |= UInt64(b) << UInt64(8 * i) }
        return raw
    }

    /// Type H: IEEE 754 binary32, least significant byte first.
    public static func real32(_ bytes: [UInt8]) -> Float {
        Float(bitPattern: UInt32(unsignedInteger(bytes)))
    }

    /// Type G: a date in 16 bits (day, month, year 0–127 from 2000). FFFF is "no date".
    public static func dateG(_ b: [UInt8]) -> MBusDateTime {
        let day = Int(b[0] & 0x1F), month = Int(b[1] & 0x0F)
        let year = Int((b[0] & 0xE0) >> 5) | Int((b[1] & 0xF0) >> 1)
        let invalid = b[0] == 0xFF && b[1] == 0xFF || day == 0 || month == 0 || month > 12
        return MBusDateTime(year: 2000 + year, month: month, day: day, isInvalid: invalid)
    }

    /// Type F: date and time to the minute in 32 bits.
    public static func dateTimeF(_ b: [UInt8]) -> MBusDateTime {
        let minute = Int(b[0] & 0x3F), hour = Int(b[1] & 0x1F), day = Int(b[2] & 0x1F), month = Int(b[3] & 0x0F)
        let year = Int((b[2] & 0xE0) >> 5) | Int((b[3] & 0xF0) >> 1)
        let invalid = b[0] & 0x80 != 0 || day == 0 || month == 0 || month > 12 || minute > 59 || hour > 23
        return MBusDateTime(year: fullYear(year, hundredYear: Int((b[1] & 0x60) >> 5)), month: month, day: day, hour: hour, minute: minute,
                            isInvalid: invalid, isSummerTime: b[1] & 0x80 != 0)
    }

    /// Type F's year: with the hundred-year bits set, 1900 + 100 × HY + year (EN 13757-3:2013, so
    /// OMS Annex N's 2008 has HY = 1); without them, years 0–80 are 2000–2080, 81–99 are 1981–1999.
    static func fullYear(_ year: Int, hundredYear: Int) -> Int {
        if hundredYear > 0 { return 1900 + 100 * hundredYear + year }
        return year <= 80 ? 2000 + year : 1900 + year
    }

    /// Type I: date and time to the second in 48 bits (the layout of type F shifted by a seconds
    /// byte; the week and day-of-week bits are not used).
    public static func dateTimeI(_ b: [UInt8]) -> MBusDateTime {
        let second = Int(b[0] & 0x3F), minute = Int(b[1] & 0x3F), hour = Int(b[2] & 0x1F)
        let day = Int(b[3] & 0x1F), month = Int(b[4] & 0x0F)
        let year = Int((b[3] & 0xE0) >> 5) | Int((b[4] & 0xF0) >> 1)
        let invalid = b[1] & 0x80 != 0 || day == 0 || month == 0 || month > 12 || minute > 59 || hour > 23 || second > 59
        return MBusDateTime(year: 2000 + year, month: month, day: day, hour: hour, minute: minute, second: second,
                            isInvalid: invalid, isSummerTime: b[2] & 0x40 != 0)
    }

    /// Type J: time of day in 24 bits (second, minute, hour).
    public static func timeJ(_ b: [UInt8]) -> MBusDateTime {
        let second = Int(b[0] & 0x3F), minute = Int(b[1] & 0x3F), hour = Int(b[2] & 0x1F)
        return MBusDateTime(hour: hour, minute: minute, second: second, isInvalid: second > 59 || minute > 59 || hour > 23)
    }

    /// Type G for the simulator.
    public static func encodeDateG(year: Int, month: Int, day: Int) -> [UInt8] {
        let y = UInt8(clamping: max(0, year - 2000) & 0x7F)
        return [UInt8(day & 0x1F) | (y & 0x07) << 5, UInt8(month & 0x0F) | (y & 0x78) << 1]
    }

    /// Type F for the simulator.
    public static func encodeDateTimeF(year: Int, month: Int, day: Int, hour: Int, minute: Int) -> [UInt8] {
        let y = UInt8(clamping: max(0, year - 2000) % 100 & 0x7F)
        // Hundred-year bits 01: 1900 + 100 + year.
        return [UInt8(minute & 0x3F), UInt8(hour & 0x1F) | 0x20, UInt8(day & 0x1F) | (y & 0x07) << 5, UInt8(month & 0x0F) | (y & 0x78) << 1]
    }
}
