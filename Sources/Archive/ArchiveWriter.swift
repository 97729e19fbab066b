import ConcentratorCore
import Logging
import Platform
import SQLite

/// The writer connection and its caches. Lives on the archive's writer thread only.
final class ArchiveWriter {
    let connection: SQLiteConnection
    /// Rows removed per retention transaction (see `ArchiveOptions.pruneRowsPerStep`).
    let pruneRowsPerStep: Int
    private let logger: Logger
    private var meterNumbers: [MeterID: Int] = [:]
    private var nextMeterNumber = 1
    private var layoutIDs: [[QuantityID]: Int64] = [:]
    /// Frames in the write-ahead log after the last commit (from SQLite's WAL hook).
    private(set) var walFrames: Int32 = 0
    /// Disk space held back for essential writes.
    let reserve: StorageReserve

    init(connection: SQLiteConnection, pruneRowsPerStep: Int, reserveBytes: Int64? = nil, logger: Logger) throws {
        self.connection = connection
        self.pruneRowsPerStep = pruneRowsPerStep
        self.logger = logger
        reserve = try StorageReserve(databasePath: connection.path, bytes: reserveBytes, connection: connection, logger: logger)
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
    /// or sent. A snapshot the archive cannot store is rejected alone, with one log line; the others
    /// are stored. With `outbox`, an outbox entry reporting the snapshots is enqueued in the same
    /// transaction when anything new was stored (so no stored snapshot is ever left unreported, and no
    /// entry reports nothing). Returns only after the transaction is durable.
    func commit(_ snapshots: [MeterSnapshot], series: SeriesKind, source: String, outbox: OutboxItem? = nil) throws -> ArchiveCommitResult {
        var accepted: [(MeterSnapshot, Int64)] = []
        var rejected: [RejectedSnapshot] = []
        for s in snapshots {
            if let problem = Self.problem(with: s) {
                rejected.append(RejectedSnapshot(meter: s.meter, intervalStart: s.intervalStart, reason: problem))
            } else {
                accepted.append((s, ReadingKey.exactMinute(s.intervalStart)!))
            }
        }
        var newMeters: [MeterID: Int] = [:]
        var newLayouts: [[QuantityID]: Int64] = [:]
        var stored = 0
        var duplicates: [MeterID] = []
        var outboxSequence: Int64?
        if !accepted.isEmpty {
            try connection.transaction {
                for (s, minute) in accepted {
                    guard let number = try meterNumber(s.meter, adding: &newMeters) else {
                        rejected.append(RejectedSnapshot(meter: s.meter, intervalStart: s.intervalStart, reason:
                            "the archive already numbers \(ReadingKey.maximumMeterNumber) meters; check: meter identifiers "
                            + "in the config (they should be stable)"))
                        continue
                    }
                    let layout = try layoutID(s.values.map(\.quantity), adding: &newLayouts)
                    let payload = SnapshotRowPayload(
                        gatewayOffsetMilliseconds: s.gatewayTime.milliseconds - s.intervalStart.milliseconds,
                        meterTimeOffsetMilliseconds: s.meterTime.map { $0.milliseconds &- s.gatewayTime.milliseconds },
                        clockUnsynced: s.clockUnsynced, slots: s.values.map(StoredValue.init))
                    let key = ReadingKey(minute: minute, series: series, meterNumber: number)
                    try connection.run("INSERT OR IGNORE INTO readings(key, layout, data) VALUES (?, ?, ?)",
                                       [.integer(key.rawValue), .integer(layout), .blob(SnapshotCodec.encode(payload))])
                    if connection.changes == 1 { stored += 1 } else { duplicates.append(s.meter) }
                }
                if stored > 0, let outbox { outboxSequence = try insertOutbox(outbox) }
            }
            // Only now are the new numbers durable; a rolled-back transaction leaves the caches untouched.
            meterNumbers.merge(newMeters) { old, _ in old }
            layoutIDs.merge(newLayouts) { old, _ in old }
            nextMeterNumber = max(nextMeterNumber, (newMeters.values.max() ?? 0) + 1)
        }
        for r in rejected {
            logger.error("archive: snapshot of meter \(r.meter) for \(r.intervalStart) from \(source) not stored: \(r.reason)")
        }
        return ArchiveCommitResult(stored: stored, duplicates: duplicates, rejected: rejected, outboxSequence: outboxSequence)
    }

    /// Why `s` cannot be stored, or nil.
    private static func problem(with s: MeterSnapshot) -> String? {
        guard ReadingKey.exactMinute(s.intervalStart) != nil else {
            return "its interval start is not a whole minute after 1970; check: the interval schedule"
        }
        let (offset, overflow) = s.gatewayTime.milliseconds.subtractingReportingOverflow(s.intervalStart.milliseconds)
        guard !overflow, abs(offset) <= 1 << 60 else {
            return "its gateway time \(s.gatewayTime) is too far from its interval; check: the gateway clock"
        }
        return nil
    }

    /// The meter's number, assigning the next one to a new meter; nil when all numbers are taken.
    private func meterNumber(_ meter: MeterID, adding new: inout [MeterID: Int]) throws -> Int? {
        if let n = meterNumbers[meter] ?? new[meter] { return n }
        let n = nextMeterNumber + new.count
        guard n <= ReadingKey.maximumMeterNumber else { return nil }
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
    /// Snapshots that could not be stored (each logged once); the rest of the commit was stored.
    public var rejected: [RejectedSnapshot]
    /// The sequence of the outbox entry enqueued with the snapshots, if one was.
    public var outboxSequence: Int64?
}

/// A snapshot the archive refused, and why (the reason ends with what to check).
public struct RejectedSnapshot: Hashable, Sendable {
    public var meter: MeterID
    public var intervalStart: Timestamp
    public var reason: String
}

extension ArchiveWrite where Result == ArchiveCommitResult {
    /// Stores one bus's snapshots of one interval in one transaction. `source` (a bus name) appears in
    /// the error line if it fails.
    public static func commit(_ snapshots: [MeterSnapshot], series: SeriesKind = .interval,
                              source: String, outbox: OutboxItem? = nil) -> ArchiveWrite {
        let interval = snapshots.first.map { " interval \($0.intervalStart)" } ?? ""
        return ArchiveWrite("commit \(snapshots.count) \(series.rawValue) snapshots of \(source)\(interval)") {
            try $0.commit(snapshots, series: series, source: source, outbox: outbox)
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
