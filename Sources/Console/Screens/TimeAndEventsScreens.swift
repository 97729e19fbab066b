#if canImport(Glibc)
import Glibc
#endif
import ConcentratorCore
import Platform

extension ConsoleSession {
    func timeScreen() throws(ConsoleStop) {
        ui.heading("Time and time zone")
        let now = services.clock.now()
        var lines = ["UTC         \(ISO8601.format(now))  (the archive and the wire use UTC)",
                     "local time  \(localTime(now))  zone \(currentTimeZone() ?? "unknown")"]
        lines.append(ClockSynchronisation.isSynchronised() ? "clock       synchronised (the kernel's NTP state)"
                     : "clock       NOT synchronised: readings are flagged until NTP syncs (check the network, timesyncd)")
        if case .success(let reply) = agent.call(ControlRequest(op: "status")), let status = reply.status {
            lines.append("agent clock \(ISO8601.format(status.now))")
        }
        lines.append("The time zone changes only what people see here; intervals are aligned in UTC.")
        try ui.show(lines)
        let action = try ui.ask("zone to set the time zone, or Enter to go back", default: "back",
                                help: ["zone: set the system time zone (an IANA name such as Europe/Rome)."]) { text in
            Parse.oneOf(text.lowercased(), ["zone", "back"], what: "the action")
        }
        guard action == "zone" else { return }
        let zone = try ui.ask("Time zone", default: currentTimeZone(), help: ["An IANA name such as Europe/Rome or UTC."]) { text in
            let valid = !text.isEmpty && !text.hasPrefix("/") && !text.split(separator: "/").contains("..")
                && FileSystem.exists(FileSystem.join("/usr/share/zoneinfo", text)) && !FileSystem.isDirectory(FileSystem.join("/usr/share/zoneinfo", text))
            return valid ? .success(text) : .failure(InputProblem("unknown time zone \"\(TextLayout.cut(text, to: 24))\"; "
                + "names are like Europe/Rome (see /usr/share/zoneinfo)"))
        }
        switch services.system.setTimeZone(zone) {
        case .success(let message): ui.good(message)
        case .failure(let problem): ui.problem("time zone not changed: \(problem)")
        }
    }

    /// `2026-11-21 11:00:00 CET` in the system's time zone.
    private func localTime(_ t: Timestamp) -> String {
        var seconds = time_t(t.seconds)
        var parts = tm()
        guard localtime_r(&seconds, &parts) != nil else { return "?" }
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S %Z", &parts)
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The zone name /etc/localtime points at (or TZ).
    private func currentTimeZone() -> String? {
        if let tz = ProfileLibrary.environment("TZ"), !tz.isEmpty { return tz.hasPrefix(":") ? String(tz.dropFirst()) : tz }
        var buffer = [CChar](repeating: 0, count: 512)
        let n = readlink("/etc/localtime", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        let target = String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let range = target.firstRange(of: "zoneinfo/") else { return target }
        return String(target[range.upperBound...])
    }

    func eventsScreen() throws(ConsoleStop) {
        ui.heading("Events, commands and log")
        let action = try ui.ask("events, alarms, schedules, commands or log", default: "events",
                                help: ["events: the newest events the agent recorded (meters offline, ports, alarms, switchings);",
                                       "alarms: the alarms that are pending, raised, acknowledged or cleared now;",
                                       "schedules: each switched output, its state now and next switching;",
                                       "commands: the newest commands from the head-end and their outcome (the audit);",
                                       "log: the newest lines of the agent's log (journal); back: the main menu."]) { text in
            Parse.oneOf(text.lowercased(), ["events", "alarms", "schedules", "commands", "log", "back"], what: "the choice")
        }
        switch action {
        case "alarms", "schedules":
            switch agent.call(ControlRequest(op: "monitoring")) {
            case .success(let reply):
                let report = reply.message.flatMap { try? JSONParser.parse($0) } ?? .null
                try ui.show(action == "alarms" ? MonitoringView.alarms(report) : MonitoringView.schedules(report))
                if action == "schedules" {
                    try scheduleOverride(outputs: report["schedules"]?["outputs"]?.arrayValue?.compactMap { $0["output"]?.stringValue } ?? [])
                }
            case .failure(let failure):
                ui.problem("no \(action): \(failure.message)")
            }
        case "events":
            switch agent.call(ControlRequest(op: "events", limit: 200)) {
            case .success(let reply):
                let events = reply.events ?? []
                try ui.show(EventsView.list(events) + ["\(events.count) events, newest last; a number shows one in full"])
                while !events.isEmpty {
                    let chosen = try ui.ask("Event number for details, or Enter to go back", default: "back",
                                            help: ["The number in the first column shows that event's whole message."]) { text -> Result<Int?, InputProblem> in
                        if text == "back" { return .success(nil) }
                        return Parse.integer(text, in: 1...events.count, what: "the event number").map { $0 }
                    }
                    guard let chosen else { break }
                    try ui.show(EventsView.detail(events[chosen - 1], number: chosen))
                }
            case .failure(let failure):
                ui.problem("no events: \(failure.message)")
            }
        case "commands":
            switch agent.call(ControlRequest(op: "audit", limit: 200)) {
            case .success(let reply):
                let records = reply.audit ?? []
                var lines = ["time                 verb        role      result       key"]
                lines += records.map { r in
                    TextLayout.row([(ISO8601.format(Timestamp(seconds: r.time.seconds)), 20, false), (r.verb, 11, false),
                                    (r.role, 9, false), (r.result, 12, false), (r.keyID, 0, false)])
                }
                lines.append("\(records.count) commands, newest first (concentrator audit export has them all)")
                try ui.show(lines)
            case .failure(let failure):
                ui.problem("no commands: \(failure.message)")
            }
        case "log":
            switch services.system.agentLog(lines: 200) {
            case .success(let lines): try ui.show(lines.flatMap { TextLayout.wrap($0, width: TextLayout.width, indent: 4) })
            case .failure(let problem): ui.problem("no log: \(problem)")
            }
        default: return
        }
    }

}

/// The events screen: a numbered list, one line per event (the message cut to fit, marked with
/// "..."), and a detail view with every field and the whole message wrapped. Pure.
public enum EventsView {
    public static func list(_ events: [GatewayEvent]) -> [String] {
        var lines = [TextLayout.row([("#", 3, true), ("time (UTC)", 14, false), ("kind", 18, false), ("sev", 4, false), ("message", 0, false)])]
        for (index, e) in events.enumerated() {
            let subject = (e.meter?.rawValue ?? e.bus?.rawValue).map { $0 + ": " } ?? ""
            lines.append(TextLayout.row([(String(index + 1), 3, true), (shortTime(e.time), 14, false), (e.kind.name, 18, false),
                                         (severity(e.severity), 4, false), (subject + e.message, 0, false)]))
        }
        return lines
    }

    public static func detail(_ e: GatewayEvent, number: Int) -> [String] {
        var lines = ["Event \(number): \(e.kind.name) (\(e.kind.rawValue)), \(severity(e.severity))",
                     "time     \(ISO8601.format(e.time))"]
        if let bus = e.bus { lines.append("bus      \(bus)") }
        if let meter = e.meter { lines.append("meter    \(meter)") }
        lines.append("message:")
        lines += TextLayout.wrap("  " + e.message, width: TextLayout.width, indent: 0)
        if e.kind == .meterAlarm || e.kind == .outputSwitched { lines += MonitoringView.fields(e.message) }
        return lines
    }

    /// `11-21 10:00:05`: month, day and time of day (the year is the current one in practice).
    static func shortTime(_ t: Timestamp) -> String {
        let full = ISO8601.format(Timestamp(seconds: t.seconds))
        let chars = Array(full)
        guard chars.count >= 19 else { return full }
        return String(chars[5..<10]) + " " + String(chars[11..<19])
    }

    static func severity(_ s: GatewayEvent.Severity) -> String {
        switch s {
        case .info: return "info"
        case .warning: return "warn"
        case .error: return "ERR"
        case .critical: return "CRIT"
        }
    }
}
