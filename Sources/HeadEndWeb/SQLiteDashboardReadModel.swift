import ConcentratorCore
import HeadEnd
import Platform
import SQLite

/// Turns errors of the SQLite helpers (which throw untyped) into `HeadEndError`s.
enum DashboardFailure {
    static func wrap(_ error: any Error) -> HeadEndError {
        switch error {
        case let e as HeadEndError: return e
        case let e as SQLiteError: return .database(e)
        default: return .other("\(error)")
        }
    }
}

/// `DashboardReadModel` over the head-end's SQLite database (read-only, its own connection, so the
/// ingest path is never blocked by a page) and the dashboard's own database (`DashboardDatabase`, for
/// the command audit). Every query runs on one dedicated thread (`SerialWorker`), never on Swift's pool.
public final class SQLiteDashboardReadModel: DashboardReadModel, @unchecked Sendable {
    let worker = SerialWorker(name: "dashboard-db")
    private let headEndPath: String
    private let dashboard: DashboardDatabase
    /// Opened on the worker thread at the first query (the head-end may create its file after we start).
    private var headEnd: HeadEndDatabase?
    private var connection: SQLiteConnection?

    /// `dashboard` is used from this model's thread only from now on.
    public init(headEndDatabasePath: String, dashboard: DashboardDatabase) {
        self.headEndPath = headEndDatabasePath
        self.dashboard = dashboard
    }

    /// Closes both databases and ends the thread.
    public func close() {
        _ = try? worker.runBlocking {
            self.connection?.close()
            self.headEnd?.close()
            self.dashboard.close()
        }
        worker.stop()
    }

    private func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws(HeadEndError) -> T {
        do { return try await worker.run(body) } catch { throw DashboardFailure.wrap(error) }
    }

    /// The read-only connection (on the worker thread).
    private func db() throws -> SQLiteConnection {
        if let connection { return connection }
        guard FileSystem.exists(headEndPath) else {
            throw HeadEndError.invalidRequest("\(headEndPath) does not exist yet (the head-end creates it at its first start)")
        }
        let c = try SQLiteConnection(path: headEndPath, mode: .readOnly)
        c.setBusyTimeout(milliseconds: 10_000)
        connection = c
        return c
    }

    private func rows<T>(_ sql: String, _ values: [SQLiteValue] = [], _ map: (SQLiteStatement) throws -> T) throws -> [T] {
        try db().withStatement(sql) { s in
            try s.bind(values)
            var out: [T] = []
            while try s.step() { out.append(try map(s)) }
            return out
        }
    }

    static let alarmCondition = "(kind = \(GatewayEvent.Kind.meterAlarm.rawValue) OR severity >= \(GatewayEvent.Severity.error.rawValue))"

    // MARK: fleet

    public func fleet(alarmsSince: Timestamp) async throws(HeadEndError) -> [FleetRow] {
        try await onThread { try self.fleetRows(alarmsSince: alarmsSince, only: nil) }
    }

    /// One query per aggregate over all devices (or one), joined in memory: a fleet of 10,000 devices is a handful of scans.
    private func fleetRows(alarmsSince: Timestamp, only: Int64?) throws -> [FleetRow] {
        let filter = only.map { " WHERE device = \($0)" } ?? ""
        var batches: [Int64: (received: Int64, missing: Int)] = [:]
        for r in try rows("SELECT device, max(received), max(sequence) - min(sequence) + 1 - count(*) FROM batches\(filter) GROUP BY device", [], {
            ($0.int64(0), $0.int64(1), Int($0.int64(2)))
        }) { batches[r.0] = (r.1, r.2) }
        var status: [Int64: (received: Int64, state: String, pending: Int?)] = [:]
        for r in try rows("SELECT device, received, state, pending FROM device_status\(filter)", [], {
            ($0.int64(0), $0.int64(1), $0.text(2), $0.optionalInt64(3).map { Int($0) })
        }) { status[r.0] = (r.1, r.2, r.3) }
        var clock: [Int64: ClockQuality] = [:]
        // SQLite returns the bare column `kind` from the row holding max(time).
        let clockFilter = only.map { " AND device = \($0)" } ?? ""
        for r in try rows("""
            SELECT device, kind, max(time) FROM events WHERE kind IN (?, ?)\(clockFilter) GROUP BY device
            """, [.integer(Int64(GatewayEvent.Kind.clockSynchronised.rawValue)), .integer(Int64(GatewayEvent.Kind.clockUnsynchronised.rawValue))], {
            ($0.int64(0), $0.int64(1))
        }) { clock[r.0] = r.1 == Int64(GatewayEvent.Kind.clockSynchronised.rawValue) ? .synchronised : .unsynchronised }
        var alarms: [Int64: Int] = [:]
        for r in try rows("SELECT device, count(*) FROM events WHERE time >= ? AND \(Self.alarmCondition)\(clockFilter) GROUP BY device",
                          [.integer(alarmsSince.milliseconds)], { ($0.int64(0), Int($0.int64(1))) }) { alarms[r.0] = r.1 }
        var rejections: [Int64: Int] = [:]
        for r in try rows("SELECT device, sum(count) FROM rejections\(filter) GROUP BY device", [], { ($0.int64(0), Int($0.int64(1))) }) {
            rejections[r.0] = r.1
        }
        let deviceFilter = only.map { " WHERE id = \($0)" } ?? ""
        return try rows("SELECT id, name, registered FROM devices\(deviceFilter) ORDER BY name", [], { s in
            let id = s.int64(0)
            let b = batches[id], st = status[id]
            let lastSeen = [b?.received, st?.received].compactMap { $0 }.max().map(Timestamp.init(milliseconds:))
            return FleetRow(device: s.text(1), registered: s.int64(2) == 1, lastSeen: lastSeen, outboxDepth: st?.pending, state: st?.state,
                            clock: clock[id] ?? .unknown, missingSequences: b?.missing ?? 0, alarms: alarms[id] ?? 0,
                            rejections: rejections[id] ?? 0)
        })
    }

    // MARK: device

    private func deviceNumber(_ name: String) throws -> Int64? {
        try db().queryInt64("SELECT id FROM devices WHERE name = ?", [.text(name)])
    }

    public func device(_ device: String, alarmsSince: Timestamp) async throws(HeadEndError) -> DeviceDetail? {
        try await onThread { () throws -> DeviceDetail? in
            guard let id = try self.deviceNumber(device), let row = try self.fleetRows(alarmsSince: alarmsSince, only: id).first else { return nil }
            let meters = try self.rows("""
                SELECT m.name, (SELECT max(interval_start) FROM snapshots s WHERE s.device = m.device AND s.meter = m.id AND s.series = 0)
                FROM meters m WHERE m.device = ? ORDER BY m.name
                """, [.integer(id)], { MeterSummary(meter: MeterID($0.text(0)), lastInterval: $0.optionalInt64(1).map(Timestamp.init(milliseconds:))) })
            var quantities: [QuantityID] = []
            for text in try self.rows("SELECT quantities FROM layouts WHERE id IN (SELECT DISTINCT layout FROM snapshots WHERE device = ?) ORDER BY id",
                                      [.integer(id)], { $0.text(0) }) {
                for q in text.split(separator: ",").map({ QuantityID(String($0)) }) where !quantities.contains(q) { quantities.append(q) }
            }
            let gaps = try self.rows("""
                SELECT sequence, next FROM (SELECT sequence, lead(sequence) OVER (ORDER BY sequence) AS next FROM batches WHERE device = ?)
                WHERE next > sequence + 1 ORDER BY sequence LIMIT \(DeviceStatusReport.gapLimit)
                """, [.integer(id)], { UInt64(bitPattern: $0.int64(0) + 1)...UInt64(bitPattern: $0.int64(1) - 1) })
            var rejections: [String: Int] = [:]
            for r in try self.rows("SELECT reason, count FROM rejections WHERE device = ?", [.integer(id)], { ($0.text(0), Int($0.int64(1))) }) {
                rejections[r.0] = r.1
            }
            return DeviceDetail(row: row, meters: meters, quantities: quantities, gaps: gaps, rejections: rejections)
        }
    }

    // MARK: series

    public func series(_ query: SeriesQuery) async throws(HeadEndError) -> [MeterSeries] {
        try await onThread { () throws -> [MeterSeries] in
            guard let id = try self.deviceNumber(query.device) else { return [] }
            // Where the quantity sits in each layout that has it.
            var slot: [Int64: (index: Int, count: Int)] = [:]
            for (layout, text) in try self.rows("SELECT id, quantities FROM layouts", [], { ($0.int64(0), $0.text(1)) }) {
                let names = text.split(separator: ",")
                if let i = names.firstIndex(where: { $0 == query.quantity.rawValue }) { slot[layout] = (i, names.count) }
            }
            var out: [MeterSeries] = []
            try self.db().withStatement("""
                SELECT m.name, s.interval_start, s.layout, s.data FROM snapshots s JOIN meters m ON m.id = s.meter
                WHERE s.device = ? AND s.series = ? AND s.interval_start >= ? AND s.interval_start < ?
                ORDER BY m.name, s.interval_start
                """) { s in
                try s.bind([.integer(id), .integer(query.series == .interval ? 0 : 1), .integer(query.from.milliseconds), .integer(query.to.milliseconds)])
                while try s.step() {
                    guard let (index, count) = slot[s.int64(2)] else { continue }
                    let payload = try SnapshotCodec.decode(s.blob(3), valueCount: count)
                    guard case .value(let v) = payload.slots[index], v.isFinite else { continue }
                    let meter = MeterID(s.text(0))
                    if out.last?.meter != meter { out.append(MeterSeries(meter: meter, times: [], values: [])) }
                    out[out.count - 1].times.append(Timestamp(milliseconds: s.int64(1)))
                    out[out.count - 1].values.append(v)
                }
            }
            return out
        }
    }

    // MARK: events and audit

    public func events(device: String, from: Timestamp, to: Timestamp, alarmsOnly: Bool, limit: Int) async throws(HeadEndError) -> [GatewayEvent] {
        try await onThread { () throws -> [GatewayEvent] in
            guard let id = try self.deviceNumber(device) else { return [] }
            return try self.rows("""
                SELECT time, kind, severity, bus, meter, message FROM events WHERE device = ? AND time >= ? AND time < ?\(alarmsOnly ? " AND " + Self.alarmCondition : "")
                ORDER BY time DESC, sequence DESC, position DESC LIMIT ?
                """, [.integer(id), .integer(from.milliseconds), .integer(to.milliseconds), .integer(Int64(limit))], { s -> GatewayEvent in
                let kind = GatewayEvent.Kind(rawValue: UInt16(truncatingIfNeeded: s.int64(1)))
                let severity = GatewayEvent.Severity(rawValue: UInt8(truncatingIfNeeded: s.int64(2))) ?? .info
                let bus: BusName? = s.optionalText(3).map { BusName($0) }
                let meter: MeterID? = s.optionalText(4).map { MeterID($0) }
                return GatewayEvent(time: Timestamp(milliseconds: s.int64(0)), kind: kind, severity: severity, bus: bus, meter: meter,
                                    message: s.text(5))
            })
        }
    }

    public func commandAudit(device: String, limit: Int) async throws(HeadEndError) -> [CommandAuditEntry] {
        try await onThread { try self.dashboard.commandAudit(device: device, limit: limit) }
    }

    public func recordCommand(_ entry: CommandAuditEntry) async throws(HeadEndError) {
        try await onThread { try self.dashboard.recordCommand(entry) }
    }

    public func export(_ request: HeadEndExportRequest) async throws(HeadEndError) -> [UInt8] {
        let path = headEndPath
        return try await onThread { () throws -> [UInt8] in
            if self.headEnd == nil { self.headEnd = try HeadEndDatabase.openForReading(path: path) }
            var bytes: [UInt8] = []
            _ = try self.headEnd!.export(request) { bytes.append(contentsOf: $0) }
            return bytes
        }
    }
}

extension SQLiteDashboardReadModel: DashboardAccountStore {
    public func account(_ user: String) async throws(HeadEndError) -> (role: DashboardRole, passwordHash: String)? {
        try await dashboard.account(user, on: worker)
    }
}

extension SQLiteDashboardReadModel {
    /// How many accounts exist (blocking; for the start-up warning).
    @available(*, noasync)
    public func accountCount() throws -> Int { try worker.runBlocking { try self.dashboard.users().count } }
}
