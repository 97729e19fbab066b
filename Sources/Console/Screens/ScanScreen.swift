import ConcentratorCore
import Platform

extension ConsoleSession {
    /// The line settings a bus entry of the working copy describes (defaults for what it leaves out).
    func lineSettings(of bus: JSONValue) -> LineSettings {
        let defaults = LineSettings()
        return LineSettings(baud: bus["baud"]?.intValue ?? defaults.baud, dataBits: bus["dataBits"]?.intValue ?? defaults.dataBits,
                            parity: bus["parity"]?.stringValue.flatMap(Parity.init(rawValue:)) ?? defaults.parity,
                            stopBits: bus["stopBits"]?.intValue ?? defaults.stopBits)
    }

    /// How a scan of `bus` can run now: through the agent (with the working copy's line settings
    /// when they differ from the applied ones), directly, or not at all (said plainly).
    enum ScanRoute {
        case agent(line: LineSettings?)
        case direct
        case refused(String)
    }

    func scanRoute(bus: String, running: Bool) -> ScanRoute {
        guard running else { return .direct }
        guard let current = working.bus(named: bus) else { return .refused("bus \(bus) is not in the working copy") }
        guard let runningBus = applied.bus(named: bus) else {
            return .refused("bus \(bus) is not applied yet: the running agent does not know it, so it cannot scan it. "
                + "Apply first (\(MenuItem.apply.reference)), then scan.")
        }
        let port = current["device"]?.stringValue ?? "?", runningPort = runningBus["device"]?.stringValue ?? "?"
        guard port == runningPort else {
            return .refused("the port of bus \(bus) changed in the working copy (\(runningPort) -> \(port)) and is not applied: "
                + "the agent owns \(runningPort) and cannot scan \(port). Apply first (\(MenuItem.apply.reference)), then scan.")
        }
        let line = lineSettings(of: current)
        return .agent(line: line == lineSettings(of: runningBus) ? nil : line)
    }

    func scanScreen() throws(ConsoleStop) {
        ui.heading("Scan a bus")
        guard let bus = try askBus() else { return }
        let viaAgent = agent.isRunning
        let route = scanRoute(bus: bus, running: viaAgent)
        if case .refused(let why) = route {
            ui.problem(why)
            return
        }
        let line = lineSettings(of: working.bus(named: bus) ?? .object([]))
        let limits = ConfigurationLoader.modbusAddressRange
        let addresses = try ui.ask("Addresses (a list such as 10-29,100-121)",
                                   default: lastScans[bus].map { AddressSelection.text($0.addresses) } ?? "1-247",
                                   help: ["Modbus addresses to probe: a range such as 1-247, one address, or a list",
                                          "of ranges such as 10-29,100-121,200-221 (only those are probed).",
                                          "IEC 62056-21 and DLMS addresses come with those protocols."]) { text in
            AddressSelection.list(text, within: limits)
        }
        let timeout = try ui.ask("Timeout per address, ms", default: "250",
                                 help: ["How long to wait for an answer before moving on (20-5000).",
                                        "Slow meters or long cables need more; every silent address costs this much."]) { text in
            Parse.integer(text, in: 20...5000, what: "the timeout")
        }
        switch route {
        case .agent(let override?):
            ui.say("Scanning through the agent with the working copy's line settings \(override.summary) (not applied yet: "
                + "the agent switches the line for this scan only). Ctrl-C stops.", .quiet)
        case .agent(nil):
            ui.say("Scanning through the agent at \(line.summary) (it stays the only master on the bus). Ctrl-C stops.", .quiet)
        default:
            ui.say("The agent is not running: scanning the port directly at \(line.summary). Ctrl-C stops.", .quiet)
        }
        let progress = ui.progress("scan")
        let outcome: Result<[ScanHit], ServiceProblem> = ui.terminal.runCancellable { cancellation in
            if case .agent(let override) = route {
                let request = ControlRequest(op: "scan", bus: BusName(bus), timeoutMilliseconds: timeout, addresses: addresses,
                                             line: override.map(ControlLineSettings.init))
                return agent.call(request, timeout: .seconds(3600), cancellation: cancellation) { reply in
                    if let p = reply.progress { progress.update(done: p.done, total: p.total, note: "found \(p.found)") }
                }.map { $0.scan ?? [] }.mapError { failure in
                    switch failure.code {
                    case "cancelled": return ServiceProblem("cancelled")
                    case "unknown-bus": return ServiceProblem("bus \(bus) is not in the running configuration: apply it first "
                        + "(\(MenuItem.apply.reference)), or stop the agent to scan directly")
                    default: return ServiceProblem(failure.message)
                    }
                }
            }
            let result = services.directBus.scan(configText: working.text, bus: bus, addresses: addresses, timeoutMilliseconds: timeout,
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
            ui.problem("scan failed, nothing was learned: \(problem)")
            return
        }
        let record = ScanRecord(bus: bus, addresses: addresses, hits: hits, line: line.summary, time: services.clock.now())
        lastScans[bus] = record
        let rows = ScanComparison.rows(record, configured: configuredMeters(onBus: bus))
        var lines = ["\(hits.filter { !$0.isGarbled }.count) answered on \(bus) at \(line.summary), addresses "
            + "\(AddressSelection.text(addresses)), in \(ProgressText.clock(progress.elapsed))"]
        lines += ScanComparison.render(rows)
        lines.append(ScanComparison.summary(rows, probed: addresses.count))
        try ui.show(lines)
        if rows.contains(where: { $0.finding == .garbled }) {
            ui.warning("Garbled addresses have a device that answers with damaged frames: check the wiring (A/B), the "
                + "termination and the line settings. They are not offered for adding.")
        }
        try addFound(hits.filter { !$0.isGarbled && configuredMeters(onBus: bus)[Int($0.address)] == nil }, bus: bus)
    }

    /// The working copy's meters on `bus` by address, with their profiles.
    func configuredMeters(onBus bus: String) -> [Int: ScanComparison.Configured] {
        var result: [Int: ScanComparison.Configured] = [:]
        for m in working.meters where m["bus"]?.stringValue == bus {
            if let a = m["address"]?.intValue {
                result[a] = ScanComparison.Configured(id: m["id"]?.stringValue ?? "?", profile: m["profile"]?.stringValue ?? "?")
            }
        }
        return result
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
                                       "a list such as 1-40,45 adds those addresses; none adds nothing.",
                                       "New here: " + AddressSelection.text(offered)]) { text in
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
                ui.say("Address \(address) answered but no profile recognised it (\(hit.verdict ?? hit.detail)).")
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
