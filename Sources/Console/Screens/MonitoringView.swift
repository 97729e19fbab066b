import ConcentratorCore

/// The alarms and schedules of edge monitoring on the console (the events screen's `alarms` and
/// `schedules`), from the control socket's `monitoring` report; 80 columns. Pure.
public enum MonitoringView {
    /// One line per alarm that is not inactive: rule@meter, phase, value, limit, since.
    public static func alarms(_ report: JSONValue) -> [String] {
        let items = report["alarms"]?.arrayValue ?? []
        var lines = [TextLayout.row([("alarm (rule@meter)", 24, false), ("phase", 13, false), ("value", 10, true), ("limit", 10, true),
                                     ("since (UTC)", 0, false)])]
        for a in items {
            let key = (a["rule"]?.stringValue ?? "?") + "@" + (a["meter"]?.stringValue ?? "?")
            lines.append(TextLayout.row([(key, 24, false), (a["phase"]?.stringValue ?? "?", 13, false), (number(a["value"]), 10, true),
                                         (number(a["threshold"]), 10, true), (shortTime(a["since"]), 0, false)]))
        }
        let open = items.filter { ["raised", "acknowledged"].contains($0["phase"]?.stringValue ?? "") }.count
        lines.append("\(open) open, \(items.count - open) pending or cleared; the head-end acknowledges with alarm.ack")
        return lines
    }

    /// One line per output: state now, why, next switching (local time), last confirmed state.
    public static func schedules(_ report: JSONValue) -> [String] {
        guard let schedules = report["schedules"], schedules != .null else {
            return ["No switched outputs: monitoring.outputs and a location are needed (configuration.md)."]
        }
        var lines = ["time zone \(schedules["timeZone"]?.stringValue ?? "?"), now \(schedules["nowLocal"]?.stringValue ?? "?")",
                     TextLayout.row([("output", 16, false), ("meter", 12, false), ("now", 4, false), ("by", 9, false),
                                     ("next switching (local)", 26, false), ("relay", 0, false)])]
        for o in schedules["outputs"]?.arrayValue ?? [] {
            var next = o["nextChangeLocal"]?.stringValue ?? "-"
            if next.count > 19 { next = String(next.prefix(16).map { $0 == "T" ? " " : $0 }) + String(next.suffix(6)) }
            let confirmed = o["confirmed"]?.stringValue ?? "?"
            let failing = o["failureAlarmed"] == .bool(true) ? " FAILING" : ""
            lines.append(TextLayout.row([(o["output"]?.stringValue ?? "?", 16, false), (o["meter"]?.stringValue ?? "?", 12, false),
                                         (o["state"]?.stringValue ?? "-", 4, false), (o["source"]?.stringValue ?? "?", 9, false),
                                         (next, 26, false), (confirmed + failing, 0, false)]))
        }
        lines.append("schedule.set from the head-end changes them (overrides, timers, schedules)")
        return lines
    }

    /// The `key=value` fields of an alarm or switching event, one per line (for the detail view).
    public static func fields(_ message: String) -> [String] {
        var lines: [String] = []
        var rest = Substring(message)
        while let eq = rest.firstIndex(of: "=") {
            let key = String(rest[..<eq].drop { $0 == " " })
            let after = rest[rest.index(after: eq)...]
            // `detail` is the last field and may contain spaces.
            let end = key == "detail" ? after.endIndex : (after.firstIndex(of: " ") ?? after.endIndex)
            let value = String(after[..<end])
            lines += TextLayout.wrap("  " + key + String(repeating: " ", count: max(1, 11 - key.count)) + value,
                                     width: TextLayout.width, indent: 13)
            rest = after[end...]
        }
        return lines
    }

    private static func number(_ v: JSONValue?) -> String {
        if case .number(_, let text)? = v { return text }
        return "-"
    }

    private static func shortTime(_ v: JSONValue?) -> String {
        guard let text = v?.stringValue, let t = ISO8601.parse(text) else { return "-" }
        return EventsView.shortTime(t)
    }
}
