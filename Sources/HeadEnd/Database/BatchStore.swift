import ConcentratorCore
import SQLite
import Wire

/// What storing an opened batch did.
public enum StoreOutcome: Hashable, Sendable {
    /// Stored in one transaction. `overlappingSnapshots` counts snapshots for a (meter, series,
    /// interval) that an earlier batch already delivered; the first delivery is kept.
    case stored(snapshots: Int, values: Int, events: Int, overlappingSnapshots: Int)
    /// This (device, sequence) is already stored with the same digest: nothing was written.
    case duplicate
    /// This (device, sequence) is already stored with another digest: nothing was written.
    case sequenceReused
}

/// Writing accepted batches, status documents and rejection counts.
extension HeadEndDatabase {
    /// Stores `batch` (its record, then its snapshots or events) in one transaction, deduplicating by
    /// (device, sequence). When this returns `.stored`, the batch is durable and may be acknowledged.
    public func store(_ batch: OpenedBatch, receivedAt: Timestamp) throws(HeadEndError) -> StoreOutcome {
        let header = batch.header
        return try writeTransaction {
            guard let device = try deviceNumber(header.deviceID) else {
                throw HeadEndError.invalidRequest("device \(header.deviceID) is not in the registry")
            }
            let sequence = Int64(bitPattern: header.sequence)
            if let stored = try connection.withStatement("SELECT digest FROM batches WHERE device = ? AND sequence = ?", { s in
                try s.bind([.integer(device), .integer(sequence)])
                return try s.step() ? s.blob(0) : nil
            }) {
                return stored == batch.digest ? .duplicate : .sequenceReused
            }
            let clock = StoredSnapshotRow.clock(of: batch.content)
            let skew: SQLiteValue = clock?.maximumMeterSkewMilliseconds.map { SQLiteValue.integer($0) } ?? SQLiteValue.null
            let snapshotCount = Int64(clock?.snapshots ?? 0), unsynced = Int64(clock?.unsyncedSnapshots ?? 0)
            try connection.run("""
                INSERT INTO batches (device, sequence, digest, kind, flags, received, range_start, range_end, interval_seconds,
                                     meter_count, value_count, sealing_key, signing_key, snapshot_count, unsynced_snapshots, meter_skew_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.integer(device), .integer(sequence), .blob(batch.digest), .integer(Int64(header.kind.rawValue)),
                      .integer(Int64(header.flags.rawValue)), .integer(receivedAt.milliseconds),
                      .integer(header.rangeStart.milliseconds), .integer(header.rangeEnd.milliseconds),
                      .integer(Int64(header.intervalSeconds)), .integer(Int64(header.meterCount)),
                      .integer(Int64(header.valueCount)), .text(header.sealingKeyID.hex), .text(header.signingKeyID.hex),
                      .integer(snapshotCount), .integer(unsynced), skew])
            switch batch.content {
            case .snapshots(let series, _, let snapshots):
                let overlapping = try insertSnapshots(snapshots, series: series, device: device, sequence: sequence)
                return .stored(snapshots: snapshots.count, values: snapshots.reduce(0) { $0 + $1.values.count }, events: 0,
                               overlappingSnapshots: overlapping)
            case .events(let events):
                try insertEvents(events, device: device, sequence: sequence)
                return .stored(snapshots: 0, values: 0, events: events.count, overlappingSnapshots: 0)
            }
        }
    }

    /// Inserts the snapshots; returns how many were already stored from an earlier batch.
    private func insertSnapshots(_ snapshots: [MeterSnapshot], series: SeriesKind, device: Int64, sequence: Int64) throws -> Int {
        let insert = try connection.prepared("""
            INSERT INTO snapshots (device, series, interval_start, meter, sequence, layout, data) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT DO NOTHING
            """)
        let seriesNumber = StoredSnapshotRow.seriesNumber(series)
        var overlapping = 0
        for snapshot in snapshots {
            let meter = try meterNumber(snapshot.meter, device: device)
            let layout = try layoutNumber(snapshot.values.map(\.quantity))
            defer { insert.reset() }
            try insert.bind([.integer(device), .integer(seriesNumber), .integer(snapshot.intervalStart.milliseconds), .integer(meter),
                             .integer(sequence), .integer(layout), .blob(StoredSnapshotRow.data(snapshot))])
            try insert.step()
            if connection.changes == 0 { overlapping += 1 }
        }
        return overlapping
    }

    private func insertEvents(_ events: [GatewayEvent], device: Int64, sequence: Int64) throws {
        let insert = try connection.prepared("""
            INSERT INTO events (device, sequence, position, time, kind, severity, bus, meter, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for (position, event) in events.enumerated() {
            defer { insert.reset() }
            try insert.bind([.integer(device), .integer(sequence), .integer(Int64(position)), .integer(event.time.milliseconds),
                             .integer(Int64(event.kind.rawValue)), .integer(Int64(event.severity.rawValue)),
                             event.bus.map { .text($0.rawValue) } ?? .null, event.meter.map { .text($0.rawValue) } ?? .null,
                             .text(event.message)])
            try insert.step()
        }
    }

    private func meterNumber(_ meter: MeterID, device: Int64) throws -> Int64 {
        let key = MeterKey(device: device, meter: meter)
        if let cached = meterNumbers[key] { return cached }
        try connection.run("INSERT INTO meters (device, name) VALUES (?, ?) ON CONFLICT DO NOTHING", [.integer(device), .text(meter.rawValue)])
        guard let number = try connection.queryInt64("SELECT id FROM meters WHERE device = ? AND name = ?",
                                                     [.integer(device), .text(meter.rawValue)]) else {
            throw HeadEndError.other("meter \(meter) of device number \(device) vanished while storing")
        }
        meterNumbers[key] = number
        return number
    }

    private func layoutNumber(_ quantities: [QuantityID]) throws -> Int64 {
        if let cached = layoutNumbers[quantities] { return cached }
        let text = StoredSnapshotRow.layoutText(quantities)
        try connection.run("INSERT INTO layouts (quantities) VALUES (?) ON CONFLICT DO NOTHING", [.text(text)])
        guard let number = try connection.queryInt64("SELECT id FROM layouts WHERE quantities = ?", [.text(text)]) else {
            throw HeadEndError.other("layout \(text) vanished while storing")
        }
        layoutNumbers[quantities] = number
        return number
    }

    /// Keeps the newest status document of a device the head-end knows. Returns false (storing
    /// nothing) for a device that is not registered: status documents are unsigned.
    @discardableResult
    public func recordStatus(_ status: UplinkStatusDocument, receivedAt: Timestamp) throws(HeadEndError) -> Bool {
        try writeTransaction {
            guard let device = try deviceNumber(status.device),
                  try connection.queryInt64("SELECT registered FROM devices WHERE id = ?", [.integer(device)]) == 1 else { return false }
            try connection.run("""
                INSERT OR REPLACE INTO device_status (device, received, state, since, unexpected, agent, last_sequence, pending, oldest_pending)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.integer(device), .integer(receivedAt.milliseconds), .text(status.state),
                      status.sinceTime.map { .integer($0.milliseconds) } ?? .null, status.unexpected.map { .integer($0 ? 1 : 0) } ?? .null,
                      status.agent.map { .text(String($0.prefix(64))) } ?? .null,
                      status.lastSequence.flatMap { $0 >= 0 ? .integer($0) : nil } ?? .null,
                      status.pending.flatMap { $0 >= 0 ? .integer(Int64($0)) : nil } ?? .null,
                      status.oldestUnacknowledgedTime.map { .integer($0.milliseconds) } ?? .null])
            return true
        }
    }

    /// Counts a rejected batch of a device the head-end knows (nothing is recorded for unknown ids,
    /// so a flood of invented ids cannot grow the database).
    public func recordRejection(device name: String, reason: String, sequence: UInt64?, at now: Timestamp) throws(HeadEndError) {
        try writeTransaction {
            guard let device = try deviceNumber(name) else { return }
            try connection.run("""
                INSERT INTO rejections (device, reason, count, last_time, last_sequence) VALUES (?, ?, 1, ?, ?)
                ON CONFLICT (device, reason) DO UPDATE SET count = count + 1, last_time = excluded.last_time,
                                                           last_sequence = excluded.last_sequence
                """, [.integer(device), .text(reason), .integer(now.milliseconds), sequence.map { .integer(Int64(bitPattern: $0)) } ?? .null])
        }
    }
}
