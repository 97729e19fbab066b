import ConcentratorCore
import Platform

extension ConsoleSession {
    func scanScreen() throws(ConsoleStop) {
        ui.heading("Scan a bus")
        guard let bus = try askBus() else { return }
        let range = try ui.ask("Addresses", default: "1-247",
                               help: ["Modbus addresses to probe: a range such as 1-247 or one address.",
                                      "IEC 62056-21 and DLMS addresses come with those protocols."]) { text in
            AddressSelection.range(text, within: ConfigurationLoader.modbusAddressRange)
        }
        let timeout = try ui.ask("Timeout per address, ms", default: "250",
                                 help: ["How long to wait for an answer before moving on (20-5000).",
                                        "Slow meters or long cables need more; every silent address costs this much."]) { text in
            Parse.integer(text, in: 20...5000, what: "the timeout")
        }
        let viaAgent = agent.isRunning
        ui.say(viaAgent ? "Scanning through the agent (it stays the only master on the bus). Ctrl-C stops."
                        : "The agent is not running: scanning the port directly. Ctrl-C stops.", .quiet)
        let progress = ui.progress("scan")
        let request = ControlRequest(op: "scan", bus: BusName(bus), from: range.lowerBound, to: range.upperBound,
                                     timeoutMilliseconds: timeout)
        let outcome: Result<[ScanHit], ServiceProblem> = ui.terminal.runCancellable { cancellation in
            if viaAgent {
                return agent.call(request, timeout: .seconds(3600), cancellation: cancellation) { reply in
                    if let p = reply.progress { progress.update(done: p.done, total: p.total, note: "found \(p.found)") }
                }.map { $0.scan ?? [] }.mapError { failure in
                    switch failure.code {
                    case "cancelled": return ServiceProblem("cancelled")
                    case "unknown-bus": return ServiceProblem("bus \(bus) is not in the running configuration: apply it first "
                        + "(menu 12), or stop the agent to scan directly")
                    default: return ServiceProblem(failure.message)
                    }
                }
            }
            let result = services.directBus.scan(configText: working.text, bus: bus, addresses: range, timeoutMilliseconds: timeout,
                                                 cancellation: cancellation) { p in
                progress.update(done: p.done, total: p.total, note: "found \(p.found)")
            }
            return cancellation.isCancelled ? .failure(ServiceProblem("cancelled")) : result
        }
        progress.finish()
        let hits: [ScanHit]
        switch outcome {
        case .success(let h): hits = h
        case .failure(let problem) where problem.description == "cancelled":
            ui.warning("Scan stopped; nothing was added.")
            return
        case .failure(let problem):
            ui.problem("scan failed: \(problem)")
            return
        }
        let configured = working.meterAddresses(onBus: bus)
        var lines = ["\(hits.count) meters answered on \(bus) (addresses \(range.lowerBound)-\(range.upperBound)) in "
            + ProgressText.clock(progress.elapsed)]
        lines.append(TextLayout.row([("addr", 4, true), ("profile", 20, false), ("in configuration", 18, false), ("answer", 0, false)]))
        for hit in hits {
            lines.append(TextLayout.row([(String(hit.address), 4, true), (hit.profile ?? "(not recognised)", 20, false),
                                         (configured[Int(hit.address)] ?? "new", 18, false), (hit.detail, 0, false)]))
        }
        try ui.show(lines)
        try addFound(hits.filter { configured[Int($0.address)] == nil }, bus: bus)
    }

    /// "Add what was found": the chosen new addresses with the best-fitting profile.
    private func addFound(_ new: [ScanHit], bus: String) throws(ConsoleStop) {
        guard !new.isEmpty else {
            ui.say("Nothing new to add: every meter that answered is in the configuration.")
            return
        }
        let offered = new.map { Int($0.address) }
        let chosen = try ui.ask("Add which? all, none, or a list like 1-40,45", default: "all",
                                help: ["all adds every new meter with the profile the scan recognised;",
                                       "a list such as 1-40,45 adds those addresses; none adds nothing."]) { text in
            AddressSelection.parse(text, offered: offered)
        }
        guard !chosen.isEmpty else { return }
        let existingIDs = Set(working.meterIDs)
        let prefix = try ui.ask("Meter id prefix (id = prefix + address)", default: "\(bus)-m",
                                help: ["Each new meter is called prefix + address, e.g. \(bus)-m17."]) { text -> Result<String, InputProblem> in
            let ids = chosen.map { text + String($0) }
            if let bad = ids.first(where: { !ConfigurationLoader.isIdentifier($0) }) {
                return .failure(InputProblem("\"\(TextLayout.cut(bad, to: 24))\" is not a valid meter id: \(ConfigurationLoader.identifierRule)"))
            }
            if let taken = ids.first(where: existingIDs.contains) {
                return .failure(InputProblem("meter id \(taken) is used already; choose another prefix"))
            }
            return .success(text)
        }
        var candidate = working
        var added = 0
        for address in chosen {
            guard let hit = new.first(where: { Int($0.address) == address }) else { continue }
            var profile = hit.profile
            if profile == nil {
                ui.say("Address \(address) answered but no profile recognised it (\(hit.detail)).")
                let answer = try askProfileOrSkip()
                profile = answer
            }
            guard let profile else { continue }
            candidate.appendMeter(MeterEntry(id: prefix + String(address), bus: bus, address: .integer(address), profile: profile).json())
            added += 1
        }
        let newMeters = (candidate.meters.count - added)..<candidate.meters.count
        guard try adopt(candidate, refusal: "the found meters were not added:",
                        concerns: { path in newMeters.contains { path.hasPrefix("$.meters[\($0)]") } }) else { return }
        ui.good("Added \(added) meters to \(bus). " + notAppliedNote)
    }

    private func askProfileOrSkip() throws(ConsoleStop) -> String? {
        let library = profiles
        let ids = library.profiles.values.filter { $0.protocolKind == .modbus }.map(\.id).sorted()
        return try ui.ask("Profile for it, or skip", default: "skip", help: ["Installed: " + ids.joined(separator: ", ")]) { text in
            if text == "skip" { return .success(nil) }
            return ids.contains(text) ? .success(text) : .failure(InputProblem("unknown profile \"\(TextLayout.cut(text, to: 24))\"; ? lists them"))
        }
    }
}
