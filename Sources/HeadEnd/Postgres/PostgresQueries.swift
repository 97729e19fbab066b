import ConcentratorCore
import PostgreSQL
import Wire

/// The PostgreSQL store's reads for status, the fleet list, charts, events and the command audit.
/// Text is ordered with `COLLATE "C"` (byte order, as SQLite), so lists and exports come in the same
/// order from both stores whatever the database's locale.
extension PostgresHeadEndStore {
    public func sequenceGaps(device name: String, limit: Int) throws(HeadEndError) -> SequenceGapReport {
        try run {
            guard let device = try deviceNumber(name) else { return SequenceGapReport(missing: 0, gaps: []) }
            let missing = try connection.query("SELECT max(sequence) - min(sequence) + 1 - count(*) FROM batches WHERE device = $1",
                                               [.int64(device)]).optionalInt64(0, 0) ?? 0
            guard missing > 0 else { return SequenceGapReport(missing: 0, gaps: []) }
            let rows = try connection.query("""
                SELECT sequence, next FROM (SELECT sequence, lead(sequence) OVER (ORDER BY sequence) AS next FROM batches WHERE device = $1) g
                WHERE next > sequence + 1 ORDER BY sequence LIMIT $2
                """, [.int64(device), .int64(Int64(limit))])
            return SequenceGapReport(missing: Int(missing), gaps: rows.map { r in
                UInt64(bitPattern: rows.int64(r, 0) + 1)...UInt64(bitPattern: rows.int64(r, 1) - 1)
            })
        }
    }

    public func fleetOverview() throws(HeadEndError) -> [FleetDeviceSummary] {
        try run {
            var summaries: [Int64: FleetDeviceSummary] = [:]
            var order: [Int64] = []
            let devices = try connection.query("SELECT id, name, registered FROM devices ORDER BY name COLLATE \"C\"")
            for r in 0..<devices.count {
                summaries[devices.int64(r, 0)] = FleetDeviceSummary(device: devices.text(r, 1), registered: devices.bool(r, 2))
                order.append(devices.int64(r, 0))
            }
            let batches = try connection.query("""
                SELECT device, count(*), max(received), max(sequence), min(sequence),
                       coalesce(sum(CASE WHEN kind IN (1, 2) THEN value_count ELSE 0 END), 0)::bigint,
                       coalesce(sum(CASE WHEN kind = 3 THEN value_count ELSE 0 END), 0)::bigint
                FROM batches GROUP BY device
                """)
            for r in 0..<batches.count {
                let id = batches.int64(r, 0), count = Int(batches.int64(r, 1))
                summaries[id]?.batches = count
                summaries[id]?.lastSeen = Timestamp(milliseconds: batches.int64(r, 2))
                summaries[id]?.lastSequence = UInt64(bitPattern: batches.int64(r, 3))
                summaries[id]?.missingSequences = Int(batches.int64(r, 3) - batches.int64(r, 4) + 1) - count
                summaries[id]?.values = Int(batches.int64(r, 5))
                summaries[id]?.events = Int(batches.int64(r, 6))
            }
            let clocks = try connection.query("""
                SELECT DISTINCT ON (device) device, snapshot_count, unsynced_snapshots, meter_skew_ms FROM batches
                WHERE kind IN (1, 2) ORDER BY device, sequence DESC
                """)
            for r in 0..<clocks.count {
                summaries[clocks.int64(r, 0)]?.clock = BatchClockQuality(snapshots: Int(clocks.int64(r, 1)), unsyncedSnapshots: Int(clocks.int64(r, 2)),
                                                                     maximumMeterSkewMilliseconds: clocks.optionalInt64(r, 3))
            }
            let alarms = try connection.query("SELECT device, count(*) FROM events WHERE severity >= 2 GROUP BY device")
            for r in 0..<alarms.count { summaries[alarms.int64(r, 0)]?.alarms = Int(alarms.int64(r, 1)) }
            let status = try connection.query("""
                SELECT device, received, state, since, unexpected, last_sequence, pending, oldest_pending FROM device_status
                """)
            for r in 0..<status.count {
                let id = status.int64(r, 0)
                let reported = DeviceStatusReport.Reported(
                    received: Timestamp(milliseconds: status.int64(r, 1)), state: status.text(r, 2),
                    since: status.optionalInt64(r, 3).map(Timestamp.init(milliseconds:)),
                    unexpected: status.isNull(r, 4) ? nil : status.bool(r, 4),
                    lastSequence: status.optionalInt64(r, 5).map { UInt64(bitPattern: $0) }, pending: status.optionalInt64(r, 6).map { Int($0) },
                    oldestUnacknowledgedInterval: status.optionalInt64(r, 7).map(Timestamp.init(milliseconds:)))
                summaries[id]?.reported = reported
                if let seen = summaries[id]?.lastSeen, seen >= reported.received { continue }
                summaries[id]?.lastSeen = reported.received
            }
            let rejections = try connection.query("SELECT device, reason, count FROM rejections")
            for r in 0..<rejections.count { summaries[rejections.int64(r, 0)]?.rejections[rejections.text(r, 1)] = Int(rejections.int64(r, 2)) }
            return order.compactMap { summaries[$0] }
        }
    }

    public func eventSummaries(alarmsSince: Timestamp) throws(HeadEndError) -> [String: DeviceEventSummary] {
        try run {
            var out: [String: DeviceEventSummary] = [:]
            let clock = DeviceEventSummary.clockKinds
            let clocks = try connection.query("""
                SELECT DISTINCT ON (e.device) d.name, e.kind FROM events e JOIN devices d ON d.id = e.device
                WHERE e.kind IN ($1, $2) ORDER BY e.device, e.time DESC, e.sequence DESC, e.position DESC
                """, [.int64(clock.synchronised), .int64(clock.unsynchronised)])
            for r in 0..<clocks.count { out[clocks.text(r, 0), default: DeviceEventSummary()].clockSynchronised = clocks.int64(r, 1) == clock.synchronised }
            let alarms = try connection.query("""
                SELECT d.name, count(*) FROM events e JOIN devices d ON d.id = e.device
                WHERE e.time >= $1 AND \(DeviceEventSummary.alarmCondition) GROUP BY d.name
                """, [.int64(alarmsSince.milliseconds)])
            for r in 0..<alarms.count { out[alarms.text(r, 0), default: DeviceEventSummary()].alarms = Int(alarms.int64(r, 1)) }
            return out
        }
    }

    public func meters(ofDevice name: String) throws(HeadEndError) -> [StoredMeter] {
        try run {
            guard let device = try deviceNumber(name) else { return [] }
            let rows = try connection.query("""
                SELECT m.name, s.series, min(s.interval_start), max(s.interval_start),
                       (SELECT l.quantities FROM snapshots n JOIN layouts l ON l.id = n.layout
                        WHERE n.device = s.device AND n.meter = s.meter ORDER BY n.interval_start DESC LIMIT 1)
                FROM snapshots s JOIN meters m ON m.id = s.meter WHERE s.device = $1
                GROUP BY m.name, s.series, s.device, s.meter ORDER BY m.name COLLATE "C", s.series
                """, [.int64(device)])
            return StoredMeter.merged(rows.map { r in
                StoredMeter(name: MeterID(rows.text(r, 0)), series: [StoredSnapshotRow.series(rows.int64(r, 1))],
                            firstInterval: Timestamp(milliseconds: rows.int64(r, 2)), lastInterval: Timestamp(milliseconds: rows.int64(r, 3)),
                            quantities: StoredSnapshotRow.quantities(layoutText: rows.text(r, 4)))
            })
        }
    }

    /// Reads in pages of 10,000 snapshots (keyset on interval start and meter name), so an export of
    /// years of data never holds more than one page in memory.
    public func forEachSnapshot(_ query: SnapshotQuery, _ body: (MeterSnapshot) throws -> Void) throws(HeadEndError) {
        try run {
            guard let device = try deviceNumber(query.device) else { throw HeadEndError.unknownDevice(query.device) }
            var layouts: [Int64: [QuantityID]] = [:]
            var after: (Int64, String)?
            let pageSize: Int64 = 10_000
            while true {
                var sql = """
                    SELECT s.interval_start, m.name, s.layout, s.data FROM snapshots s JOIN meters m ON m.id = s.meter
                    WHERE s.device = $1 AND s.series = $2::smallint AND s.interval_start >= $3 AND s.interval_start < $4
                    """
                var values: [PostgresValue] = [.int64(device), .int64(StoredSnapshotRow.seriesNumber(query.series)),
                                               .int64(query.from.milliseconds), .int64(query.to.milliseconds), .int64(pageSize)]
                if let meter = query.meter {
                    sql += " AND m.name = $6"
                    values.append(.text(meter.rawValue))
                } else {
                    sql += " AND $6::text IS NULL"
                    values.append(.null)
                }
                if let (start, name) = after {
                    sql += " AND (s.interval_start, m.name COLLATE \"C\") > ($7, $8::text COLLATE \"C\")"
                    values += [.int64(start), .text(name)]
                }
                sql += " ORDER BY s.interval_start, m.name COLLATE \"C\" LIMIT $5"
                let rows = try connection.query(sql, values)
                for r in 0..<rows.count {
                    let layoutNumber = rows.int64(r, 2)
                    if layouts[layoutNumber] == nil {
                        let text = try connection.query("SELECT quantities FROM layouts WHERE id = $1", [.int64(layoutNumber)])
                        guard text.count == 1 else { throw HeadEndError.other("layout \(layoutNumber) is missing from \(location); the database is damaged") }
                        layouts[layoutNumber] = StoredSnapshotRow.quantities(layoutText: text.text(0, 0))
                    }
                    try body(StoredSnapshotRow.snapshot(meter: MeterID(rows.text(r, 1)), intervalStart: Timestamp(milliseconds: rows.int64(r, 0)),
                                                        quantities: layouts[layoutNumber]!, data: rows.bytes(r, 3)))
                }
                guard Int64(rows.count) == pageSize else { return }
                after = (rows.int64(rows.count - 1, 0), rows.text(rows.count - 1, 1))
            }
        }
    }

    public func events(device name: String, from: Timestamp, to: Timestamp, limit: Int) throws(HeadEndError) -> [StoredEvent] {
        try run {
            guard let device = try deviceNumber(name) else { return [] }
            let rows = try connection.query("""
                SELECT sequence, position, time, kind, severity, bus, meter, message FROM events
                WHERE device = $1 AND time >= $2 AND time < $3 ORDER BY time DESC, sequence DESC, position DESC LIMIT $4
                """, [.int64(device), .int64(from.milliseconds), .int64(to.milliseconds), .int64(Int64(limit))])
            return rows.map { r in
                StoredEvent(device: name, sequence: UInt64(bitPattern: rows.int64(r, 0)), position: Int(rows.int64(r, 1)),
                            event: GatewayEvent(time: Timestamp(milliseconds: rows.int64(r, 2)),
                                                kind: GatewayEvent.Kind(rawValue: UInt16(clamping: rows.int64(r, 3))),
                                                severity: GatewayEvent.Severity(rawValue: UInt8(clamping: rows.int64(r, 4))) ?? .info,
                                                bus: rows.optionalText(r, 5).map { BusName($0) }, meter: rows.optionalText(r, 6).map { MeterID($0) },
                                                message: rows.text(r, 7)))
            }
        }
    }

    public func recordCommandSent(_ entry: HeadEndCommandRecord) throws(HeadEndError) {
        try run {
            try connection.query("""
                INSERT INTO command_audit (device, command_id, verb, key_id, counter, arguments, issued_at, expires_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                """, [.text(entry.device), .text(entry.commandID), .text(entry.verb), .text(entry.keyID.hex), .int64(entry.counter),
                      .text(entry.arguments), .int64(entry.issuedAt.milliseconds), .int64(entry.expiresAt.milliseconds)])
        }
    }

    public func recordCommandReply(device: String, commandID: String, reply: HeadEndCommandRecord.Reply) throws(HeadEndError) {
        try run {
            try connection.query("""
                UPDATE command_audit SET reply_status = $1, reply_code = $2, reply_message = $3, reply_received = $4
                WHERE device = $5 AND command_id = $6 AND reply_status IS NULL
                """, [.text(reply.status), .text(reply.code), .text(reply.message), .int64(reply.received.milliseconds),
                      .text(device), .text(commandID)])
        }
    }

    public func commandAudit(device: String?, limit: Int) throws(HeadEndError) -> [HeadEndCommandRecord] {
        let filter: PostgresValue = device.map { PostgresValue.text($0) } ?? PostgresValue.null
        return try run {
            let rows = try connection.query("""
                SELECT device, command_id, verb, key_id, counter, arguments, issued_at, expires_at, reply_status, reply_code, reply_message,
                       reply_received FROM command_audit WHERE $1::text IS NULL OR device = $1
                ORDER BY issued_at DESC, counter DESC LIMIT $2
                """, [filter, .int64(Int64(limit))])
            return rows.map { r in
                HeadEndCommandRecord(device: rows.text(r, 0), commandID: rows.text(r, 1), verb: rows.text(r, 2),
                                  keyID: KeyID(hex: rows.text(r, 3)) ?? KeyID(publicKey: []), counter: rows.int64(r, 4),
                                  arguments: rows.text(r, 5), issuedAt: Timestamp(milliseconds: rows.int64(r, 6)),
                                  expiresAt: Timestamp(milliseconds: rows.int64(r, 7)),
                                  reply: rows.optionalText(r, 8).map { status in
                                      HeadEndCommandRecord.Reply(status: status, code: rows.text(r, 9), message: rows.text(r, 10),
                                                              received: Timestamp(milliseconds: rows.int64(r, 11)))
                                  })
            }
        }
    }
}
