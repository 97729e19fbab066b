import ConcentratorCore
import Platform

extension ConsoleSession {
    func metersScreen() throws(ConsoleStop) {
        ui.heading("Meters")
        var lines = [TextLayout.row([("id", 16, false), ("bus", 8, false), ("addr", 4, true), ("profile", 20, false), ("label", 0, false)])]
        for m in working.meters {
            lines.append(TextLayout.row([(m["id"]?.stringValue ?? "?", 16, false), (m["bus"]?.stringValue ?? "?", 8, false),
                                         (m["address"].map { $0.stringValue ?? JSONWriter.render($0, pretty: false) } ?? "?", 4, true),
                                         (m["profile"]?.stringValue ?? "?", 20, false), (m["label"]?.stringValue ?? "", 0, false)]))
        }
        lines.append("\(working.meters.count) meters")
        try ui.show(lines)
        let action = try ui.ask("add, edit, remove, or Enter to go back", default: "back",
                                help: ["add: a new meter; edit: change one; remove: delete one."]) { text in
            Parse.oneOf(text.lowercased(), ["add", "edit", "remove", "back"], what: "the action")
        }
        switch action {
        case "add": try editMeter(nil)
        case "edit":
            guard let id = try askMeter("Meter to edit") else { return }
            try editMeter(id)
        case "remove":
            guard let id = try askMeter("Meter to remove") else { return }
            if try ui.confirm("Remove meter \(id)?", default: false) {
                working.removeMeter(id: id)
                pendingFiles.removeAll { $0.path == meterKeyPath(id) }
                ui.good("Meter \(id) removed. " + notAppliedNote)
            }
        default: return
        }
    }

    /// Adds a meter (`id` nil) or edits one: every field is asked, with the current value as default.
    private func editMeter(_ id: String?) throws(ConsoleStop) {
        let existing = id.flatMap { working.meter(id: $0) }
        let current = existing.flatMap(MeterEntry.init)
        let otherIDs = Set(working.meterIDs).subtracting(id.map { [$0] } ?? [])
        let newID = try ui.ask("Meter id", default: current?.id,
                               help: ["A unique name such as bus1-m17: \(ConfigurationLoader.identifierRule)."]) { text -> Result<String, InputProblem> in
            if otherIDs.contains(text) { return .failure(InputProblem("meter id \(text) is used already")) }
            return Parse.identifier(text, what: "meter id")
        }
        let names = working.busNames
        guard !names.isEmpty else {
            ui.problem("no bus is configured yet: add one in \(MenuItem.bus.reference)")
            return
        }
        let bus = try ui.ask("Bus", default: current?.bus ?? (names.count == 1 ? names[0] : nil),
                             help: ["Configured: " + names.joined(separator: ", ")]) { text in
            Parse.oneOf(text, names, what: "the bus")
        }
        let taken = working.meterAddresses(onBus: bus).filter { $0.value != id }
        let range = ConfigurationLoader.modbusAddressRange
        let address = try ui.ask("Modbus address", default: current?.address.intValue.map(String.init),
                                 help: ["The meter's slave address, \(range.lowerBound)-\(range.upperBound), unique on its bus."]) { text in
            Parse.integer(text, in: range, what: "the address").flatMap { a in
                taken[a].map { .failure(InputProblem("address \(a) on \(bus) belongs to meter \($0)")) } ?? .success(a)
            }
        }
        let profile = try askProfile(default: current?.profile)
        let pod = try ui.askOptionalText("Point of delivery (POD)", current: current?.pod, maxLength: 64,
                                         help: ["The grid connection identifier, if known (at most 64 characters)."])
        let serial = try ui.askOptionalText("Serial number", current: current?.serialNumber, maxLength: 64,
                                            help: ["The meter's serial number (at most 64 characters)."])
        let label = try ui.askOptionalText("Label", current: current?.label, maxLength: 128,
                                           help: ["A note for people, such as the cabinet (at most 128 characters)."])
        let entry = MeterEntry(id: newID, bus: bus, address: .integer(address), profile: profile, pod: pod, serialNumber: serial, label: label)
        var candidate = working
        if let id, let existing {
            candidate.replaceMeter(id: id, with: entry.json(updating: existing))
        } else {
            candidate.appendMeter(entry.json())
        }
        let index = candidate.meterIDs.firstIndex(of: newID) ?? 0
        guard try adopt(candidate, refusal: "meter \(newID) not saved:", concerns: { $0.hasPrefix("$.meters[\(index)]") }) else { return }
        if let id, id != newID, let keyFile = pendingFiles.first(where: { $0.path == meterKeyPath(id) }) {
            pendingFiles.removeAll { $0.path == keyFile.path }
            ui.warning("The key staged for \(id) was dropped; import it again for \(newID) (\(MenuItem.keys.reference)).")
        }
        ui.good("Meter \(newID): \(bus) address \(address) \(profile). " + notAppliedNote)
    }
}
