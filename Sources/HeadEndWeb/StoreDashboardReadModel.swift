import ConcentratorCore
import HeadEnd
import Platform

/// `DashboardReadModel` over any `HeadEndStore` through its protocol (the PostgreSQL store of a fleet
/// of workers; it works over the SQLite store too): the store on its own thread (`HeadEndStoreWorker`,
/// its own connection, so pages never block ingest) and the dashboard's own database (accounts, the
/// command audit) on another. `SQLiteDashboardReadModel` stays the SQLite path (`headend run --web`
/// with a SQLite file); both show the same pages for the same stored data.
public final class StoreDashboardReadModel: DashboardReadModel, @unchecked Sendable {
    private let store: HeadEndStoreWorker
    private let dashboard: DashboardDatabase
    private let dashboardWorker = SerialWorker(name: "dashboard-db")

    /// `dashboard` is used from this model's thread only from now on.
    public init(store: HeadEndStoreWorker, dashboard: DashboardDatabase) {
        self.store = store
        self.dashboard = dashboard
    }

    /// Closes the store and the dashboard database and ends their threads.
    public func close() async {
        await store.close()
        _ = try? await dashboardWorker.run { self.dashboard.close() }
        dashboardWorker.stop()
    }

    private func onDashboard<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws(HeadEndError) -> T {
        do { return try await dashboardWorker.run(body) } catch { throw DashboardFailure.wrap(error) }
    }

    static func row(_ s: FleetDeviceSummary, _ events: DeviceEventSummary?) -> FleetRow {
        let clock: ClockQuality = events?.clockSynchronised.map { $0 ? .synchronised : .unsynchronised } ?? .unknown
        return FleetRow(device: s.device, registered: s.registered, lastSeen: s.lastSeen, outboxDepth: s.outboxDepth, state: s.reported?.state,
                        clock: clock, missingSequences: s.missingSequences, alarms: events?.alarms ?? 0,
                        rejections: s.rejections.values.reduce(0, +))
    }

    public func fleet(alarmsSince: Timestamp) async throws(HeadEndError) -> [FleetRow] {
        try await store.run { s throws(HeadEndError) in
            let events = try s.eventSummaries(alarmsSince: alarmsSince)
            return try s.fleetOverview().map { Self.row($0, events[$0.device]) }
        }
    }

    public func device(_ device: String, alarmsSince: Timestamp) async throws(HeadEndError) -> DeviceDetail? {
        try await store.run { s throws(HeadEndError) -> DeviceDetail? in
            guard let summary = try s.fleetOverview().first(where: { $0.device == device }) else { return nil }
            let row = Self.row(summary, try s.eventSummaries(alarmsSince: alarmsSince)[device])
            let stored = try s.meters(ofDevice: device)
            var quantities: [QuantityID] = []
            for meter in stored { for q in meter.quantities where !quantities.contains(q) { quantities.append(q) } }
            let meters = stored.map { MeterSummary(meter: $0.name, lastInterval: $0.series.contains(.interval) ? $0.lastInterval : nil) }
            let gaps = try s.sequenceGaps(device: device, limit: DeviceStatusReport.gapLimit).gaps
            return DeviceDetail(row: row, meters: meters, quantities: quantities, gaps: gaps, rejections: summary.rejections)
        }
    }

    public func series(_ query: SeriesQuery) async throws(HeadEndError) -> [MeterSeries] {
        try await store.run { s throws(HeadEndError) -> [MeterSeries] in
            guard try s.devices().contains(where: { $0.name == query.device }) else { return [] }
            var byMeter: [MeterID: MeterSeries] = [:]
            try s.forEachSnapshot(SnapshotQuery(device: query.device, series: query.series, from: query.from, to: query.to)) { snapshot in
                guard let v = snapshot.values.first(where: { $0.quantity == query.quantity })?.value, v.isFinite else { return }
                byMeter[snapshot.meter, default: MeterSeries(meter: snapshot.meter, times: [], values: [])].times.append(snapshot.intervalStart)
                byMeter[snapshot.meter]!.values.append(v)
            }
            return byMeter.values.sorted { $0.meter.rawValue < $1.meter.rawValue }
        }
    }

    public func events(device: String, from: Timestamp, to: Timestamp, alarmsOnly: Bool, limit: Int) async throws(HeadEndError) -> [GatewayEvent] {
        try await store.run { s throws(HeadEndError) -> [GatewayEvent] in
            // Alarms only: read them all in the range and keep the newest `limit` (alarms are few).
            let stored = try s.events(device: device, from: from, to: to, limit: alarmsOnly ? Int(Int32.max) : limit).map(\.event)
            return alarmsOnly ? Array(stored.filter(\.isAlarm).prefix(limit)) : stored
        }
    }

    public func commandAudit(device: String, limit: Int) async throws(HeadEndError) -> [CommandAuditEntry] {
        try await onDashboard { try self.dashboard.commandAudit(device: device, limit: limit) }
    }

    public func recordCommand(_ entry: CommandAuditEntry) async throws(HeadEndError) {
        try await onDashboard { try self.dashboard.recordCommand(entry) }
    }

    public func export(_ request: HeadEndExportRequest) async throws(HeadEndError) -> [UInt8] {
        try await store.run { s throws(HeadEndError) -> [UInt8] in
            var bytes: [UInt8] = []
            _ = try s.export(request) { bytes.append(contentsOf: $0) }
            return bytes
        }
    }
}

extension StoreDashboardReadModel: DashboardAccountStore {
    public func account(_ user: String) async throws(HeadEndError) -> (role: DashboardRole, passwordHash: String)? {
        try await dashboard.account(user, on: dashboardWorker)
    }

    /// How many accounts exist (blocking; for the start-up warning).
    @available(*, noasync)
    public func accountCount() throws -> Int { try dashboardWorker.runBlocking { try self.dashboard.users().count } }
}
