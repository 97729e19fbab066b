import ConcentratorCore
@testable import HeadEnd
@testable import HeadEndWeb
import Platform
import Testing
import TestSupport

/// The dashboard's store-protocol read model (what a PostgreSQL head-end uses) shows what the SQLite
/// read model shows for the same stored data: the fleet rows (alarm window, clock, outbox, gaps,
/// rejections), a device's row and gaps, and its chart series.
@Suite("Dashboard read model over the store protocol", .timeLimit(.minutes(2)))
struct StoreDashboardReadModelTests {
    @Test("fleet rows, a device and its series equal the SQLite read model's")
    func sameAsSQLite() async throws {
        let dir = TemporaryDirectory("dashboard-store-model")
        let headEndPath = dir.file("headend.sqlite")
        try HeadEndDatabase.open(path: headEndPath).close()
        let now = SystemClock().now()
        let end = Timestamp(milliseconds: now.milliseconds / 3_600_000 * 3_600_000)
        try DashboardSampleData.fleet(path: headEndPath, count: 30, now: now)
        try DashboardSampleData.device(path: headEndPath, name: "dev-00001", meters: 3, days: 2, intervalSeconds: 3600, series: .interval, end: end)
        let sqlite = SQLiteDashboardReadModel(headEndDatabasePath: headEndPath, dashboard: try DashboardDatabase.open(path: dir.file("a.sqlite")))
        let worker = try await HeadEndStoreWorker(name: "test-store") { () throws(HeadEndError) -> any HeadEndStore in
            try HeadEndStores.openForReading(.sqlite(path: headEndPath))
        }
        let store = StoreDashboardReadModel(store: worker, dashboard: try DashboardDatabase.open(path: dir.file("b.sqlite")))
        let since = now.adding(seconds: -86_400)

        let expected = try await sqlite.fleet(alarmsSince: since)
        #expect(expected.count >= 30)
        #expect(expected.contains { $0.alarms > 0 } && expected.contains { $0.clock != .unknown }, "the sample has alarms and clock events")
        #expect(try await store.fleet(alarmsSince: since) == expected)

        let a = try #require(try await sqlite.device("dev-00001", alarmsSince: since))
        let b = try #require(try await store.device("dev-00001", alarmsSince: since))
        #expect(b.row == a.row && b.gaps == a.gaps && b.rejections == a.rejections)
        #expect(b.meters.map(\.meter) == a.meters.map(\.meter))
        #expect(try await store.device("nobody", alarmsSince: since) == nil)

        let quantity = try #require(a.quantities.first)
        let query = SeriesQuery(device: "dev-00001", series: .interval, quantity: quantity, from: end.adding(seconds: -2 * 86_400), to: end)
        let series = try await sqlite.series(query)
        #expect(!series.isEmpty && series.allSatisfy { !$0.values.isEmpty })
        #expect(try await store.series(query) == series)
        #expect(try await store.series(SeriesQuery(device: "nobody", series: .interval, quantity: quantity, from: query.from, to: query.to)).isEmpty)
        sqlite.close()
        await store.close()
    }
}
