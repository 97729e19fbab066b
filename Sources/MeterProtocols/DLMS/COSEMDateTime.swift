import ConcentratorCore

/// A COSEM date-time (Blue Book §4.1.6.1): the 12-byte octet string
///
///     year(2) month day day-of-week hour minute second hundredths deviation(2) clock-status
///
/// `0xFF` (and `0xFFFF` for the year) means "not specified"; deviation `0x8000` means "not
/// specified". The deviation is the local time's offset in minutes as the Green Book (and Gurux)
/// define it: UTC = local time + deviation (so central European winter time has deviation −60).
public struct COSEMDateTime: Hashable, Sendable, CustomStringConvertible {
    public var bytes: [UInt8]

    /// Clock status bits: 0x80 daylight saving active, 0x01 invalid value, 0x02 doubtful value,
    /// 0x04 different clock base, 0x08 invalid clock status.
    public static let statusInvalid: UInt8 = 0x01

    public init?(bytes: [UInt8]) {
        guard bytes.count == 12 else { return nil }
        self.bytes = bytes
    }

    /// `time` as a local date-time `deviationMinutes` from UTC (nil: deviation not specified and
    /// the fields are UTC), with `status`.
    public init(_ time: Timestamp, deviationMinutes: Int16? = 0, status: UInt8 = 0) {
        let local = time.adding(seconds: -Int64(deviationMinutes ?? 0) * 60)
        let secondsOfDay = ((local.seconds % 86_400) + 86_400) % 86_400
        let days = (local.seconds - secondsOfDay) / 86_400
        let (y, m, d) = ISO8601.civilFromDays(days)
        let weekday = ((days % 7) + 7 + 3) % 7 + 1 // 1970-01-01 was a Thursday (4); Monday = 1
        let hundredths = ((local.milliseconds % 1000) + 1000) % 1000 / 10
        let deviation = deviationMinutes.map { UInt16(bitPattern: $0) } ?? 0x8000
        bytes = [UInt8(truncatingIfNeeded: y >> 8), UInt8(truncatingIfNeeded: y), UInt8(m), UInt8(d), UInt8(weekday),
                 UInt8(secondsOfDay / 3600), UInt8(secondsOfDay % 3600 / 60), UInt8(secondsOfDay % 60), UInt8(hundredths),
                 UInt8(deviation >> 8), UInt8(deviation & 0xFF), status]
    }

    public var year: Int? { let y = Int(bytes[0]) << 8 | Int(bytes[1]); return y == 0xFFFF ? nil : y }
    public var deviationMinutes: Int16? {
        let d = UInt16(bytes[9]) << 8 | UInt16(bytes[10])
        return d == 0x8000 ? nil : Int16(bitPattern: d)
    }
    public var status: UInt8? { bytes[11] == 0xFF ? nil : bytes[11] }

    /// The instant this date-time names, when every field is specified and valid. A deviation
    /// that is not specified counts as 0 (a meter keeping UTC). Nil for wildcards, DST markers
    /// (0xFD/0xFE in month or day), out-of-range fields, or an invalid clock status.
    public var timestamp: Timestamp? {
        guard let year else { return nil }
        let month = Int64(bytes[2]), day = Int64(bytes[3]), hour = Int64(bytes[5]), minute = Int64(bytes[6]),
            second = Int64(bytes[7])
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60 else { return nil }
        if let status, status & Self.statusInvalid != 0 { return nil }
        let days = ISO8601.daysFromCivil(Int64(year), month, day)
        let (_, m2, d2) = ISO8601.civilFromDays(days)
        guard m2 == month, d2 == day else { return nil }
        let hundredths = bytes[8] == 0xFF ? 0 : Int64(min(bytes[8], 99))
        let local = ((days * 24 + hour) * 60 + minute) * 60 + second
        let utc = local + Int64(deviationMinutes ?? 0) * 60
        return Timestamp(milliseconds: utc * 1000 + hundredths * 10)
    }

    public var description: String {
        guard let t = timestamp else { return "date-time " + Hex.encode(bytes) }
        return t.description
    }
}
