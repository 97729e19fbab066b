import ConcentratorCore
import SQLite
import Wire

/// The SQLite store's reads for status, the fleet list, charts, events, and the command audit.
extension HeadEndDatabase {
    public func sequenceGaps(device name: String, limit: Int) throws(HeadEndError) -> SequenceGapReport {
        let found: Int64?
        do { found = try deviceNumber(name) } catch { throw HeadEndError.wrap(error) }
        guard let device = found else { return SequenceGapReport(missing: 0, gaps: []) }
        let missing = try rows("SELECT max(sequence) - min(sequence) + 1 - count(*) FROM batches WHERE device = ?",
                               [.integer(device)]) { $0.optionalInt64(0) ?? 0 }.first ?? 0
        guard missing > 0 else { return SequenceGapReport(missing: 0, gaps: []) }
        let gaps = try rows("""
            SELECT sequence, next FROM (SELECT sequence, lead(sequence) OVER (ORDER BY sequence) AS next FROM batches WHERE device = ?)
            WHERE next > sequence + 1 ORDER BY sequence LIMIT ?
            """, [.integer(device), .integer(Int64(limit))]) { s in UInt64(bitPattern: s.int64(0) + 1)...UInt64(bitPattern: s.int64(1) - 1) }
        return SequenceGapReport(missing: Int(missing), gaps: gaps)
    }

    public func fleetOverview() throws(HeadEndError) -> [FleetDeviceSummary] {
        var summaries: [Int64: FleetDeviceSummary] = [:]
        var order: [Int64] = []
        for (id, summary) in try rows("SELECT id, name, registered FROM devices ORDER BY name", [], { s in
            (s.int64(0), FleetDeviceSummary(device: s.text(1), registered: s.int64(2) == 1))
        }) {
            summaries[id] = summary
            order.append(id)
        }
        for row in try rows("""
            SELECT device, count(*), max(received), max(sequence), min(sequence),
                   total(CASE WHEN kind IN (1, 2) THEN value_count ELSE 0 END), total(CASE WHEN kind = 3 THEN value_count ELSE 0 END)
            FROM batches GROUP BY device
            """, [], { s in (s.int64(0), Int(s.int64(1)), s.int64(2), s.int64(3), s.int64(4), Int(s.double(5)), Int(s.double(6))) }) {
            summaries[row.0]?.batches = row.1
            summaries[row.0]?.lastSeen = Timestamp(milliseconds: row.2)
            summaries[row.0]?.lastSequence = UInt64(bitPattern: row.3)
            summaries[row.0]?.missingSequences = Int(row.3 - row.4 + 1) - row.1
            summaries[row.0]?.values = row.5
            summaries[row.0]?.events = row.6
        }
        for row in try rows("""
            SELECT b.device, b.snapshot_count, b.unsynced_snapshots, b.meter_skew_ms FROM batches b
            JOIN (SELECT device, max(sequence) AS sequence FROM batches WHERE kind IN (1, 2) GROUP BY device) l
              ON l.device = b.device AND l.sequence = b.sequence
            """, [], { s in (s.int64(0), BatchClockQuality(snapshots: Int(s.int64(1)), unsyncedSnapshots: Int(s.int64(2)),
                                                      maximumMeterSkewMilliseconds: s.optionalInt64(3))) }) {
            summaries[row.0]?.clock = row.1
        }
        for row in try rows("SELECT device, count(*) FROM events WHERE severity >= 2 GROUP BY device", [], { s in (s.int64(0), Int(s.int64(1))) }) {
            summaries[row.0]?.alarms = row.1
        }
        for row in try rows("SELECT device, received, state, since, unexpected, last_sequence, pending, oldest_pending FROM device_status", [], { s in
            (s.int64(0), DeviceStatusReport.Reported(
                received: Timestamp(milliseconds: s.int64(1)), state: s.text(2), since: s.optionalInt64(3).map(Timestamp.init(milliseconds:)),
                unexpected: s.optionalInt64(4).map { $0 != 0 }, lastSequence: s.optionalInt64(5).map { UInt64(bitPattern: $0) },
                pending: s.optionalInt64(6).map { Int($0) }, oldestUnacknowledgedInterval: s.optionalInt64(7).map(Timestamp.init(milliseconds:))))
        }) {
            summaries[row.0]?.reported = row.1
            if let seen = summaries[row.0]?.lastSeen, seen >= row.1.received { continue }
            summaries[row.0]?.lastSeen = row.1.received
        }
        for row in try rows("SELECT device, reason, count FROM rejections", [], { s in (s.int64(0), s.text(1), Int(s.int64(2))) }) {
            summaries[row.0]?.rejections[row.1] = row.2
        }
        return order.compactMap { summaries[$0] }
    }

    public func meters(ofDevice name: String) throws(HeadEndError) -> [StoredMeter] {
        let found: Int64?
        do { found = try deviceNumber(name) } catch { throw HeadEndError.wrap(error) }
        guard let device = found else { return [] }
        let ranges = try rows("""
            SELECT m.name, s.series, min(s.interval_start), max(s.interval_start),
                   (SELECT l.quantities FROM snapshots n JOIN layouts l ON l.id = n.layout
                    WHERE n.device = s.device AND n.meter = s.meter ORDER BY n.interval_start DESC LIMIT 1)
            FROM snapshots s JOIN meters m ON m.id = s.meter WHERE s.device = ? GROUP BY m.name, s.series ORDER BY m.name, s.series
            """, [.integer(device)]) { s in
            StoredMeter(name: MeterID(s.text(0)), series: [StoredSnapshotRow.series(s.int64(1))], firstInterval: Timestamp(milliseconds: s.int64(2)),
                        lastInterval: Timestamp(milliseconds: s.int64(3)), quantities: StoredSnapshotRow.quantities(layoutText: s.text(4)))
        }
        return StoredMeter.merged(ranges)
    }

    public func forEachSnapshot(_ query: SnapshotQuery, _ body: (MeterSnapshot) throws -> Void) throws(HeadEndError) {
        do {
            guard let device = try deviceNumber(query.device) else { throw HeadEndError.unknownDevice(query.device) }
            var sql = """
                SELECT s.interval_start, m.name, s.layout, s.data FROM snapshots s JOIN meters m ON m.id = s.meter
                WHERE s.device = ? AND s.series = ? AND s.interval_start >= ? AND s.interval_start < ?
                """
            var values: [SQLiteValue] = [.integer(device), .integer(StoredSnapshotRow.seriesNumber(query.series)),
                                         .integer(query.from.milliseconds), .integer(query.to.milliseconds)]
            if let meter = query.meter {
                sql += " AND m.name = ?"
                values.append(.text(meter.rawValue))
            }
            sql += " ORDER BY s.interval_start, m.name"
            var layouts: [Int64: [QuantityID]] = [:]
            try connection.withStatement(sql) { s in
                try s.bind(values)
                while try s.step() {
                    let layoutNumber = s.int64(2)
                    if layouts[layoutNumber] == nil { layouts[layoutNumber] = try layout(layoutNumber) }
                    try body(StoredSnapshotRow.snapshot(meter: MeterID(s.text(1)), intervalStart: Timestamp(milliseconds: s.int64(0)),
                                                        quantities: layouts[layoutNumber]!, data: s.blob(3)))
                }
            }
        } catch {
            throw HeadEndError.wrap(error)
        }
    }

    private func layout(_ number: Int64) throws -> [QuantityID] {
        guard let text = try connection.queryText("SELECT quantities FROM layouts WHERE id = ?", [.integer(number)]) else {
            throw HeadEndError.other("layout \(number) is missing from \(path); the database is damaged")
        }
        return StoredSnapshotRow.quantities(layoutText: text)
    }

    public func events(device name: String, from: Timestamp, to: Timestamp, limit: Int) throws(HeadEndError) -> [StoredEvent] {
        let found: Int64?
        do { found = try deviceNumber(name) } catch { throw HeadEndError.wrap(error) }
        guard let device = found else { return [] }
        return try rows("""
            SELECT sequence, position, time, kind, severity, bus, meter, message FROM events
            WHERE device = ? AND time >= ? AND time < ? ORDER BY time DESC, sequence DESC, position DESC LIMIT ?
            """, [.integer(device), .integer(from.milliseconds), .integer(to.milliseconds), .integer(Int64(limit))]) { s in
            StoredEvent(device: name, sequence: UInt64(bitPattern: s.int64(0)), position: Int(s.int64(1)),
                        event: GatewayEvent(time: Timestamp(milliseconds: s.int64(2)), kind: GatewayEvent.Kind(rawValue: UInt16(clamping: s.int64(3))),
                                            severity: GatewayEvent.Severity(rawValue: UInt8(clamping: s.int64(4))) ?? .info,
                                            bus: s.optionalText(5).map { BusName($0) }, meter: s.optionalText(6).map { MeterID($0) },
                                            message: s.text(7)))
        }
    }

    public func recordCommandSent(_ entry: HeadEndCommandRecord) throws(HeadEndError) {
        try writeTransaction {
            try connection.run("""
                INSERT INTO command_audit (device, command_id, verb, key_id, counter, arguments, issued_at, expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(entry.device), .text(entry.commandID), .text(entry.verb), .text(entry.keyID.hex), .integer(entry.counter),
                      .text(entry.arguments), .integer(entry.issuedAt.milliseconds), .integer(entry.expiresAt.milliseconds)])
        }
    }

    public func recordCommandReply(device: String, commandID: String, reply: HeadEndCommandRecord.Reply) throws(HeadEndError) {
        try writeTransaction {
            try connection.run("""
                UPDATE command_audit SET reply_status = ?, reply_code = ?, reply_message = ?, reply_received = ?
                WHERE device = ? AND command_id = ? AND reply_status IS NULL
                """, [.text(reply.status), .text(reply.code), .text(reply.message), .integer(reply.received.milliseconds),
                      .text(device), .text(commandID)])
        }
    }

    public func eventSummaries(alarmsSince: Timestamp) throws(HeadEndError) -> [String: DeviceEventSummary] {
        var out: [String: DeviceEventSummary] = [:]
        let clock = DeviceEventSummary.clockKinds
        // SQLite returns the bare column `kind` from the row holding max(time).
        for row in try rows("""
            SELECT d.name, e.kind, max(e.time) FROM events e JOIN devices d ON d.id = e.device WHERE e.kind IN (?, ?) GROUP BY e.device
            """, [.integer(clock.synchronised), .integer(clock.unsynchronised)], { s in (s.text(0), s.int64(1)) }) {
            out[row.0, default: DeviceEventSummary()].clockSynchronised = row.1 == clock.synchronised
        }
        for row in try rows("""
            SELECT d.name, count(*) FROM events e JOIN devices d ON d.id = e.device
            WHERE e.time >= ? AND \(DeviceEventSummary.alarmCondition) GROUP BY e.device
            """, [.integer(alarmsSince.milliseconds)], { s in (s.text(0), Int(s.int64(1))) }) {
            out[row.0, default: DeviceEventSummary()].alarms = row.1
        }
        return out
    }

    public func commandAudit(device: String?, limit: Int) throws(HeadEndError) -> [HeadEndCommandRecord] {
        var sql = """
            SELECT device, command_id, verb, key_id, counter, arguments, issued_at, expires_at, reply_status, reply_code, reply_message,
                   reply_received FROM command_audit
            """
        var values: [SQLiteValue] = []
        if let device {
            sql += " WHERE device = ?"
            values.append(.text(device))
        }
        sql += " ORDER BY issued_at DESC, counter DESC LIMIT ?"
        values.append(.integer(Int64(limit)))
        return try rows(sql, values) { s in
            HeadEndCommandRecord(device: s.text(0), commandID: s.text(1), verb: s.text(2), keyID: KeyID(hex: s.text(3)) ?? KeyID(publicKey: []),
                              counter: s.int64(4), arguments: s.text(5), issuedAt: Timestamp(milliseconds: s.int64(6)),
                              expiresAt: Timestamp(milliseconds: s.int64(7)),
                              reply: s.optionalText(8).map { status in
                                  HeadEndCommandRecord.Reply(status: status, code: s.text(9), message: s.text(10),
                                                          received: Timestamp(milliseconds: s.int64(11)))
                              })
        }
    }
}
