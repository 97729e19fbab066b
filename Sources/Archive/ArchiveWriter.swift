import ConcentratorCore
import Platform

/// The writer connection and its caches. Lives on the archive's writer thread only.
final class ArchiveWriter {
    let connection: SQLiteConnection
    /// Rows removed per retention transaction (see `ArchiveOptions.pruneRowsPerStep`).
    let pruneRowsPerStep: Int
    private var meterNumbers: [MeterID: Int] = [:]
    private var nextMeterNumber = 1
    private var layoutIDs: [[QuantityID]: Int64] = [:]
    /// Frames in the write-ahead log after the last commit (from SQLite's WAL hook).
    private(set) var walFrames: Int32 = 0

    init(connection: SQLiteConnection, pruneRowsPerStep: Int) throws {
        self.connection = connection
        self.pruneRowsPerStep = pruneRowsPerStep
        try connection.withStatement("SELECT number, name FROM meters") { s in
            while try s.step() { meterNumbers[MeterID(s.text(1))] = Int(s.int64(0)) }
        }
        nextMeterNumber = (meterNumbers.values.max() ?? 0) + 1
        try connection.withStatement("SELECT id, quantities FROM layouts") { s in
            while try s.step() { layoutIDs[try LayoutText.decode(s.text(1), path: connection.path)] = s.int64(0) }
        }
        connection.onWALCommit { [unowned self] frames in walFrames = frames }
    }

    /// Stores `snapshots` in one transaction. A snapshot whose (meter, interval, series) is already
    /// stored is ignored: the first stored version wins, because it may already have been reported
    /// or sent. Returns only after the transaction is durable.
    func commit(_ snapshots: [MeterSnapshot], series: SeriesKind) throws -> ArchiveCommitResult {
        var minutes: [Int64] = []
        minutes.reserveCapacity(snapshots.count)
        for s in snapshots {
            guard let minute = ReadingKey.exactMinute(s.intervalStart) else {
                throw ArchiveError.invalidInput("snapshot of meter \(s.meter) starts at \(s.intervalStart), "
                    + "which is not a whole minute after 1970; check: the interval schedule")
            }
            let (offset, overflow) = s.gatewayTime.milliseconds.subtractingReportingOverflow(s.intervalStart.milliseconds)
            guard !overflow, abs(offset) <= 1 << 60 else {
                throw ArchiveError.invalidInput("snapshot of meter \(s.meter) for \(s.intervalStart) has gateway time "
                    + "\(s.gatewayTime), too far from its interval; check: the gateway clock")
            }
            minutes.append(minute)
        }
        guard !snapshots.isEmpty else { return ArchiveCommitResult(stored: 0, duplicates: []) }
        var newMeters: [MeterID: Int] = [:]
        var newLayouts: [[QuantityID]: Int64] = [:]
        let result = try connection.transaction { () throws -> ArchiveCommitResult in
            var stored = 0
            var duplicates: [MeterID] = []
            for (s, minute) in zip(snapshots, minutes) {
                let number = try meterNumber(s.meter, adding: &newMeters)
                let quantities = s.values.map(\.quantity)
                let layout = try layoutID(quantities, adding: &newLayouts)
                let payload = SnapshotRowPayload(
                    gatewayOffsetMilliseconds: s.gatewayTime.milliseconds - s.intervalStart.milliseconds,
                    meterTimeOffsetMilliseconds: s.meterTime.map { $0.milliseconds &- s.gatewayTime.milliseconds },
                    clockUnsynced: s.clockUnsynced, slots: s.values.map(StoredValue.init))
                let key = ReadingKey(minute: minute, series: series, meterNumber: number)
                try connection.run("INSERT OR IGNORE INTO readings(key, layout, data) VALUES (?, ?, ?)",
                                   [.integer(key.rawValue), .integer(layout), .blob(SnapshotCodec.encode(payload))])
                if connection.changes == 1 { stored += 1 } else { duplicates.append(s.meter) }
            }
            return ArchiveCommitResult(stored: stored, duplicates: duplicates)
        }
        // Only now are the new numbers durable; a rolled-back transaction leaves the caches untouched.
        meterNumbers.merge(newMeters) { old, _ in old }
        layoutIDs.merge(newLayouts) { old, _ in old }
        nextMeterNumber = max(nextMeterNumber, (newMeters.values.max() ?? 0) + 1)
        return result
    }

    private func meterNumber(_ meter: MeterID, adding new: inout [MeterID: Int]) throws -> Int {
        if let n = meterNumbers[meter] ?? new[meter] { return n }
        let n = nextMeterNumber + new.count
        guard n <= ReadingKey.maximumMeterNumber else {
            throw ArchiveError.meterNumbersExhausted(meter, path: connection.path)
        }
        try connection.run("INSERT INTO meters(number, name) VALUES (?, ?)", [.integer(Int64(n)), .text(meter.rawValue)])
        new[meter] = n
        return n
    }

    private func layoutID(_ quantities: [QuantityID], adding new: inout [[QuantityID]: Int64]) throws -> Int64 {
        if let id = layoutIDs[quantities] ?? new[quantities] { return id }
        try connection.run("INSERT INTO layouts(quantities) VALUES (?)", [.text(LayoutText.encode(quantities))])
        let id = connection.lastInsertRowID
        new[quantities] = id
        return id
    }
}

/// The outcome of a commit.
public struct ArchiveCommitResult: Hashable, Sendable {
    /// Snapshots newly stored.
    public var stored: Int
    /// Meters whose snapshot for this interval and series was already stored (kept; the new one ignored).
    public var duplicates: [MeterID]
}

extension ArchiveWrite where Result == ArchiveCommitResult {
    /// Stores one bus's snapshots of one interval in one transaction. `source` (a bus name) appears in
    /// the error line if it fails.
    public static func commit(_ snapshots: [MeterSnapshot], series: SeriesKind = .interval,
                              source: String) -> ArchiveWrite {
        let interval = snapshots.first.map { " interval \($0.intervalStart)" } ?? ""
        return ArchiveWrite("commit \(snapshots.count) \(series.rawValue) snapshots of \(source)\(interval)") {
            try $0.commit(snapshots, series: series)
        }
    }
}

/// A layout's quantity list as stored in `layouts.quantities`: a JSON array of names.
enum LayoutText {
    static func encode(_ quantities: [QuantityID]) -> String {
        "[" + quantities.map { JSONWriter.quote($0.rawValue) }.joined(separator: ",") + "]"
    }

    static func decode(_ text: String, path: String) throws -> [QuantityID] {
        guard let items = (try? JSONParser.parse(text))?.arrayValue else {
            throw ArchiveError.invalidInput("layout \(text) in \(path) is not a JSON array; check: the archive file")
        }
        return try items.map { item in
            guard let name = item.stringValue else {
                throw ArchiveError.invalidInput("layout \(text) in \(path) holds a non-string; check: the archive file")
            }
            return QuantityID(name)
        }
    }
}
