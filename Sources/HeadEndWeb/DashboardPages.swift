import ConcentratorCore
import HeadEnd

/// What the device page shows: the range, series, quantity and resolution of its chart.
public struct ChartSelection: Hashable, Sendable {
    public var series: SeriesKind
    public var quantity: QuantityID?
    public var from: Timestamp
    public var to: Timestamp
    /// 900 (15 minutes) or 3600 (hourly).
    public var resolutionSeconds: Int64

    public init(series: SeriesKind, quantity: QuantityID?, from: Timestamp, to: Timestamp, resolutionSeconds: Int64) {
        self.series = series
        self.quantity = quantity
        self.from = from
        self.to = to
        self.resolutionSeconds = resolutionSeconds
    }

    /// The query string that selects this again (for export links).
    public var query: String {
        var q = "series=\(series.rawValue)&from=\(HTML.urlComponent(ISO8601.format(from)))&to=\(HTML.urlComponent(ISO8601.format(to)))"
        q += "&resolution=\(resolutionSeconds)"
        if let quantity { q += "&quantity=\(HTML.urlComponent(quantity.rawValue))" }
        return q
    }
}

/// Everything the device page renders, read beforehand.
public struct DevicePageData: Sendable {
    public var detail: DeviceDetail
    public var selection: ChartSelection
    public var series: [MeterSeries]
    public var events: [GatewayEvent]
    public var alarms: [GatewayEvent]
    public var audit: [CommandAuditEntry]

    public init(detail: DeviceDetail, selection: ChartSelection, series: [MeterSeries], events: [GatewayEvent], alarms: [GatewayEvent],
                audit: [CommandAuditEntry]) {
        self.detail = detail
        self.selection = selection
        self.series = series
        self.events = events
        self.alarms = alarms
        self.audit = audit
    }
}

/// The dashboard's pages as HTML text: pure functions of the data read and the session (no I/O).
public enum DashboardPages {
    /// The verbs the device page offers (the read-only, harmless ones).
    public static let pageVerbs = ["ping", "status"]

    static func age(_ t: Timestamp?, now: Timestamp) -> String {
        guard let t else { return "never" }
        let s = max(0, (now.milliseconds - t.milliseconds) / 1000)
        if s < 120 { return "\(s) s ago" }
        if s < 7200 { return "\(s / 60) min ago" }
        if s < 172_800 { return "\(s / 3600) h ago" }
        return "\(s / 86_400) d ago"
    }

    public static func login(csrf: String, error: String?) -> String {
        var body = "<h1>Log in</h1>"
        if let error { body += "<p class=\"error\">\(HTML.escape(error))</p>" }
        body += """
            <form method="post" action="/login">\(HTML.hiddenCSRF(csrf))
            <p><label>User <input name="user" autocomplete="username" required></label></p>
            <p><label>Password <input name="password" type="password" autocomplete="current-password" required></label></p>
            <p><button type="submit" id="login">Log in</button></p></form>
            """
        return HTML.page(title: "Log in", user: nil, csrf: nil, body: body)
    }

    public static func fleet(_ rows: [FleetRow], now: Timestamp, session: DashboardSession) -> String {
        var body = "<h1>Fleet</h1><p id=\"fleet-count\">\(rows.count) devices · "
            + "<a href=\"/fleet.csv\" download>CSV</a> · <a href=\"/fleet.json\" download>JSON</a></p>"
        body += "<table id=\"fleet\"><thead><tr><th>Device</th><th>Last seen</th><th>State</th><th>Outbox</th><th>Clock</th>"
            + "<th>Missing sequences</th><th>Alarms (24 h)</th><th>Rejected</th></tr></thead><tbody>"
        body.reserveCapacity(rows.count * 420 + 1024)
        for r in rows {
            let name = HTML.escape(r.device)
            body += "<tr><td><a href=\"/devices/\(HTML.urlComponent(r.device))\">\(name)</a>\(r.registered ? "" : " (removed)")</td>"
            body += "<td>\(age(r.lastSeen, now: now))</td><td>\(HTML.escape(r.state ?? "-"))</td>"
            body += "<td class=\"num\">\(r.outboxDepth.map(String.init) ?? "-")</td>"
            body += "<td class=\"\(r.clock == .unsynchronised ? "bad" : "")\">\(r.clock.rawValue)</td>"
            body += "<td class=\"num\(r.missingSequences > 0 ? " bad" : "")\">\(r.missingSequences)</td>"
            body += "<td class=\"num\(r.alarms > 0 ? " bad" : "")\">\(r.alarms)</td><td class=\"num\">\(r.rejections)</td></tr>"
        }
        body += "</tbody></table>"
        return HTML.page(title: "Fleet", user: session.user, csrf: session.csrfToken, body: body)
    }

    public static func device(_ d: DevicePageData, now: Timestamp, session: DashboardSession, notice: String? = nil) -> String {
        let r = d.detail.row, name = HTML.escape(r.device), path = "/devices/" + HTML.urlComponent(r.device)
        var body = "<h1 id=\"device\">\(name)</h1>"
        if let notice { body += "<p class=\"notice\" id=\"notice\">\(HTML.escape(notice))</p>" }
        body += "<table id=\"summary\"><tr><th>Last seen</th><td>\(age(r.lastSeen, now: now))"
            + "\(r.lastSeen.map { " (" + ISO8601.format($0) + ")" } ?? "")</td></tr>"
        body += "<tr><th>State</th><td>\(HTML.escape(r.state ?? "-"))</td></tr><tr><th>Outbox</th><td>\(r.outboxDepth.map(String.init) ?? "-")</td></tr>"
        body += "<tr><th>Clock</th><td>\(r.clock.rawValue)</td></tr><tr><th>Missing sequences</th><td>\(r.missingSequences)"
        if !d.detail.gaps.isEmpty {
            body += " (" + d.detail.gaps.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)–\($0.upperBound)" }
                .joined(separator: ", ") + ")"
        }
        body += "</td></tr><tr><th>Rejected</th><td>"
            + (d.detail.rejections.isEmpty ? "0" : d.detail.rejections.keys.sorted().map { "\($0): \(d.detail.rejections[$0]!)" }.joined(separator: ", "))
            + "</td></tr></table>"

        body += "<h2>Meters</h2><table id=\"meters\"><tr><th>Meter</th><th>Newest interval</th></tr>"
        for m in d.detail.meters {
            body += "<tr><td>\(HTML.escape(m.meter.rawValue))</td><td>\(m.lastInterval.map(ISO8601.format) ?? "-")</td></tr>"
        }
        body += "</table>"

        body += chartSection(d, path: path)
        body += commandSection(d, path: path, session: session)
        body += eventTable("Alarms", id: "alarms", d.alarms)
        body += eventTable("Events", id: "events", d.events)
        return HTML.page(title: r.device, user: session.user, csrf: session.csrfToken, body: body)
    }

    static func chartSection(_ d: DevicePageData, path: String) -> String {
        let s = d.selection
        var body = "<h2>Values</h2><form method=\"get\" action=\"\(path)\" id=\"range\">"
        body += "<label>Series <select name=\"series\">"
        for k in SeriesKind.allCases {
            body += "<option value=\"\(k.rawValue)\"\(k == s.series ? " selected" : "")>\(k.rawValue)</option>"
        }
        body += "</select></label> <label>Quantity <select name=\"quantity\">"
        for q in d.detail.quantities {
            body += "<option\(q == s.quantity ? " selected" : "")>\(HTML.escape(q.rawValue))</option>"
        }
        body += "</select></label> <label>Resolution <select name=\"resolution\">"
        for (seconds, label) in [(Int64(900), "15 minutes"), (3600, "hourly")] {
            body += "<option value=\"\(seconds)\"\(seconds == s.resolutionSeconds ? " selected" : "")>\(label)</option>"
        }
        body += "</select></label> <label>From <input name=\"from\" value=\"\(ISO8601.format(s.from))\"></label>"
        body += " <label>To <input name=\"to\" value=\"\(ISO8601.format(s.to))\"></label> <button type=\"submit\">Show</button></form>"
        let title = "\(s.quantity?.rawValue ?? "no quantity"), \(s.series.rawValue) series, \(s.resolutionSeconds == 900 ? "15-minute" : "hourly")"
        body += "<h3 id=\"chart-title\">\(HTML.escape(title))</h3>"
        body += SVGChart(title: title, from: s.from, to: s.to, resolutionSeconds: s.resolutionSeconds).render(d.series)
        body += SVGChart.axis(series: d.series, from: s.from, to: s.to)
        body += "<p class=\"legend\">"
        for (i, m) in d.series.enumerated() {
            body += "<span><svg width=\"10\" height=\"10\"><rect width=\"10\" height=\"10\" fill=\"\(SVGChart.palette[i % SVGChart.palette.count])\"/></svg> "
                + "\(HTML.escape(m.meter.rawValue))</span>"
        }
        body += "</p><p>Download: <a id=\"export-csv\" href=\"\(path)/export.csv?\(HTML.escape(s.query))\" download>CSV</a> · "
            + "<a id=\"export-json\" href=\"\(path)/export.json?\(HTML.escape(s.query))\" download>JSON</a></p>"
        return body
    }

    static func commandSection(_ d: DevicePageData, path: String, session: DashboardSession) -> String {
        var body = "<h2>Commands</h2>"
        if session.role.maySendCommands {
            body += "<form method=\"post\" action=\"\(path)/commands\" id=\"command\">\(HTML.hiddenCSRF(session.csrfToken))"
            body += "<select name=\"verb\">" + pageVerbs.map { "<option>\($0)</option>" }.joined() + "</select> "
            body += "<button type=\"submit\" id=\"send\">Send</button></form>"
        } else {
            body += "<p>Sending commands needs the operator or admin role (you are \(session.role.rawValue)).</p>"
        }
        body += "<table id=\"audit\"><tr><th>Time</th><th>User</th><th>Verb</th><th>Id</th><th>Status</th><th>Code</th><th>Round trip</th>"
            + "<th>Reply</th></tr>"
        for a in d.audit {
            body += "<tr class=\"audit-\(HTML.escape(a.status))\"><td>\(ISO8601.format(a.time))</td><td>\(HTML.escape(a.user))</td>"
                + "<td>\(HTML.escape(a.verb))</td><td>\(HTML.escape(a.commandID))</td><td>\(HTML.escape(a.status))</td><td>\(HTML.escape(a.code))</td>"
                + "<td>\(a.roundTripMilliseconds.map { "\($0) ms" } ?? "-")</td><td><pre>\(HTML.escape(a.detail))</pre></td></tr>"
        }
        return body + "</table>"
    }

    static func eventTable(_ title: String, id: String, _ events: [GatewayEvent]) -> String {
        var body = "<h2>\(title)</h2><table id=\"\(id)\"><tr><th>Time</th><th>Kind</th><th>Severity</th><th>Bus</th><th>Meter</th><th>Message</th></tr>"
        for e in events {
            body += "<tr><td>\(ISO8601.format(e.time))</td><td>\(HTML.escape(e.kind.name))</td><td>\(e.severity)</td>"
                + "<td>\(HTML.escape(e.bus?.rawValue ?? ""))</td><td>\(HTML.escape(e.meter?.rawValue ?? ""))</td><td>\(HTML.escape(e.message))</td></tr>"
        }
        return body + "</table>"
    }

    /// The fleet as CSV: `device,registered,last_seen,state,outbox,clock,missing_sequences,alarms,rejections`.
    public static func fleetCSV(_ rows: [FleetRow]) -> String {
        var out = "device,registered,last_seen,state,outbox,clock,missing_sequences,alarms,rejections\n"
        for r in rows {
            out += "\(r.device),\(r.registered),\(r.lastSeen.map(ISO8601.format) ?? ""),\(r.state ?? ""),\(r.outboxDepth.map(String.init) ?? ""),"
                + "\(r.clock.rawValue),\(r.missingSequences),\(r.alarms),\(r.rejections)\n"
        }
        return out
    }

    public static func fleetJSON(_ rows: [FleetRow]) -> String {
        func int(_ n: Int) -> JSONValue { .number(Double(n), text: "\(n)") }
        return JSONWriter.render(.object([JSONMember(key: "devices", value: .array(rows.map { r in
            .object([
                JSONMember(key: "device", value: .string(r.device)), JSONMember(key: "registered", value: .bool(r.registered)),
                JSONMember(key: "lastSeen", value: r.lastSeen.map { .string(ISO8601.format($0)) } ?? .null),
                JSONMember(key: "state", value: r.state.map { .string($0) } ?? .null),
                JSONMember(key: "outbox", value: r.outboxDepth.map(int) ?? .null), JSONMember(key: "clock", value: .string(r.clock.rawValue)),
                JSONMember(key: "missingSequences", value: int(r.missingSequences)), JSONMember(key: "alarms", value: int(r.alarms)),
                JSONMember(key: "rejections", value: int(r.rejections)),
            ])
        }))]), pretty: true) + "\n"
    }
}
