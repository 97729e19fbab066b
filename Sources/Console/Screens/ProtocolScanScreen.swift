import ConcentratorCore
import Platform

extension ConsoleSession {
    /// The IEC 62056-21 or DLMS part of the scan screen: the addressed sign-on over the IEC device
    /// addresses, or SNRM/UA over the HDLC server addresses, with a progress bar, through the agent
    /// (the bus owner's protocol scan) or on the port directly; then the table and "add what was found".
    func protocolScan(bus: String, target: ScanTarget, route: ScanRoute, line: LineSettings) throws(ConsoleStop) {
        let kind = target.protocolKind
        let timeout = try ui.ask("Timeout per address, ms", default: String(target.defaultTimeoutMilliseconds),
                                 help: ["How long to wait for a meter's first answer before moving on (20-5000).",
                                        kind == .dlms ? "A DLMS server answers SNRM within a few hundred ms."
                                            : "IEC 62056-21 allows a meter up to 1500 ms to react to the sign-on."]) { text in
            Parse.integer(text, in: 20...5000, what: "the timeout")
        }
        let what = kind == .dlms ? "DLMS HDLC server addresses" : "IEC 62056-21 device addresses (addressed sign-on)"
        if case .agent = route {
            ui.say("Scanning \(target.count) \(what) through the agent. Ctrl-C stops.", .quiet)
        } else {
            ui.say("The agent is not running: scanning \(target.count) \(what) on the port directly. Ctrl-C stops.", .quiet)
        }
        let progress = ui.progress("scan")
        let outcome: Result<[ScanHit], ServiceProblem> = ui.terminal.runCancellable { cancellation in
            let report: @Sendable (ScanProgress) -> Void = { p in
                progress.update(done: p.done, total: p.total, note: "found \(p.found)" + (p.deviceAddress.map { "  at \($0)" } ?? ""))
            }
            if case .agent = route {
                var addresses: [Int]?, deviceAddresses: [String]?
                switch target {
                case .iec(let a): deviceAddresses = a
                case .dlms(let a), .modbus(let a): addresses = a
                }
                let request = ControlRequest(op: "scan", bus: BusName(bus), timeoutMilliseconds: timeout, addresses: addresses,
                                             meterProtocol: kind, deviceAddresses: deviceAddresses)
                return agent.call(request, timeout: .seconds(3600), cancellation: cancellation) { reply in
                    if let p = reply.progress { report(p) }
                }.map { $0.scan ?? [] }.mapError { failure in
                    failure.code == "cancelled" ? ServiceProblem("cancelled") : ServiceProblem(failure.message)
                }
            }
            let result = services.directBus.scanProtocol(configText: working.text, bus: bus, target: target, timeoutMilliseconds: timeout,
                                                         cancellation: cancellation, progress: report)
            return cancellation.isCancelled ? .failure(ServiceProblem("cancelled")) : result
        }
        progress.finish()
        guard let hits = scanHits(outcome) else { return }
        let configured = ProtocolScanView.configured(working.meters, bus: bus, kind: kind)
        var lines = ["\(hits.filter { !$0.isGarbled }.count) \(kind.rawValue) meters answered on \(bus), \(target.text), "
            + "in \(ProgressText.clock(progress.elapsed))"]
        lines += ProtocolScanView.lines(hits, configured: configured, probed: target.count)
        try ui.show(lines)
        if hits.contains(where: \.isGarbled) {
            ui.warning("Garbled addresses answered with damaged frames (a wrong BCC or FCS): check the wiring and the line. "
                + "They are not offered for adding.")
        }
        try addProtocolMeters(ProtocolScanView.new(hits, configured: configured), bus: bus, kind: kind)
    }

    /// Adds the new meters an IEC or DLMS scan found, with their profile (asked when the scan could
    /// not tell it, as for every DLMS meter: SNRM/UA does not name the model).
    private func addProtocolMeters(_ new: [ScanHit], bus: String, kind: MeterProtocolKind) throws(ConsoleStop) {
        guard !new.isEmpty else {
            ui.say("Nothing new to add: every meter that answered is in the configuration.")
            return
        }
        let addresses = new.map(\.addressText)
        guard try ui.confirm("Add the \(new.count) new meters (\(TextLayout.cut(addresses.joined(separator: ","), to: 30)))?", default: true) else { return }
        let existingIDs = Set(working.meterIDs)
        let prefix = try ui.ask("Meter id prefix (id = prefix + address)", default: kind == .dlms ? "\(bus)-d" : "\(bus)-i",
                                help: ["Each new meter is called prefix + address, e.g. \(bus)-d\(addresses[0])."]) { text -> Result<String, InputProblem> in
            let ids = addresses.map { text + $0 }
            if let bad = ids.first(where: { !ConfigurationLoader.isIdentifier($0) }) {
                return .failure(InputProblem("\"\(TextLayout.cut(bad, to: 24))\" is not a valid meter id: \(ConfigurationLoader.identifierRule)"))
            }
            if let taken = ids.first(where: existingIDs.contains) {
                return .failure(InputProblem("meter id \(taken) is used already; choose another prefix"))
            }
            return .success(text)
        }
        var fallback: String?
        if new.contains(where: { $0.profile == nil }) {
            let ids = profiles.profiles.values.filter { $0.protocolKind == kind }.map(\.id).sorted()
            fallback = try ui.ask("Profile for the meters the scan could not name, or skip", default: "skip",
                                  help: ["Installed \(kind.rawValue) profiles: " + ids.joined(separator: ", ")]) { text in
                if text == "skip" { return .success(nil) }
                return ids.contains(text) ? .success(text) : .failure(InputProblem("unknown profile \"\(TextLayout.cut(text, to: 24))\"; ? lists them"))
            }
        }
        var candidate = working
        var added = 0
        for hit in new {
            guard let profile = hit.profile ?? fallback else { continue }
            let address: JSONValue = kind == .dlms ? .integer(Int(hit.addressText) ?? 0) : .string(hit.addressText)
            candidate.appendMeter(MeterEntry(id: prefix + hit.addressText, bus: bus, address: address, profile: profile).json()
                .setting("protocol", .string(kind.rawValue)))
            added += 1
        }
        guard added > 0 else { return }
        let newMeters = (candidate.meters.count - added)..<candidate.meters.count
        guard try adopt(candidate, refusal: "the found meters were not added:",
                        concerns: { path in newMeters.contains { path.hasPrefix("$.meters[\($0)]") } }) else { return }
        ui.good("Added \(added) \(kind.rawValue) meters to \(bus). " + notAppliedNote
            + (kind == .dlms ? " Meters with security need their keys: \(MenuItem.keys.reference)." : ""))
    }
}
