import ConcentratorCore
import Platform

/// The poll-now table: one row per meter with its status, value count, plausibility verdict,
/// response time and the reason of a failure, wrapped within 80 columns. Pure.
public enum PollView {
    public static func render(_ results: [MeterPollResult]) -> [String] {
        var lines = [TextLayout.row([("meter", 16, false), ("addr", 4, true), ("status", 9, false), ("values", 6, true),
                                     ("plausible", 9, false), ("ms", 5, true), ("reason", 0, false)])]
        for r in results {
            let plausible = r.values == 0 ? "-" : r.outside.isEmpty ? "all" : "\(r.values - r.outside.count) of \(r.values)"
            var reason = r.failure ?? ""
            if !r.outside.isEmpty {
                reason += (reason.isEmpty ? "" : "; ") + "outside: " + r.outside.map(\.rawValue).joined(separator: ", ")
            }
            lines += TextLayout.wrappedRow([(r.meter.rawValue, 16, false), (r.address, 4, true), (r.status, 9, false), (String(r.values), 6, true),
                                            (plausible, 9, false), (String(r.responseMilliseconds), 5, true), (reason, 0, false)])
        }
        return lines
    }

    /// "64 meters: 62 answered, 61 plausible; 2 NO ANSWER; slowest 250 ms".
    public static func summary(_ results: [MeterPollResult]) -> String {
        let answered = results.filter(\.answered).count
        let good = results.filter(\.isGood).count
        let silent = results.count - answered
        let slowest = results.filter(\.answered).map(\.responseMilliseconds).max()
        return "\(results.count) meters: \(answered) answered, \(good) with every value plausible"
            + (silent > 0 ? "; \(silent) NO ANSWER" : "") + (slowest.map { "; slowest \($0) ms" } ?? "")
    }

    /// Where the values went: archived as which interval and queued for the head-end, or sent
    /// again from the archive when the interval had them already.
    public static func archiveLine(_ results: [MeterPollResult]) -> String {
        guard let interval = results.first?.intervalStart else { return "" }
        let archived = results.filter(\.archived).count, resent = results.filter(\.resent).count
        var parts: [String] = []
        if archived > 0 { parts.append("\(archived) snapshots archived as interval \(ISO8601.format(interval))") }
        if resent > 0 { parts.append("\(resent) archived for it before, sent again") }
        guard !parts.isEmpty else { return "Nothing archived or sent: interval \(ISO8601.format(interval)) already holds these snapshots." }
        return parts.joined(separator: "; ") + "; queued for the head-end."
    }
}

extension ConsoleSession {
    func pollScreen() throws(ConsoleStop) {
        ui.heading("Poll now")
        guard agent.isRunning else {
            ui.problem("poll now needs the running agent: it reads through the bus owners, archives the values and sends them "
                + "to the head-end. Start the agent (systemctl start concentrator); \(MenuItem.read.reference) reads directly meanwhile.")
            return
        }
        let meterChanges = changes.filter { $0.path.hasPrefix("meters") || $0.path.hasPrefix("buses") }.count
        if meterChanges > 0 {
            ui.warning("\(meterChanges) bus or meter changes are not applied: the agent polls the configuration it runs. "
                + "\(MenuItem.apply.reference) first to poll them too.")
        }
        let selection = try ui.ask("Meters: ids, addresses such as 1-5,7, or all", default: "all", help: [
            "all polls every meter of the running configuration at once (every bus together);",
            "ids or addresses (1-5,7) poll those. The values are archived and sent like any snapshot.",
        ]) { text -> Result<[String]?, InputProblem> in
            text.lowercased() == "all" ? .success(nil) : parseMeterSelection(text).map { $0 }
        }
        ui.say("Polling through the agent (queued ahead of its schedule on each bus). Ctrl-C stops waiting.", .quiet)
        let progress = ui.progress("poll")
        let request = ControlRequest(op: "poll", timeoutMilliseconds: 60_000, meters: selection.map { $0.map { MeterID($0) } })
        let outcome = ui.terminal.runCancellable { cancellation in
            agent.call(request, timeout: .seconds(120), cancellation: cancellation) { reply in
                if let p = reply.progress { progress.update(done: p.done, total: p.total, note: "\(p.found) answered") }
            }
        }
        progress.finish()
        switch outcome {
        case .success(let reply):
            let results = reply.poll ?? []
            lastPoll = (results, services.clock.now())
            try ui.show(PollView.render(results) + [PollView.summary(results), PollView.archiveLine(results)])
            if results.contains(where: { !$0.isGood }) {
                ui.warning("Meters not ok: \(MenuItem.read.reference) reads one with every value; \(MenuItem.scan.reference) "
                    + "compares the bus with the configuration.")
            }
            ui.say("Next: \(MenuItem.uplink.reference) test, then \(MenuItem.report.reference).", .quiet)
        case .failure(let failure) where failure.code == "cancelled":
            ui.warning("Stopped waiting; the agent finishes the poll and archives it.")
        case .failure(let failure) where failure.code == "unknown-meter":
            ui.problem("\(failure.message): \(MenuItem.apply.reference) first")
        case .failure(let failure):
            ui.problem("poll failed: \(failure.message)")
        }
    }
}
