import ConcentratorCore
import PostgreSQL
import Wire

/// Writing accepted batches, status documents and rejection counts to PostgreSQL.
extension PostgresHeadEndStore {
    /// Stores `batch` in one transaction: the batch record (`INSERT … ON CONFLICT DO NOTHING` on the
    /// dedup key), then its snapshots or events with one binary COPY. Meter and layout numbers and
    /// the month partitions are created before the transaction (they are harmless if it fails).
    public func store(_ batch: OpenedBatch, receivedAt: Timestamp) throws(HeadEndError) -> StoreOutcome {
        try ensureConnected()
        do { return try storeConnected(batch, receivedAt: receivedAt) } catch { throw HeadEndError.wrap(error) }
    }

    /// A snapshot to COPY, with its meter and layout numbers.
    struct SnapshotRow {
        let snapshot: MeterSnapshot
        let meter: Int64
        let layout: Int64
    }

    private func storeConnected(_ batch: OpenedBatch, receivedAt: Timestamp) throws -> StoreOutcome {
        let header = batch.header
        guard let device = try deviceNumber(header.deviceID) else {
            throw HeadEndError.invalidRequest("device \(header.deviceID) is not in the registry")
        }
        let rows = try snapshotRows(batch.content, device: device)
        let record = batchRecord(batch, device: device, receivedAt: receivedAt)
        return try connection.transaction { () throws -> StoreOutcome in
            try self.insertBatch(batch, record: record, rows: rows, device: device)
        }
    }

    /// Meter and layout numbers of a reading batch's snapshots (creating the month partitions they need).
    private func snapshotRows(_ content: BatchContent, device: Int64) throws -> [SnapshotRow] {
        guard case .snapshots(_, _, let snapshots) = content else { return [] }
        let months: [CalendarMonth] = Set(snapshots.map { CalendarMonth(containing: $0.intervalStart) }).sorted()
        try ensurePartitions(months)
        let meterIDs: [MeterID] = Set(snapshots.map(\.meter)).sorted()
        let meters = try meterNumbers(meterIDs, device: device)
        var rows: [SnapshotRow] = []
        rows.reserveCapacity(snapshots.count)
        for snapshot in snapshots {
            let quantities: [QuantityID] = snapshot.values.map(\.quantity)
            let layout: Int64 = try layoutNumber(quantities)
            guard let meter = meters[snapshot.meter] else { throw HeadEndError.other("meter \(snapshot.meter) has no number") }
            rows.append(SnapshotRow(snapshot: snapshot, meter: meter, layout: layout))
        }
        return rows
    }

    /// The parameters of the `batches` row.
    private func batchRecord(_ batch: OpenedBatch, device: Int64, receivedAt: Timestamp) -> [PostgresValue] {
        let header = batch.header
        let clock: BatchClockQuality? = StoredSnapshotRow.clock(of: batch.content)
        let snapshotCount: Int64 = Int64(clock?.snapshots ?? 0)
        let unsynced: Int64 = Int64(clock?.unsyncedSnapshots ?? 0)
        var values: [PostgresValue] = []
        values.append(.int64(device))
        values.append(.int64(Int64(bitPattern: header.sequence)))
        values.append(.bytes(batch.digest))
        values.append(.int64(Int64(header.kind.rawValue)))
        values.append(.int64(Int64(header.flags.rawValue)))
        values.append(.int64(receivedAt.milliseconds))
        values.append(.int64(header.rangeStart.milliseconds))
        values.append(.int64(header.rangeEnd.milliseconds))
        values.append(.int64(Int64(header.intervalSeconds)))
        values.append(.int64(Int64(header.meterCount)))
        values.append(.int64(Int64(header.valueCount)))
        values.append(.text(header.sealingKeyID.hex))
        values.append(.text(header.signingKeyID.hex))
        values.append(.int64(snapshotCount))
        values.append(.int64(unsynced))
        values.append(PostgresValue.optional(clock?.maximumMeterSkewMilliseconds))
        return values
    }

    /// Inside the transaction: the batch record (dedup), then the snapshots or events.
    private func insertBatch(_ batch: OpenedBatch, record: [PostgresValue], rows: [SnapshotRow], device: Int64) throws -> StoreOutcome {
        let sequence = Int64(bitPattern: batch.header.sequence)
        let inserted = try connection.query("""
            INSERT INTO batches (device, sequence, digest, kind, flags, received, range_start, range_end, interval_seconds,
                                 meter_count, value_count, sealing_key, signing_key, snapshot_count, unsynced_snapshots, meter_skew_ms)
            VALUES ($1, $2, $3, $4::bigint, $5::bigint, $6, $7, $8, $9::bigint, $10::bigint, $11::bigint, $12, $13,
                    $14::bigint, $15::bigint, $16::bigint)
            ON CONFLICT (device, sequence) DO NOTHING
            """, record)
        guard inserted.affectedRows == 1 else {
            // Stored before (perhaps by another worker a moment ago: ON CONFLICT waited for its commit).
            let stored = try connection.query("SELECT digest FROM batches WHERE device = $1 AND sequence = $2",
                                              [.int64(device), .int64(sequence)])
            if stored.count > 0, stored.bytes(0, 0) == batch.digest { return StoreOutcome.duplicate }
            return StoreOutcome.sequenceReused
        }
        switch batch.content {
        case .snapshots(let series, _, let snapshots):
            let overlapping = try copySnapshots(rows, series: series, device: device, sequence: sequence)
            var values = 0
            for snapshot in snapshots { values += snapshot.values.count }
            return StoreOutcome.stored(snapshots: snapshots.count, values: values, events: 0, overlappingSnapshots: overlapping)
        case .events(let events):
            try copyEvents(events, device: device, sequence: sequence)
            return StoreOutcome.stored(snapshots: 0, values: 0, events: events.count, overlappingSnapshots: 0)
        }
    }

    private func copyEvents(_ events: [GatewayEvent], device: Int64, sequence: Int64) throws {
        var copy = PostgresCopyEncoder()
        for (position, event) in events.enumerated() {
            copy.row(fields: 9)
            copy.int64(device)
            copy.int64(sequence)
            copy.int32(Int32(position))
            copy.int64(event.time.milliseconds)
            copy.int32(Int32(event.kind.rawValue))
            copy.int16(Int16(event.severity.rawValue))
            if let bus = event.bus { copy.text(bus.rawValue) } else { copy.null() }
            if let meter = event.meter { copy.text(meter.rawValue) } else { copy.null() }
            copy.text(event.message)
        }
        _ = try connection.copy("COPY events (device, sequence, position, time, kind, severity, bus, meter, message) FROM STDIN (FORMAT binary)",
                                copy.finish())
    }

    /// COPYs the snapshot rows. When a (device, series, interval, meter) is already stored from an
    /// earlier batch, the COPY fails as a whole; then the rows go through a staging table and
    /// `ON CONFLICT DO NOTHING` (the first delivery is kept). Returns how many were already stored.
    private func copySnapshots(_ rows: [SnapshotRow], series: SeriesKind, device: Int64,
                               sequence: Int64) throws -> Int {
        let seriesNumber = Int16(StoredSnapshotRow.seriesNumber(series))
        var copy = PostgresCopyEncoder(capacity: rows.count * 160 + 64)
        for row in rows {
            copy.row(fields: 7)
            copy.int64(device)
            copy.int16(seriesNumber)
            copy.int64(row.snapshot.intervalStart.milliseconds)
            copy.int64(row.meter)
            copy.int64(sequence)
            copy.int64(row.layout)
            copy.bytes(StoredSnapshotRow.data(row.snapshot))
        }
        let data = copy.finish()
        let columns = "(device, series, interval_start, meter, sequence, layout, data)"
        try connection.execute("SAVEPOINT snapshots_copy")
        switch copyResult("COPY snapshots \(columns) FROM STDIN (FORMAT binary)", data) {
        case .success:
            try connection.execute("RELEASE SAVEPOINT snapshots_copy")
            return 0
        case .failure(let error):
            guard error.sqlState == PostgresError.uniqueViolation else { throw error }
            try connection.execute("ROLLBACK TO SAVEPOINT snapshots_copy")
        }
        try connection.execute("CREATE TEMP TABLE IF NOT EXISTS snapshot_stage (LIKE snapshots) ON COMMIT DELETE ROWS")
        try connection.copy("COPY snapshot_stage \(columns) FROM STDIN (FORMAT binary)", data)
        let inserted = try connection.query("INSERT INTO snapshots SELECT * FROM snapshot_stage ON CONFLICT DO NOTHING").affectedRows
        try connection.execute("DELETE FROM snapshot_stage")
        return rows.count - inserted
    }

    /// A COPY whose failure the caller inspects.
    private func copyResult(_ sql: String, _ data: [UInt8]) -> Result<Int, PostgresError> {
        do {
            let rows = try connection.copy(sql, data)
            return .success(rows)
        } catch {
            return .failure(error)
        }
    }

    /// The numbers of `meters` of `device`, inserting the missing ones in one statement (autocommit).
    private func meterNumbers(_ meters: [MeterID], device: Int64) throws -> [MeterID: Int64] {
        var numbers: [MeterID: Int64] = [:]
        var missing: [MeterID] = []
        for meter in meters {
            if let n = meterNumbers[MeterKey(device: device, meter: meter)] { numbers[meter] = n } else { missing.append(meter) }
        }
        guard !missing.isEmpty else { return numbers }
        for chunkStart in stride(from: 0, to: missing.count, by: 500) {
            let chunkEnd: Int = min(chunkStart + 500, missing.count)
            let chunk: ArraySlice<MeterID> = missing[chunkStart..<chunkEnd]
            var parameters: [PostgresValue] = [PostgresValue.int64(device)]
            var tuples: [String] = []
            var placeholders: [String] = []
            for (offset, meter) in chunk.enumerated() {
                parameters.append(PostgresValue.text(meter.rawValue))
                let placeholder = "$" + String(offset + 2)
                tuples.append("($1, " + placeholder + ")")
                placeholders.append(placeholder)
            }
            try connection.query("INSERT INTO meters (device, name) VALUES " + tuples.joined(separator: ", ") + " ON CONFLICT DO NOTHING",
                                 parameters)
            let rows = try connection.query("SELECT name, id FROM meters WHERE device = $1 AND name IN (" + placeholders.joined(separator: ", ")
                + ")", parameters)
            for r in 0..<rows.count {
                let meter = MeterID(rows.text(r, 0))
                numbers[meter] = rows.int64(r, 1)
                meterNumbers[MeterKey(device: device, meter: meter)] = rows.int64(r, 1)
            }
        }
        guard numbers.count == meters.count else {
            throw HeadEndError.other("meters of device number \(device) vanished while storing")
        }
        return numbers
    }

    private func layoutNumber(_ quantities: [QuantityID]) throws -> Int64 {
        if let cached = layoutNumbers[quantities] { return cached }
        let text = StoredSnapshotRow.layoutText(quantities)
        try connection.query("INSERT INTO layouts (quantities) VALUES ($1) ON CONFLICT DO NOTHING", [.text(text)])
        let rows = try connection.query("SELECT id FROM layouts WHERE quantities = $1", [.text(text)])
        guard rows.count == 1 else { throw HeadEndError.other("layout \(text) vanished while storing") }
        layoutNumbers[quantities] = rows.int64(0, 0)
        return rows.int64(0, 0)
    }

    /// Reads which months already have a partition of `snapshots`.
    func loadPartitions() throws {
        let rows = try connection.query("""
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'snapshots'::regclass
            """)
        for r in 0..<rows.count {
            let name = rows.text(r, 0)
            guard name.hasPrefix("snapshots_y"), let m = name.lastIndex(of: "m"),
                  let month = Int64(name[name.index(after: m)...]), (1...12).contains(month) else { continue }
            let yearText = name[name.index(name.startIndex, offsetBy: 11)..<m]
            guard let year = yearText.hasPrefix("n") ? Int64(yearText.dropFirst()).map({ -$0 }) : Int64(yearText) else { continue }
            partitions.insert(CalendarMonth(year: year, month: month))
        }
    }

    /// Creates the partitions of `months` that do not exist yet, each in its own short transaction
    /// under an advisory lock (workers creating the same month wait for each other).
    func ensurePartitions(_ months: [CalendarMonth]) throws {
        for month in months where !partitions.contains(month) {
            let (name, from, to) = PostgresHeadEndSchema.partition(month)
            try connection.transaction {
                try connection.query("SELECT pg_advisory_xact_lock($1)", [.int64(PostgresHeadEndSchema.partitionLockKey)])
                try connection.execute("CREATE TABLE IF NOT EXISTS \(name) PARTITION OF snapshots FOR VALUES FROM (\(from)) TO (\(to))")
            }
            partitions.insert(month)
        }
    }

    @discardableResult
    public func recordStatus(_ status: UplinkStatusDocument, receivedAt: Timestamp) throws(HeadEndError) -> Bool {
        let values = Self.statusParameters(status, receivedAt: receivedAt)
        return try run {
            let rows = try connection.query("""
                INSERT INTO device_status (device, received, state, since, unexpected, agent, last_sequence, pending, oldest_pending)
                SELECT id, $2, $3, $4::bigint, $5::boolean, $6::text, $7::bigint, $8::bigint, $9::bigint FROM devices
                WHERE name = $1 AND registered
                ON CONFLICT (device) DO UPDATE SET received = excluded.received, state = excluded.state, since = excluded.since,
                    unexpected = excluded.unexpected, agent = excluded.agent, last_sequence = excluded.last_sequence,
                    pending = excluded.pending, oldest_pending = excluded.oldest_pending
                """, values)
            return rows.affectedRows == 1
        }
    }

    /// The parameters of the `device_status` upsert.
    private static func statusParameters(_ status: UplinkStatusDocument, receivedAt: Timestamp) -> [PostgresValue] {
        var values: [PostgresValue] = [.text(status.device), .int64(receivedAt.milliseconds), .text(status.state)]
        values.append(PostgresValue.optional(status.sinceTime?.milliseconds))
        values.append(PostgresValue.optional(status.unexpected))
        let agent: String? = status.agent.map { String($0.prefix(64)) }
        values.append(PostgresValue.optional(agent))
        var lastSequence: Int64? = nil
        if let s = status.lastSequence, s >= 0 { lastSequence = s }
        values.append(PostgresValue.optional(lastSequence))
        var pending: Int64? = nil
        if let p = status.pending, p >= 0 { pending = Int64(p) }
        values.append(PostgresValue.optional(pending))
        values.append(PostgresValue.optional(status.oldestUnacknowledgedTime?.milliseconds))
        return values
    }

    public func recordRejection(device name: String, reason: String, sequence: UInt64?, at now: Timestamp) throws(HeadEndError) {
        let last: PostgresValue = PostgresValue.optional(sequence.map { Int64(bitPattern: $0) })
        try run {
            try connection.query("""
                INSERT INTO rejections (device, reason, count, last_time, last_sequence)
                SELECT id, $2, 1, $3, $4::bigint FROM devices WHERE name = $1
                ON CONFLICT (device, reason) DO UPDATE SET count = rejections.count + 1, last_time = excluded.last_time,
                                                           last_sequence = excluded.last_sequence
                """, [.text(name), .text(reason), .int64(now.milliseconds), last])
        }
    }
}
