import ConcentratorCore

/// The primary key of a stored snapshot: `minute << 16 | series << 15 | meter number`.
///
/// The interval start (whole minutes since the epoch) leads, so rows of one interval are adjacent,
/// inserts append at the end of the table, and pruning removes a prefix.
struct ReadingKey: Hashable, Comparable {
    static let maximumMeterNumber = 0x7FFF

    let minute: Int64
    let series: SeriesKind
    let meterNumber: Int

    init(minute: Int64, series: SeriesKind, meterNumber: Int) {
        self.minute = minute
        self.series = series
        self.meterNumber = meterNumber
    }

    init(rawValue: Int64) {
        minute = rawValue >> 16
        series = rawValue & 0x8000 != 0 ? .profile : .interval
        meterNumber = Int(rawValue & 0x7FFF)
    }

    var rawValue: Int64 { minute << 16 | Int64(series.keyBit) << 15 | Int64(meterNumber) }

    var intervalStart: Timestamp { Timestamp(seconds: minute * 60) }

    /// The first key of `minute` (any series, any meter).
    static func first(ofMinute minute: Int64) -> Int64 { minute << 16 }

    static func < (a: ReadingKey, b: ReadingKey) -> Bool { a.rawValue < b.rawValue }

    /// The minute holding `t`, rounded up when `t` is not on a minute (for range ends and starts).
    static func minuteCeiling(_ t: Timestamp) -> Int64 {
        let ms = t.milliseconds
        return ms >= 0 ? (ms + 59_999) / 60_000 : ms / 60_000
    }

    /// The minute of `t` if it is a whole minute within the key's range.
    static func exactMinute(_ t: Timestamp) -> Int64? {
        guard t.milliseconds >= 0, t.milliseconds % 60_000 == 0 else { return nil }
        let minute = t.milliseconds / 60_000
        return minute < (1 << 46) ? minute : nil
    }
}

extension SeriesKind {
    var keyBit: Int { self == .interval ? 0 : 1 }
}
