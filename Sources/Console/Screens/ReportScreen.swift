import ConcentratorCore
import FoundationEssentials
import Platform

/// The commissioning report as text: every line within 80 columns, nothing cut. Pure.
public enum ReportView {
    public static func lines(_ r: CommissioningReport) -> [String] {
        var out = ["Commissioning report  device \(r.device)",
                   "time       \(ISO8601.format(r.time))",
                   "installer  \(r.installer)"]
        if let note = r.note, !note.isEmpty { out.append("site       \(note)") }
        if let version = r.agentVersion { out.append("agent      \(version)") }
        out.append("keys")
        for key in r.keys {
            out.append("  \(key.role)  \(key.algorithm)  id \(key.id)")
            out.append("    \(key.fingerprint)")
        }
        out.append("uplink     \(r.uplinkResult)" + (r.uplinkDetail.map { ": \($0)" } ?? ""))
        out.append("buses")
        for bus in r.buses {
            out.append("  \(bus.name)  \(bus.line)  \(bus.configured) configured, \(bus.answered) answered  \(bus.device)")
        }
        out.append("meters" + (r.polledAt.map { " (poll now at \(ISO8601.format($0)))" } ?? " (not polled)"))
        if !r.meters.isEmpty {
            out += PollView.render(r.meters)
            out.append(PollView.summary(r.meters))
        }
        return out.flatMap { TextLayout.wrap($0, width: TextLayout.width, indent: 4) }
    }
}

extension ConsoleSession {
    /// Asks for the installer's name and a site note once per session (the enrolment request and
    /// the report carry them).
    func askInstaller() throws(ConsoleStop) -> (installer: String, note: String?) {
        if let installer { return (installer, siteNote) }
        let name = try ui.ask("Your name (installer)", help: ["Goes into the enrolment request and the commissioning report."]) { text in
            text.isEmpty || text.count > 64 ? .failure(InputProblem("a name of 1-64 characters is needed")) : .success(text)
        }
        let note = try ui.askOptionalText("Site note (address, cabinet)", current: nil, maxLength: 120,
                                          help: ["Where the gateway is, for the head-end operator (at most 120 characters)."])
        installer = name
        siteNote = note
        return (name, note)
    }

    func reportScreen() throws(ConsoleStop) {
        ui.heading("Commissioning report")
        if lastPoll == nil {
            ui.warning("No poll-now results in this session: the report lists each meter from them.")
            if try ui.confirm("Poll every meter now?", default: true) {
                try pollScreen()
            }
        }
        let (name, note) = try askInstaller()
        let report = buildReport(installer: name, note: note)
        try ui.show(ReportView.lines(report))
        let directory = FileSystem.join(working.stateDirectory, "commissioning")
        let saved: String
        switch save(report, in: directory) {
        case .success(let path): saved = path
        case .failure(let problem):
            ui.problem("the report was not saved: \(problem)")
            return
        }
        ui.good("Saved as \(saved) (and .json beside it).")
        guard agent.isRunning else {
            ui.warning("The agent is not running: the report was not sent to the head-end. Run report again once it runs.")
            return
        }
        switch agent.call(ControlRequest(op: "commissioning.report", report: report)) {
        case .success(let reply): ui.good("Sent: \(reply.message ?? "queued for the head-end").")
        case .failure(let failure): ui.problem("not sent to the head-end: \(failure.message)")
        }
    }

    func buildReport(installer: String, note: String?) -> CommissioningReport {
        var keys = (try? services.keys.deviceKeyList(stateDirectory: working.stateDirectory).get()) ?? []
        for path in applied.headEndKeyFiles {
            if case .success(let info) = services.keys.headEndKeyFile(path: path) {
                keys.append(ReportedKey(role: "head-end \(info.role)", algorithm: info.algorithm, id: info.id, fingerprint: info.fingerprint))
            }
        }
        let results = lastPoll?.results ?? []
        let status = (try? agent.call(ControlRequest(op: "status")).get())?.status
        let buses = applied.busNames.map { name -> ReportedBus in
            let bus = applied.bus(named: name) ?? .object([])
            let mine = results.filter { $0.bus.rawValue == name }
            return ReportedBus(name: name, device: bus["device"]?.stringValue ?? "?", line: lineSettings(of: bus).summary,
                               configured: applied.meters.filter { $0["bus"]?.stringValue == name }.count,
                               answered: mine.filter(\.answered).count)
        }
        return CommissioningReport(device: applied.deviceID ?? working.deviceID ?? "?", time: services.clock.now(), installer: installer,
                                   note: note, agentVersion: status?.version, keys: keys, buses: buses, meters: results,
                                   polledAt: lastPoll?.time, uplinkResult: lastUplinkTest?.result ?? "not run",
                                   uplinkDetail: lastUplinkTest?.detail)
    }

    /// Writes `<stem>.txt` and `<stem>.json` into `directory` (created 0700); returns the text file's path.
    private func save(_ report: CommissioningReport, in directory: String) -> Result<String, ServiceProblem> {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let json = try? encoder.encode(report) else { return .failure(ServiceProblem("the report could not be encoded")) }
        let text = ReportView.lines(report).joined(separator: "\n") + "\n"
        let stem = FileSystem.join(directory, report.fileStem)
        do throws(FileError) {
            try FileSystem.createDirectory(directory, mode: 0o700)
            try FileSystem.writeAtomically(Array(json) + [0x0A], to: stem + ".json", mode: 0o600)
            try FileSystem.writeAtomically(text, to: stem + ".txt", mode: 0o600)
        } catch {
            return .failure(ServiceProblem("\(error)"))
        }
        return .success(stem + ".txt")
    }
}
