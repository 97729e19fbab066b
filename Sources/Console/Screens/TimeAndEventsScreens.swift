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
        try ui.show(lines.map { TextLayout.cut($0, to: TextLayout.width) })
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
        let action = try ui.ask("events, commands, log, or Enter to go back", default: "events",
                                help: ["events: the newest events the agent recorded (meters offline, ports, config applied);",
                                       "commands: the newest commands from the head-end and their outcome (the audit);",
                                       "log: the newest lines of the agent's log (journal)."]) { text in
            Parse.oneOf(text.lowercased(), ["events", "commands", "log", "back"], what: "the choice")
        }
        switch action {
        case "events":
            switch agent.call(ControlRequest(op: "events", limit: 200)) {
            case .success(let reply):
                let events = reply.events ?? []
                var lines = events.map { e in
                    TextLayout.row([(ISO8601.format(Timestamp(seconds: e.time.seconds)), 20, false), (e.kind.name, 16, false), (severity(e.severity), 4, false),
                                    (((e.meter?.rawValue ?? e.bus?.rawValue).map { $0 + ": " } ?? "") + e.message, 0, false)])
                }
                lines.append("\(events.count) events, newest last")
                try ui.show(lines)
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
            case .success(let lines): try ui.show(lines.map { TextLayout.cut($0, to: TextLayout.width) })
            case .failure(let problem): ui.problem("no log: \(problem)")
            }
        default: return
        }
    }

    private func severity(_ s: GatewayEvent.Severity) -> String {
        switch s {
        case .info: return "info"
        case .warning: return "warn"
        case .error: return "ERR"
        case .critical: return "CRIT"
        }
    }
}
