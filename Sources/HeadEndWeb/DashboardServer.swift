import ConcentratorCore
import HeadEnd
import HTTPTypes
import Hummingbird
import Logging
import Platform

/// Where the dashboard listens and how its sessions behave (`headend run --web HOST:PORT`).
public struct DashboardSettings: Sendable {
    public var host: String
    public var port: Int
    /// Marks cookies `Secure`; set it when a TLS proxy serves the dashboard (browsers drop such cookies on plain http).
    public var secureCookies = false
    public var idleTimeoutSeconds: Int64 = 1800
    public var absoluteTimeoutSeconds: Int64 = 12 * 3600
    /// Alarm events newer than this count on the fleet page.
    public var alarmWindowSeconds: Int64 = 86_400

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT` (an IPv4 address or a name, then 1–65535).
    public static func parse(_ text: String) throws(HeadEndWebError) -> DashboardSettings {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65_535).contains(port),
              colon != text.startIndex else {
            throw .invalidAddress("--web \(text): expected HOST:PORT, for example 127.0.0.1:8080")
        }
        return DashboardSettings(host: String(text[..<colon]), port: port)
    }
}

/// The operator's web dashboard (Hummingbird 2): fleet and device pages, CSV/JSON downloads, the
/// `ping`/`status` command form, login and logout, and `/metrics`. No script and nothing from outside:
/// charts are SVG rendered here, the one stylesheet is served from `/static`. Every response carries
/// the security headers of `securityHeaders`. Docs/headend.md, "Dashboard".
public final class DashboardServer: Sendable {
    public let settings: DashboardSettings
    let model: any DashboardReadModel
    let accounts: any DashboardAccountStore
    let sessions: DashboardSessions
    let metrics: DashboardMetrics
    let commands: DashboardCommands?
    let clock: any WallClock
    let logger: Logger
    let gate: LoginGate
    let kdfWorker = SerialWorker(name: "dashboard-kdf")

    static let sessionCookie = "headend_session"
    static let loginCookie = "headend_login"

    public init(settings: DashboardSettings, model: any DashboardReadModel, accounts: any DashboardAccountStore, metrics: DashboardMetrics,
                commands: DashboardCommands?, clock: any WallClock = SystemClock(), logger: Logger) {
        self.settings = settings
        self.model = model
        self.accounts = accounts
        self.metrics = metrics
        self.commands = commands
        self.clock = clock
        self.logger = logger
        self.sessions = DashboardSessions(clock: clock, idleTimeoutSeconds: settings.idleTimeoutSeconds,
                                          absoluteTimeoutSeconds: settings.absoluteTimeoutSeconds)
        self.gate = LoginGate(clock: clock)
    }

    /// Serves until the calling task is cancelled.
    public func run() async throws {
        let router = Router()
        router.add(middleware: SecurityHeadersMiddleware())
        addRoutes(router)
        let logger = logger, settings = settings
        let app = Application(router: router, configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: nil),
                              onServerRunning: { _ in logger.notice("dashboard listening on http://\(settings.host):\(settings.port)/") },
                              logger: logger)
        try await app.runService(gracefulShutdownSignals: [])
        kdfWorker.stop()
    }

    // MARK: helpers shared by the routes

    func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    func download(_ bytes: [UInt8], type: String, filename: String) -> Response {
        var headers: HTTPFields = [.contentType: type]
        headers[.contentDisposition] = "attachment; filename=\"\(filename)\""
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    func redirect(_ location: String, cookies: [String] = []) -> Response {
        var headers: HTTPFields = [.location: location]
        for c in cookies { headers.append(HTTPField(name: .setCookie, value: c)) }
        return Response(status: .seeOther, headers: headers)
    }

    func cookie(_ name: String, _ value: String, maxAge: Int64?) -> String {
        var c = "\(name)=\(value); Path=/; HttpOnly; SameSite=Strict"
        if let maxAge { c += "; Max-Age=\(maxAge)" }
        if settings.secureCookies { c += "; Secure" }
        return c
    }

    /// The session of the request's cookie, if it is live and its account still exists with the same role
    /// (a removed or changed account loses its sessions at its next request).
    func session(_ request: Request) async -> (token: String, session: DashboardSession)? {
        guard let token = request.cookies[Self.sessionCookie]?.value, let s = sessions.session(for: token) else { return nil }
        guard let account = try? await accounts.account(s.user), account.role == s.role else {
            sessions.end(token)
            return nil
        }
        return (token, s)
    }

    /// A form post is accepted only with the session's CSRF token, and (when the browser sends one) an Origin of this server.
    func formPost(_ request: Request) async throws -> FormBody {
        var request = request
        let buffer = try await request.collectBody(upTo: 16_384)
        return FormBody(Array(buffer.readableBytesView))
    }

    func sameOrigin(_ request: Request) -> Bool {
        guard let origin = request.headers[.origin] else { return true }
        guard let host = request.head.authority else { return false }
        return origin == "http://\(host)" || origin == "https://\(host)"
    }

    func forbidden(_ why: String) -> Response {
        html(HTML.page(title: "Forbidden", user: nil, csrf: nil, body: "<h1>Forbidden</h1><p class=\"error\" id=\"forbidden\">\(HTML.escape(why))</p>"),
             status: .forbidden)
    }

    func failure(_ error: any Error) -> Response {
        logger.warning("dashboard request failed: \(error)")
        return html(HTML.page(title: "Error", user: nil, csrf: nil, body: "<h1>Error</h1><p class=\"error\">\(HTML.escape("\(error)"))</p>"),
                    status: .internalServerError)
    }

    /// Verifies a password on the KDF thread (scrypt takes ~128 MiB and a few hundred ms; one at a time).
    func verify(_ password: String, against hash: String) async -> Bool {
        (try? await kdfWorker.run { PasswordHasher.verify(password, against: hash) }) ?? false
    }
}

/// Where the dashboard finds accounts at login.
public protocol DashboardAccountStore: Sendable {
    /// The role and password hash of `user`, or nil when there is no such account.
    func account(_ user: String) async throws(HeadEndError) -> (role: DashboardRole, passwordHash: String)?
}

/// Security headers on every response: a CSP that allows nothing but this server's stylesheet and
/// forms (no script at all, no framing), no sniffing, no referrer to other sites, no caching of pages.
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    static var headers: [(HTTPField.Name, String)] {
        [(.contentSecurityPolicy, "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
         (HTTPField.Name("X-Frame-Options")!, "DENY"), (HTTPField.Name("X-Content-Type-Options")!, "nosniff"),
         (HTTPField.Name("Referrer-Policy")!, "same-origin"), (.cacheControl, "no-store"),
         (HTTPField.Name("Cross-Origin-Opener-Policy")!, "same-origin"), (HTTPField.Name("Cross-Origin-Resource-Policy")!, "same-origin"),
         (HTTPField.Name("Permissions-Policy")!, "camera=(), microphone=(), geolocation=()")]
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do { response = try await next(request, context) } catch let error as HTTPError {
            response = Response(status: error.status, headers: [.contentType: "text/plain; charset=utf-8"],
                                body: .init(byteBuffer: ByteBuffer(string: "\(error.status.code) \(error.status.reasonPhrase)\n")))
        }
        for (name, value) in Self.headers { response.headers[name] = value }
        return response
    }
}

/// Slows password guessing: after 5 failed logins for a name, that name is refused for 60 s.
final class LoginGate: Sendable {
    private let clock: any WallClock
    private let failures = Locked<[String: (count: Int, until: Int64)]>([:])

    init(clock: any WallClock) { self.clock = clock }

    func isLocked(_ user: String) -> Bool {
        let now = clock.now().milliseconds
        return failures.withLock { $0[user].map { $0.count >= 5 && $0.until > now } ?? false }
    }

    func failed(_ user: String) {
        let now = clock.now().milliseconds
        failures.withLock { all in
            var f = all[user] ?? (0, 0)
            if f.until <= now && f.count >= 5 { f.count = 0 }
            f.count += 1
            f.until = now + 60_000
            if all.count > 10_000 { all.removeAll() }
            all[user] = f
        }
    }

    func succeeded(_ user: String) { failures.withLock { _ = $0.removeValue(forKey: user) } }
}
