import ConcentratorCore
import Platform
import SQLite

/// Queries over a read-only connection. In WAL mode it reads beside the writer and sees every
/// committed transaction. Methods block: call them from a dedicated thread, or through
/// `ArchiveStore.read` from async code. Safe to share between threads (calls are serialised).
///
/// Time ranges are half-open: `from` is included, `to` is not. Snapshots come in key order: by
/// interval start, then by meter number (the order meters were first stored).
public final class ArchiveReader: @unchecked Sendable {
    /// The database file.
    public let path: String
    let connection: SQLiteConnection
    let lock = ConditionLock()
    private var meterNames: [Int: MeterID] = [:]
    private var meterNumbers: [MeterID: Int] = [:]
    private var layouts: [Int64: [QuantityID]] = [:]

    /// Rows decoded per lock hold when streaming; other readers get a turn between batches.
    static let batchSize = 512

    /// Opens `path` read-only (for example from the command line while the agent runs).
    public init(path: String) throws(ArchiveError) {
        self.path = path
        do {
            connection = try SQLiteConnection(path: path, mode: .readOnly)
            connection.setBusyTimeout(milliseconds: 5000)
            // Queries stream in key order; a small cache suffices (SQLite's default is 2 MiB).
            try connection.execute("PRAGMA cache_size = -512")
        } catch {
            throw ArchiveError.wrap(error, operation: "open \(path) for reading")
        }
    }

    /// Closes the connection; later queries fail with SQLITE_MISUSE ("the connection is closed").
    public func close() {
        lock.withLock { connection.close() }
    }

    /// Runs `body` with the connection, holding the lock; wraps errors.
    func locked<T>(_ operation: String, _ body: () throws -> T) throws(ArchiveError) -> T {
        lock.lock()
        defer { lock.unlock() }
        do { return try body() } catch { throw ArchiveError.wrap(error, operation: operation) }
    }

    /// Every meter that has ever been stored, in number order.
    @available(*, noasync, message: "blocks on SQLite; from async code use ArchiveStore.read")
    public func meters() throws(ArchiveError) -> [MeterID] {
        try locked("list meters") {
            try refreshMeters()
            return meterNames.keys.sorted().map { meterNames[$0]! }
        }
    }

    /// The snapshots of one meter with interval starts in `from..<to`.
    @available(*, noasync, message: "blocks on SQLite; from async code use ArchiveStore.read")
    public func snapshots(meter: MeterID, from: Timestamp, to: Timestamp,
                          series: SeriesKind = .interval) throws(ArchiveError) -> [MeterSnapshot] {
        var out: [MeterSnapshot] = []
        try forEachSnapshot(from: from, to: to, meter: meter, series: series) { out.append($0) }
        return out
    }

    /// The snapshots of every meter for the interval starting at `intervalStart`.
    @available(*, noasync, message: "blocks on SQLite; from async code use ArchiveStore.read")
    public func snapshots(intervalStart: Timestamp, series: SeriesKind = .interval) throws(ArchiveError) -> [MeterSnapshot] {
        var out: [MeterSnapshot] = []
        try forEachSnapshot(from: intervalStart, to: intervalStart.adding(milliseconds: 1), series: series) {
            out.append($0)
        }
        return out
    }

    /// Calls `body` for each stored snapshot with an interval start in `from..<to` (of one meter, or of
    /// all), without holding the whole range in memory. `body` runs outside the reader's lock and may
    /// use the reader. Stops at the first error `body` throws and rethrows it wrapped.
    @available(*, noasync, message: "blocks on SQLite; from async code use ArchiveStore.read")
    public func forEachSnapshot(from: Timestamp, to: Timestamp, meter: MeterID? = nil, series: SeriesKind = .interval,
                                _ body: (MeterSnapshot) throws -> Void) throws(ArchiveError) {
        let firstMinute = max(0, ReadingKey.minuteCeiling(from))
        let endMinute = min(ReadingKey.minuteCeiling(to), 1 << 46)
        guard firstMinute < endMinute else { return }
        var cursor = Cursor(minute: firstMinute, key: ReadingKey.first(ofMinute: firstMinute))
        while true {
            let batch: (snapshots: [MeterSnapshot], done: Bool)
            if let meter {
                guard let number = try locked("look up meter", { () throws -> Int? in
                    if meterNumbers[meter] == nil { try refreshMeters() }
                    return meterNumbers[meter]
                }) else { return }
                batch = try locked("read snapshots of \(meter)") {
                    try seekBatch(number: number, series: series, endMinute: endMinute, cursor: &cursor)
                }
            } else {
                batch = try locked("read snapshots") {
                    try scanBatch(series: series, endMinute: endMinute, cursor: &cursor)
                }
            }
            do {
                for snapshot in batch.snapshots { try body(snapshot) }
            } catch {
                throw ArchiveError.wrap(error, operation: "read snapshots")
            }
            if batch.done { return }
        }
    }

    /// How many snapshots lie in `from..<to` (all meters); for progress estimates.
    @available(*, noasync, message: "blocks on SQLite; from async code use ArchiveStore.read")
    public func snapshotCount(from: Timestamp, to: Timestamp, series: SeriesKind = .interval) throws(ArchiveError) -> Int {
        let lo = ReadingKey.first(ofMinute: max(0, ReadingKey.minuteCeiling(from)))
        let hi = ReadingKey.first(ofMinute: min(ReadingKey.minuteCeiling(to), 1 << 46))
        return try locked("count snapshots") {
            Int(try connection.queryInt64("SELECT count(*) FROM readings WHERE key >= ? AND key < ? AND (key >> 15) & 1 = ?",
                                          [.integer(lo), .integer(hi), .integer(Int64(series.keyBit))]) ?? 0)
        }
    }

    /// The first and last stored interval start of `series`, or nil when none is stored. Scans from each
    /// end of the table to the first row of the series: instant when both series are stored.
    @available(*, noasync, message: "blocks on SQLite; from async code use ArchiveStore.read")
    public func storedRange(series: SeriesKind = .interval) throws(ArchiveError) -> ClosedRange<Timestamp>? {
        try locked("read stored range") {
            var first: Int64?
            var last: Int64?
            try connection.withStatement("SELECT key FROM readings WHERE (key >> 15) & 1 = ? ORDER BY key LIMIT 1") { s in
                try s.bind([.integer(Int64(series.keyBit))])
                if try s.step() { first = s.int64(0) }
            }
            try connection.withStatement("SELECT key FROM readings WHERE (key >> 15) & 1 = ? ORDER BY key DESC LIMIT 1") { s in
                try s.bind([.integer(Int64(series.keyBit))])
                if try s.step() { last = s.int64(0) }
            }
            guard let first, let last else { return nil }
            return ReadingKey(rawValue: first).intervalStart...ReadingKey(rawValue: last).intervalStart
        }
    }

    /// Where a streaming read continues.
    private struct Cursor {
        var minute: Int64
        var key: Int64
    }

    /// Reads the next rows of all meters in key order. `done` when the range is exhausted.
    private func scanBatch(series: SeriesKind, endMinute: Int64,
                           cursor: inout Cursor) throws -> (snapshots: [MeterSnapshot], done: Bool) {
        var out: [MeterSnapshot] = []
        let end = ReadingKey.first(ofMinute: endMinute)
        while out.count < Self.batchSize {
            // Rows of the other series are read and skipped; the range ends only when a query comes up short.
            let rows = try connection.withStatement(
                "SELECT key, layout, data FROM readings WHERE key >= ? AND key < ? ORDER BY key LIMIT ?") { s in
                try s.bind([.integer(cursor.key), .integer(end), .integer(Int64(Self.batchSize))])
                var rows = 0
                while try s.step() {
                    rows += 1
                    let key = ReadingKey(rawValue: s.int64(0))
                    cursor.key = key.rawValue + 1
                    if key.series == series { out.append(try snapshot(key: key, layout: s.int64(1), statement: s)) }
                }
                return rows
            }
            if rows < Self.batchSize { return (out, true) }
        }
        return (out, false)
    }

    /// Reads the next rows of one meter: one key seek per stored interval, skipping other meters' rows.
    private func seekBatch(number: Int, series: SeriesKind, endMinute: Int64,
                           cursor: inout Cursor) throws -> (snapshots: [MeterSnapshot], done: Bool) {
        var out: [MeterSnapshot] = []
        let end = ReadingKey.first(ofMinute: endMinute)
        while out.count < Self.batchSize, cursor.minute < endMinute {
            let wanted = ReadingKey(minute: cursor.minute, series: series, meterNumber: number)
            let found: ReadingKey? = try connection.withStatement(
                "SELECT key, layout, data FROM readings WHERE key >= ? AND key < ? ORDER BY key LIMIT 1") { s in
                try s.bind([.integer(wanted.rawValue), .integer(end)])
                guard try s.step() else { return nil }
                let key = ReadingKey(rawValue: s.int64(0))
                if key == wanted { out.append(try snapshot(key: key, layout: s.int64(1), statement: s)) }
                return key
            }
            guard let found else {
                cursor.minute = endMinute
                break
            }
            cursor.minute = found.minute > wanted.minute ? found.minute : wanted.minute + 1
        }
        return (out, cursor.minute >= endMinute)
    }

    /// Decodes the current row of `statement` (columns key, layout, data).
    private func snapshot(key: ReadingKey, layout: Int64, statement s: SQLiteStatement) throws -> MeterSnapshot {
        let quantities = try quantities(ofLayout: layout)
        let payload: SnapshotRowPayload
        do {
            payload = try SnapshotCodec.decode(s.blob(2), valueCount: quantities.count)
        } catch {
            throw ArchiveError.corruptRow(key: key.rawValue, path: path, reason: error)
        }
        let meter = try meterName(key.meterNumber)
        let start = key.intervalStart
        let gateway = Timestamp(milliseconds: start.milliseconds &+ payload.gatewayOffsetMilliseconds)
        let meterTime = payload.meterTimeOffsetMilliseconds.map { Timestamp(milliseconds: gateway.milliseconds &+ $0) }
        let values = zip(quantities, payload.slots).map { q, slot -> QuantityValue in
            switch slot {
            case .value(let v): return QuantityValue(quantity: q, value: v)
            case .error(let e): return QuantityValue(quantity: q, error: e)
            case .missing: // neither a value nor an error: QuantityValue has no initialiser for that
                var missing = QuantityValue(quantity: q, value: 0)
                missing.value = nil
                return missing
            }
        }
        return MeterSnapshot(meter: meter, intervalStart: start, gatewayTime: gateway, meterTime: meterTime,
                             clockUnsynced: payload.clockUnsynced, values: values)
    }

    private func quantities(ofLayout id: Int64) throws -> [QuantityID] {
        if let cached = layouts[id] { return cached }
        guard let text = try connection.queryText("SELECT quantities FROM layouts WHERE id = ?", [.integer(id)]) else {
            throw ArchiveError.invalidInput("layout \(id) is missing from \(path); check: the archive file")
        }
        let list = try LayoutText.decode(text, path: path)
        layouts[id] = list
        return list
    }

    private func meterName(_ number: Int) throws -> MeterID {
        if let name = meterNames[number] { return name }
        try refreshMeters()
        guard let name = meterNames[number] else {
            throw ArchiveError.invalidInput("meter number \(number) is missing from \(path); check: the archive file")
        }
        return name
    }

    private func refreshMeters() throws {
        try connection.withStatement("SELECT number, name FROM meters") { s in
            while try s.step() {
                let number = Int(s.int64(0))
                let name = MeterID(s.text(1))
                meterNames[number] = name
                meterNumbers[name] = number
            }
        }
    }
}
