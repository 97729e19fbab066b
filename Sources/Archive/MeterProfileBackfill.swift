import ConcentratorCore
import SQLite

extension ArchiveWrite where Result == ClosedRange<Int64> {
    /// Raises the counter `name` by `count` (from 0 when it was never set) and returns the values
    /// above the old mark, after the new mark is durable: a DLMS invocation counter handed out is
    /// never handed out again, even after a power cut or a kill (DESIGN rule 5). Values of a range
    /// that are never used are skipped by the next reservation, not reused.
    public static func reserveCounterRange(_ name: String, count: Int64) -> ArchiveWrite {
        ArchiveWrite("reserve \(count) values of counter \(name)") { writer in
            let c = writer.connection
            return try c.transaction {
                let upper = try c.queryInt64("""
                    INSERT INTO counters(name, value) VALUES (?, ?)
                    ON CONFLICT(name) DO UPDATE SET value = value + excluded.value RETURNING value
                    """, [.text(name), .integer(max(1, count))]) ?? 0
                return (upper - max(1, count) + 1)...upper
            }
        }
    }
}

extension ArchiveReader {
    /// The interval starts of `series` (intervals of `lengthMilliseconds`, aligned to the epoch) in
    /// `from..<to` with no stored snapshot of `meter`, oldest first. The search starts at the
    /// meter's first stored snapshot of the series in the range: a meter never stored has none.
    /// One key lookup per interval (a 45-day hourly range is about a thousand).
    public func missingIntervals(meter: MeterID, series: SeriesKind, lengthMilliseconds: Int64, from: Timestamp,
                                 to: Timestamp) throws(ArchiveError) -> [Timestamp] {
        guard lengthMilliseconds >= 60_000, lengthMilliseconds % 60_000 == 0 else { return [] }
        return try locked("look for missing intervals of \(meter)") { () throws -> [Timestamp] in
            guard let number = try connection.queryInt64("SELECT number FROM meters WHERE name = ?", [.text(meter.rawValue)]) else {
                return []
            }
            var missing: [Timestamp] = []
            var seenStored = false
            var t = (max(0, from.milliseconds) + lengthMilliseconds - 1) / lengthMilliseconds * lengthMilliseconds
            try connection.withStatement("SELECT 1 FROM readings WHERE key = ?") { s in
                while t < to.milliseconds {
                    let key = ReadingKey(minute: t / 60_000, series: series, meterNumber: Int(number))
                    try s.bind([.integer(key.rawValue)])
                    let stored = try s.step()
                    s.reset()
                    if stored { seenStored = true } else if seenStored { missing.append(Timestamp(milliseconds: t)) }
                    t += lengthMilliseconds
                }
            }
            return missing
        }
    }
}
