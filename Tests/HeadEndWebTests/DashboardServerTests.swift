import ConcentratorCore
import Foundation
import HeadEnd
import HeadEndWeb
import Logging
import Platform
import Testing
import TestSupport

/// The dashboard server in this process on a loopback port, over a head-end database with synthetic
/// rows: login, pages, downloads, CSRF refusals, roles, security headers, /metrics. (Sending a real
/// command to a real agent is the browser test in EndToEndTests.)
@Suite(.serialized, .timeLimit(.minutes(2)))
struct DashboardServerTests {
    final class Fixture: @unchecked Sendable {
        let dir = TemporaryDirectory("dashboard-server")
        let http: LoopbackHTTP
        let task: Task<Void, Never>
        let model: SQLiteDashboardReadModel
        let metrics = DashboardMetrics()

        init() async throws {
            let headEndPath = dir.file("headend.sqlite")
            try HeadEndDatabase.open(path: headEndPath).close()
            let now = SystemClock().now()
            try DashboardSampleData.fleet(path: headEndPath, count: 30, now: now)
            try DashboardSampleData.device(path: headEndPath, name: "dev-00001", meters: 3, days: 2, intervalSeconds: 3600, series: .interval,
                                           end: Timestamp(milliseconds: now.milliseconds / 3_600_000 * 3_600_000))
            let dashboard = try DashboardDatabase.open(path: dir.file("dashboard.sqlite"))
            let quick = PasswordHasher(logN: 10, blockSize: 8, parallelism: 1)
            for (name, role) in [("olga", DashboardRole.operator), ("rita", .reader)] {
                try dashboard.addUser(name: name, role: role, passwordHash: try quick.hash("\(name)-password-123"), at: now, replace: false)
            }
            model = SQLiteDashboardReadModel(headEndDatabasePath: headEndPath, dashboard: dashboard)
            let port = freeLoopbackPort()
            http = LoopbackHTTP(port: port)
            var logger = Logger(label: "dashboard-test")
            logger.logLevel = .warning
            let server = DashboardServer(settings: DashboardSettings(host: "127.0.0.1", port: Int(port)), model: model, accounts: model,
                                         metrics: metrics, commands: nil, logger: logger)
            task = Task { try? await server.run() }
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline {
                if (try? await http.get("/login"))?.status == 200 { return }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw HarnessError("the dashboard did not answer on port \(port)")
        }

        func stop() async {
            task.cancel()
            await task.value
            model.close()
        }

        /// Logs in through the form; returns the session cookie and the page's CSRF token.
        func login(_ user: String, password: String? = nil) async throws -> (cookie: String, csrf: String) {
            let page = try await http.get("/login")
            let nonce = try #require(page.cookie("headend_login"))
            let reply = try await http.post("/login", form: [("csrf", nonce), ("user", user), ("password", password ?? "\(user)-password-123")],
                                            cookies: ["headend_login": nonce])
            #expect(reply.status == 303 && reply.header("location") == "/", "\(reply)")
            let cookie = try #require(reply.cookie("headend_session"), "\(reply)")
            let fleet = try await http.get("/", cookies: ["headend_session": cookie])
            let csrf = try #require(fleet.body.firstMatch(of: /name="csrf" value="([0-9a-f]{64})"/)?.1)
            return (cookie, String(csrf))
        }
    }

    @Test func readingNeedsALoginAndTheHeadersAreSet() async throws {
        let f = try await Fixture()
        defer { Task { await f.stop() } }
        for path in ["/", "/devices/dev-00001", "/fleet.csv", "/devices/dev-00001/export.csv"] {
            let r = try await f.http.get(path)
            #expect(r.status == 303 && r.header("location") == "/login", "\(path): \(r)")
        }
        let login = try await f.http.get("/login")
        #expect(login.header("content-security-policy")?.contains("default-src 'none'") == true)
        #expect(login.header("content-security-policy")?.contains("frame-ancestors 'none'") == true)
        #expect(login.header("x-frame-options") == "DENY" && login.header("x-content-type-options") == "nosniff")
        #expect(login.header("referrer-policy") == "same-origin" && login.header("cache-control") == "no-store")
        #expect(login.cookie("headend_login")?.count == 64)
        #expect(login.headers("set-cookie").allSatisfy { $0.contains("HttpOnly") && $0.contains("SameSite=Strict") })
        #expect(!login.body.contains("<script"), "no script anywhere")
        // A forged session cookie is no session.
        #expect(try await f.http.get("/", cookies: ["headend_session": String(repeating: "a", count: 64)]).status == 303)
    }

    @Test func aLoginNeedsTheRightPasswordAndItsFormToken() async throws {
        let f = try await Fixture()
        defer { Task { await f.stop() } }
        let page = try await f.http.get("/login")
        let nonce = try #require(page.cookie("headend_login"))
        // Without the form's token (a cross-site post): refused before the password is looked at.
        let forged = try await f.http.post("/login", form: [("user", "olga"), ("password", "olga-password-123")])
        #expect(forged.status == 403 && forged.cookie("headend_session") == nil, "\(forged)")
        let otherToken = try await f.http.post("/login", form: [("csrf", String(repeating: "b", count: 64)), ("user", "olga"),
                                                                ("password", "olga-password-123")], cookies: ["headend_login": nonce])
        #expect(otherToken.status == 403)
        let wrongOrigin = try await f.http.post("/login", form: [("csrf", nonce), ("user", "olga"), ("password", "olga-password-123")],
                                                cookies: ["headend_login": nonce], origin: "http://evil.example")
        #expect(wrongOrigin.status == 403)
        let wrong = try await f.http.post("/login", form: [("csrf", nonce), ("user", "olga"), ("password", "nope-nope-nope")],
                                          cookies: ["headend_login": nonce])
        #expect(wrong.status == 401 && wrong.cookie("headend_session") == nil && wrong.body.contains("Wrong user or password"))
        let unknown = try await f.http.post("/login", form: [("csrf", nonce), ("user", "mallory"), ("password", "whatever-it-is")],
                                            cookies: ["headend_login": nonce])
        #expect(unknown.status == 401 && unknown.body.contains("Wrong user or password"), "the same answer for an unknown name")
        let session = try await f.login("olga")
        let fleet = try await f.http.get("/", cookies: ["headend_session": session.cookie])
        #expect(fleet.status == 200 && fleet.body.contains("30 devices") && fleet.body.contains("dev-00029"), "\(fleet)")
    }

    @Test func pagesAndDownloadsShowTheStoredData() async throws {
        let f = try await Fixture()
        defer { Task { await f.stop() } }
        let s = try await f.login("rita")
        let cookies = ["headend_session": s.cookie]
        let fleet = try await f.http.get("/", cookies: cookies)
        // dev-00000: gap (every 97th), unsynchronised clock (every 11th), one alarm (every 13th).
        let row = try #require(fleet.body.firstMatch(of: /<tr><td><a href="\/devices\/dev-00000">dev-00000<\/a><\/td>(.*?)<\/tr>/)?.1)
        #expect(row.contains("unsynchronised") && row.contains("<td class=\"num bad\">1</td>"), "\(row)")
        let device = try await f.http.get("/devices/dev-00001?resolution=3600", cookies: cookies)
        #expect(device.status == 200, "\(device)")
        #expect(device.body.contains("bus1-m1") && device.body.contains("bus1-m3"))
        let points = Int(device.body.firstMatch(of: /data-points="(\d+)"/)?.1 ?? "") ?? 0
        #expect(points >= 3 * 24 && points <= 3 * 49, "3 meters, hourly, up to 2 days in the 7-day window: \(points)")
        #expect(device.body.components(separatedBy: "<polyline").count == 4)
        #expect(device.body.contains("Sending commands needs the operator or admin role"), "a reader gets no command form")
        let quarter = try await f.http.get("/devices/dev-00001?quantity=active_energy_import&resolution=900", cookies: cookies)
        #expect(quarter.body.contains("active_energy_import, interval series, 15-minute"))
        let csv = try await f.http.get("/devices/dev-00001/export.csv", cookies: cookies)
        #expect(csv.status == 200 && csv.body.hasPrefix("interval_start,device,meter,quantity,value,unit,quality\n"), "\(csv)")
        #expect(csv.header("content-disposition")?.contains("attachment") == true)
        #expect(csv.body.contains(",dev-00001,bus1-m2,active_power,"))
        let json = try await f.http.get("/devices/dev-00001/export.json", cookies: cookies)
        let parsed = try JSONSerialization.jsonObject(with: Data(json.body.utf8)) as? [[String: Any]]
        #expect((parsed?.count ?? 0) >= 3 * 24, "\(json.body.prefix(300))")
        let fleetJSON = try await f.http.get("/fleet.json", cookies: cookies)
        let devices = (try JSONSerialization.jsonObject(with: Data(fleetJSON.body.utf8)) as? [String: Any])?["devices"] as? [[String: Any]]
        #expect(devices?.count == 30 && devices?.first?["missingSequences"] as? Int == 1)
        #expect(try await f.http.get("/devices/nope", cookies: cookies).status == 404)
    }

    @Test func commandsNeedTheRoleAndTheFormToken() async throws {
        let f = try await Fixture()
        defer { Task { await f.stop() } }
        let reader = try await f.login("rita")
        let refused = try await f.http.post("/devices/dev-00001/commands", form: [("csrf", reader.csrf), ("verb", "ping")],
                                            cookies: ["headend_session": reader.cookie])
        #expect(refused.status == 403 && refused.body.contains("operator or admin"), "\(refused)")
        let op = try await f.login("olga")
        let noToken = try await f.http.post("/devices/dev-00001/commands", form: [("verb", "ping")], cookies: ["headend_session": op.cookie])
        #expect(noToken.status == 403 && noToken.body.contains("form token"), "\(noToken)")
        let readersToken = try await f.http.post("/devices/dev-00001/commands", form: [("csrf", reader.csrf), ("verb", "ping")],
                                                 cookies: ["headend_session": op.cookie])
        #expect(readersToken.status == 403 && readersToken.body.contains("form token"))
        let badVerb = try await f.http.post("/devices/dev-00001/commands", form: [("csrf", op.csrf), ("verb", "restart")],
                                            cookies: ["headend_session": op.cookie])
        #expect(badVerb.status == 403 && badVerb.body.contains("sends only"))
        // Role and token right: this server has no command key, which is the next refusal.
        let noKey = try await f.http.post("/devices/dev-00001/commands", form: [("csrf", op.csrf), ("verb", "ping")],
                                          cookies: ["headend_session": op.cookie])
        #expect(noKey.status == 403 && noKey.body.contains("no command key"), "\(noKey)")
        // Logout needs the token too, then the session is gone.
        #expect(try await f.http.post("/logout", form: [], cookies: ["headend_session": op.cookie]).status == 403)
        let out = try await f.http.post("/logout", form: [("csrf", op.csrf)], cookies: ["headend_session": op.cookie])
        #expect(out.status == 303 && out.header("location") == "/login")
        #expect(try await f.http.get("/", cookies: ["headend_session": op.cookie]).status == 303)
    }

    @Test func metricsAreServedInPrometheusTextFormat() async throws {
        let f = try await Fixture()
        defer { Task { await f.stop() } }
        f.metrics.recordAckLatency(.milliseconds(7))
        let r = try await f.http.get("/metrics")
        #expect(r.status == 200 && r.header("content-type")?.hasPrefix("text/plain") == true)
        #expect(r.body.contains("# TYPE headend_messages_total counter"))
        #expect(r.body.contains("headend_messages_total{result=\"stored\"} 0"))
        #expect(r.body.contains("headend_ack_latency_seconds_count 1"), "\(r.body)")
        #expect(r.body.contains("# TYPE headend_devices_seen gauge"))
    }
}
