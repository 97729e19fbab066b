import ConcentratorCore
import HeadEnd
import HTTPTypes
import Hummingbird

/// The dashboard's routes. Every page but /login, /static and /metrics needs a live session; every
/// POST needs the session's CSRF token (the login form: the token of its own cookie) and a same-origin Origin.
extension DashboardServer {
    func addRoutes(_ router: Router<BasicRequestContext>) {
        router.get("/static/dashboard.css") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: HTML.stylesheet)))
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(bytes: self.metrics.render())))
        }
        router.get("/login") { request, _ in self.loginPage(request, error: nil) }
        router.post("/login") { request, _ in try await self.login(request) }
        router.post("/logout") { request, _ in try await self.logout(request) }
        router.get("/") { request, _ in await self.page(request) { s in try await self.fleetPage(s) } }
        router.get("/fleet.csv") { request, _ in
            await self.page(request) { _ in
                let rows = try await self.model.fleet(alarmsSince: self.alarmsSince)
                return self.download(Array(DashboardPages.fleetCSV(rows).utf8), type: "text/csv; charset=utf-8", filename: "fleet.csv")
            }
        }
        router.get("/fleet.json") { request, _ in
            await self.page(request) { _ in
                let rows = try await self.model.fleet(alarmsSince: self.alarmsSince)
                return self.download(Array(DashboardPages.fleetJSON(rows).utf8), type: "application/json", filename: "fleet.json")
            }
        }
        router.get("/devices/:device") { request, context in
            let device = context.parameters.get("device") ?? ""
            return await self.page(request) { s in try await self.devicePage(device, request: request, session: s) }
        }
        for format in ExportFormat.allCases {
            router.get("/devices/:device/export.\(format.rawValue)") { request, context in
                let device = context.parameters.get("device") ?? ""
                return await self.page(request) { _ in try await self.export(device, format: format, request: request) }
            }
        }
        router.post("/devices/:device/commands") { request, context in
            try await self.sendCommand(context.parameters.get("device") ?? "", request: request)
        }
    }

    var alarmsSince: Timestamp { clock.now().adding(seconds: -settings.alarmWindowSeconds) }

    /// Runs `body` for a logged-in request; sends others to the login page.
    func page(_ request: Request, _ body: (DashboardSession) async throws -> Response) async -> Response {
        guard let (_, s) = await session(request) else { return redirect("/login") }
        do { return try await body(s) } catch { return failure(error) }
    }

    // MARK: login and logout

    func loginPage(_ request: Request, error: String?, status: HTTPResponse.Status = .ok) -> Response {
        let token = DashboardSessions.randomToken()
        var response = html(DashboardPages.login(csrf: token, error: error), status: status)
        response.headers.append(HTTPField(name: .setCookie, value: cookie(Self.loginCookie, token, maxAge: 3600)))
        return response
    }

    func login(_ request: Request) async throws -> Response {
        let form = try await formPost(request)
        guard sameOrigin(request) else { return forbidden("The login form came from another site (Origin \(request.headers[.origin] ?? "?")).") }
        guard let expected = request.cookies[Self.loginCookie]?.value, let submitted = form["csrf"], submitted.utf8.count == 64,
              submitted == expected else {
            return forbidden("The login form expired (its token does not match its cookie); reload the login page.")
        }
        let user = form["user"] ?? "", password = form["password"] ?? ""
        guard !gate.isLocked(user) else {
            return loginPage(request, error: "Too many failed logins for this user; wait a minute.", status: .tooManyRequests)
        }
        let account = try await accounts.account(user)
        // An unknown name costs the same KDF run as a wrong password.
        let matches = await verify(password, against: account?.passwordHash ?? PasswordHasher.decoy)
        guard let account, matches else {
            gate.failed(user)
            logger.notice("dashboard: failed login for \"\(user.prefix(64))\"")
            return loginPage(request, error: "Wrong user or password.", status: .unauthorized)
        }
        gate.succeeded(user)
        let (token, _) = sessions.create(user: user, role: account.role)
        logger.info("dashboard: \(user) logged in (\(account.role.rawValue))")
        return redirect("/", cookies: [cookie(Self.sessionCookie, token, maxAge: settings.absoluteTimeoutSeconds),
                                       cookie(Self.loginCookie, "", maxAge: 0)])
    }

    func logout(_ request: Request) async throws -> Response {
        let form = try await formPost(request)
        guard let (token, s) = await session(request) else { return redirect("/login") }
        guard sameOrigin(request), DashboardSessions.csrfMatches(s, form["csrf"]) else { return forbidden("Missing or wrong form token.") }
        sessions.end(token)
        return redirect("/login", cookies: [cookie(Self.sessionCookie, "", maxAge: 0)])
    }

    // MARK: pages

    func fleetPage(_ s: DashboardSession) async throws -> Response {
        let rows = try await model.fleet(alarmsSince: alarmsSince)
        return html(DashboardPages.fleet(rows, now: clock.now(), session: s))
    }

    /// The chart selection from the query: series, quantity, from, to (ISO 8601; default the last 7 days), resolution 900 or 3600.
    func selection(_ request: Request, quantities: [QuantityID]) -> ChartSelection {
        let q = request.uri.queryParameters
        let now = clock.now()
        let to = q["to"].flatMap { ISO8601.parse(String($0)) } ?? Timestamp(milliseconds: (now.milliseconds / 3_600_000 + 1) * 3_600_000)
        var from = q["from"].flatMap { ISO8601.parse(String($0)) } ?? to.adding(seconds: -7 * 86_400)
        if from >= to { from = to.adding(seconds: -86_400) }
        // At most a year per chart.
        if to.milliseconds - from.milliseconds > 366 * 86_400_000 { from = to.adding(seconds: -366 * 86_400) }
        let series = q["series"].flatMap { SeriesKind(rawValue: String($0)) } ?? .interval
        let resolution: Int64 = q["resolution"] == "900" ? 900 : q["resolution"] == "3600" ? 3600 : (series == .profile ? 900 : 3600)
        let requested = q["quantity"].map { QuantityID(String($0)) }
        let quantity = requested.flatMap { quantities.contains($0) ? $0 : nil } ?? quantities.first
        return ChartSelection(series: series, quantity: quantity, from: from, to: to, resolutionSeconds: resolution)
    }

    func devicePage(_ device: String, request: Request, session s: DashboardSession) async throws -> Response {
        guard let detail = try await model.device(device, alarmsSince: alarmsSince) else {
            return html(HTML.page(title: "Unknown device", user: s.user, csrf: s.csrfToken,
                                  body: "<h1>Unknown device</h1><p>\(HTML.escape(device)) is not known to this head-end.</p>"), status: .notFound)
        }
        let sel = selection(request, quantities: detail.quantities)
        var series: [MeterSeries] = []
        if let quantity = sel.quantity {
            series = try await model.series(SeriesQuery(device: device, series: sel.series, quantity: quantity, from: sel.from, to: sel.to))
        }
        let events = try await model.events(device: device, from: sel.from, to: sel.to.adding(seconds: 86_400 * 366), alarmsOnly: false, limit: 100)
        let alarms = try await model.events(device: device, from: sel.from, to: sel.to.adding(seconds: 86_400 * 366), alarmsOnly: true, limit: 100)
        let audit = try await model.commandAudit(device: device, limit: 50)
        let notice = request.uri.queryParameters["sent"].map { "Command \($0) sent; its outcome is in the table below." }
        let data = DevicePageData(detail: detail, selection: sel, series: series, events: events, alarms: alarms, audit: audit)
        return html(DashboardPages.device(data, now: clock.now(), session: s, notice: notice))
    }

    func export(_ device: String, format: ExportFormat, request: Request) async throws -> Response {
        let sel = selection(request, quantities: [])
        let bytes = try await model.export(HeadEndExportRequest(device: device, from: sel.from, to: sel.to, series: sel.series, format: format))
        let name = "\(device)-\(sel.series.rawValue).\(format.rawValue)"
        return download(bytes, type: format == .csv ? "text/csv; charset=utf-8" : "application/json", filename: name)
    }

    // MARK: commands

    func sendCommand(_ device: String, request: Request) async throws -> Response {
        let form = try await formPost(request)
        guard let (_, s) = await session(request) else { return redirect("/login") }
        guard sameOrigin(request), DashboardSessions.csrfMatches(s, form["csrf"]) else { return forbidden("Missing or wrong form token.") }
        guard s.role.maySendCommands else { return forbidden("Sending commands needs the operator or admin role.") }
        guard let verb = form["verb"], DashboardPages.pageVerbs.contains(verb) else { return forbidden("The dashboard sends only \(DashboardPages.pageVerbs).") }
        guard let commands else { return forbidden("This head-end has no command key (keys.command in its configuration).") }
        let entry = await commands.send(verb: verb, to: device, user: s.user)
        logger.info("dashboard: \(s.user) sent \(verb) to \(device): \(entry.status) \(entry.code)")
        return redirect("/devices/\(HTML.urlComponent(device))?sent=\(HTML.urlComponent(entry.commandID))")
    }
}
