#if canImport(Glibc)
import Glibc
#endif
import ConcentratorCore
import HeadEnd
import HeadEndWeb
import Platform

// dashboard-bench: the web dashboard's two heavy pages, without the network. Fills a head-end SQLite
// database in a temporary directory with a fleet of N devices (default 10,000) and one device with M meters
// (default 64) × D days (default 45) of hourly values, then times (best and median of R runs):
//   - the fleet page: the read model's fleet query plus the HTML rendering;
//   - the device chart: the series query (one quantity, every meter, the whole range) plus the SVG rendering,
//     and the whole device page around it.
// Prints one JSON object; never fails on timing.
//
//   dashboard-bench [--devices N] [--meters M] [--days D] [--runs R]

let arguments = Array(CommandLine.arguments.dropFirst())
func option(_ name: String, _ fallback: Int) -> Int {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count, let v = Int(arguments[i + 1]) else { return fallback }
    return v
}
let deviceCount = option("--devices", 10_000)
let meterCount = option("--meters", 64)
let days = option("--days", 45)
let runs = max(1, option("--runs", 5))

var template = Array("/tmp/dashboard-bench-XXXXXX".utf8CString)
guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else { fatalError("mkdtemp") }
let directory = String(cString: template)
let headEndPath = directory + "/headend.sqlite"
let now = Timestamp(seconds: 1_767_225_600 + 45 * 86_400)

/// Runs a read-model call from this (non-async) main thread.
func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    try waitForAsync { () async -> Result<T, any Error> in
        do { return .success(try await body()) } catch { return .failure(error) }
    }.get()
}

func milliseconds(_ d: Duration) -> Double { (d.inMilliseconds * 1000).rounded() / 1000 }
func timed(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    return milliseconds(ContinuousClock.now - start)
}

do {
    try HeadEndDatabase.open(path: headEndPath).close()
    let fillFleet = try timed { try DashboardSampleData.fleet(path: headEndPath, count: deviceCount, now: now) }
    let fillDevice = try timed {
        try DashboardSampleData.device(path: headEndPath, name: "chart-device", meters: meterCount, days: days, intervalSeconds: 3600,
                                       series: .interval, end: now)
    }
    let model = SQLiteDashboardReadModel(headEndDatabasePath: headEndPath, dashboard: try DashboardDatabase.open(path: directory + "/dashboard.sqlite"))
    let clock = ManualClock(now)
    let session = DashboardSessions(clock: clock).create(user: "bench", role: .operator).session
    let from = now.adding(seconds: -Int64(days) * 86_400)

    var fleetQuery: [Double] = [], fleetRender: [Double] = [], fleetBytes = 0
    var seriesQuery: [Double] = [], chartRender: [Double] = [], pageRender: [Double] = [], chartBytes = 0, pageBytes = 0, points = 0
    for _ in 0..<runs {
        var rows: [FleetRow] = []
        fleetQuery.append(try timed { rows = try blocking { try await model.fleet(alarmsSince: now.adding(seconds: -86_400)) } })
        fleetRender.append(timed { fleetBytes = DashboardPages.fleet(rows, now: now, session: session).utf8.count })

        var series: [MeterSeries] = []
        let query = SeriesQuery(device: "chart-device", series: .interval, quantity: "active_power", from: from, to: now)
        seriesQuery.append(try timed { series = try blocking { try await model.series(query) } })
        points = series.reduce(0) { $0 + $1.values.count }
        chartRender.append(timed {
            chartBytes = SVGChart(title: "active_power", from: from, to: now, resolutionSeconds: 3600).render(series).utf8.count
        })
        let detail = try blocking { try await model.device("chart-device", alarmsSince: from) }!
        let data = DevicePageData(detail: detail, selection: ChartSelection(series: .interval, quantity: "active_power", from: from, to: now,
                                                                            resolutionSeconds: 3600),
                                  series: series, events: [], alarms: [], audit: [])
        pageRender.append(timed { pageBytes = DashboardPages.device(data, now: now, session: session).utf8.count })
    }
    model.close()
    func stats(_ v: [Double]) -> String {
        let s = v.sorted()
        return "{\"best\": \(s[0]), \"median\": \(s[s.count / 2])}"
    }
    let fleetTotal = zip(fleetQuery, fleetRender).map { (($0 + $1) * 1000).rounded() / 1000 }
    let chartTotal = zip(seriesQuery, chartRender).map { (($0 + $1) * 1000).rounded() / 1000 }
    print("""
        {
          "benchmark": "dashboard",
          "runs": \(runs),
          "fleet": {"devices": \(deviceCount), "fill_ms": \(fillFleet), "query_ms": \(stats(fleetQuery)), "render_ms": \(stats(fleetRender)),
                    "total_ms": \(stats(fleetTotal)), "html_bytes": \(fleetBytes)},
          "device_chart": {"meters": \(meterCount), "days": \(days), "resolution_seconds": 3600, "points": \(points), "fill_ms": \(fillDevice),
                           "query_ms": \(stats(seriesQuery)), "svg_render_ms": \(stats(chartRender)), "total_ms": \(stats(chartTotal)),
                           "svg_bytes": \(chartBytes), "device_page_render_ms": \(stats(pageRender)), "device_page_bytes": \(pageBytes)}
        }
        """)
} catch {
    print("{\"error\": \"\(error)\"}")
    exit(1)
}
for name in ["headend.sqlite", "dashboard.sqlite"] { for suffix in ["", "-wal", "-shm"] { FileSystem.remove(directory + "/" + name + suffix) } }
_ = rmdir(directory)
