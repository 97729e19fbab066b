import ConcentratorCore
import Platform

extension ConsoleSession {
    /// Commissioning by listening: the wireless M-Bus meters the running agent's receivers hear that
    /// are not configured (from its status), and adopting one into the working copy with its
    /// profile and, for an encrypted meter, its key (staged for the apply, written 0600).
    func heardScreen() throws(ConsoleStop) {
        ui.heading("Heard wireless meters")
        guard agent.isRunning else {
            ui.problem("the agent is not running: only the running agent listens to the wireless receivers. "
                + "Configure a receiver bus, apply it (menu \(MenuItem.apply.number)), then come back.")
            return
        }
        let status: AgentStatus
        switch agent.call(ControlRequest(op: "status"), timeout: .seconds(10)) {
        case .success(let reply) where reply.status != nil: status = reply.status!
        case .success: ui.problem("the agent's answer had no status"); return
        case .failure(let failure): ui.problem("the agent's status could not be read: \(failure.message)"); return
        }
        let rows = HeardMeterAdoption.rows(status, configuredAddresses: HeardMeterAdoption.configuredAddresses(working.meters))
        guard !rows.isEmpty else {
            let receivers = status.buses.filter { $0.heard != nil }.count
            ui.say(receivers == 0 ? "No wireless receiver bus runs: nothing is listened to."
                : "No unconfigured meter heard yet on \(receivers) receiver bus(es). Meters send every few seconds to hours; look again later.")
            return
        }
        try ui.show(["\(rows.count) meters heard but not configured (strongest first):"]
            + HeardMeterAdoption.lines(rows, now: status.now))
        let choice = try ui.ask("Adopt which? an id from the list, or Enter to go back", default: "back",
                                help: ["Type the 8-digit id (or the 16-digit address) of the meter to add to the",
                                       "configuration. Adopt only meters of this site: a receiver hears the neighbours too."]) { text -> Result<HeardMeterAdoption.Row?, InputProblem> in
            text == "back" ? .success(nil) : HeardMeterAdoption.find(text, in: rows).map(Optional.some)
        }
        guard let row = choice else { return }
        try adoptHeard(row)
    }

    private func adoptHeard(_ row: HeardMeterAdoption.Row) throws(ConsoleStop) {
        let m = row.meter
        let existing = Set(working.meterIDs)
        let id = try ui.ask("Meter id", default: "\(row.bus)-w\(m.id)", help: ["The meter's name in the configuration and at the head-end."]) { text -> Result<String, InputProblem> in
            if !ConfigurationLoader.isIdentifier(text) { return .failure(InputProblem("not a valid meter id: \(ConfigurationLoader.identifierRule)")) }
            return existing.contains(text) ? .failure(InputProblem("meter id \(text) is used already")) : .success(text)
        }
        let library = Array(profiles.profiles.values)
        let ids = library.filter { $0.protocolKind == .wmbus }.map(\.id).sorted()
        let fitting = HeardMeterAdoption.fittingProfiles(m, in: library)
        let profile = try ui.ask("Profile (\(m.manufacturer) \(MBusMedium.name(m.medium)))", default: fitting.first,
                                 help: ["Fitting this meter's identification: " + (fitting.isEmpty ? "none" : fitting.joined(separator: ", ")),
                                        "Installed wireless M-Bus profiles: " + ids.joined(separator: ", ")]) { text in
            ids.contains(text) ? .success(text) : .failure(InputProblem("unknown profile \"\(TextLayout.cut(text, to: 24))\"; ? lists them"))
        }
        var key: [UInt8]?
        if HeardMeterAdoption.needsKey(m) {
            key = try ui.ask("Key: 32 hex + 8 check digits (not shown)", help: [
                "The meter sends with OMS security mode \(HeardMeterAdoption.security(m.securityMode)): its AES-128 key in hex",
                "followed by its CRC-32 (8 digits), from the supplier's key list. Typing shows * only.",
            ], secret: true, longAnswer: true) { text in
                KeyText.parse(text, keyLength: MeterKey.byteCount, what: "a meter key").mapError { InputProblem($0.description) }
            }
        }
        var candidate = working
        candidate.appendMeter(HeardMeterAdoption.entry(row, id: id, profile: profile))
        let index = candidate.meters.count - 1
        guard try adopt(candidate, refusal: "meter \(m.id) was not adopted:", concerns: { $0.hasPrefix("$.meters[\(index)]") }) else { return }
        if let key { stageMeterKey(meter: id, kind: "encryption", key: key) }
        ui.good("Adopted \(m.id) as \(id) on \(row.bus)" + (key == nil ? "" : "; its key goes to \(meterKeyPath(id)) (mode 0600)")
            + ". " + notAppliedNote)
    }
}
