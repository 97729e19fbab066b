import ConcentratorCore
import Platform

extension ConsoleSession {
    func busScreen() throws(ConsoleStop) {
        ui.heading("Bus setup")
        let names = working.busNames
        for name in names {
            let bus = working.bus(named: name) ?? .object([])
            let meters = working.meters.filter { $0["bus"]?.stringValue == name }.count
            ui.say(TextLayout.row([(name, 12, false), (bus["device"]?.stringValue ?? "?", 28, false),
                                   (lineSummary(bus), 12, false), ("\(meters) meters", 0, false)]))
        }
        if names.isEmpty { ui.say("No bus configured yet.") }
        ui.say("Protocols: modbus. IEC 62056-21 and DLMS/COSEM come in later builds; each meter names its protocol and "
            + "one bus may carry a mix.", .quiet)
        let choice = try ui.ask("Bus to edit, add, remove, or Enter to go back", default: "back",
                                help: ["A bus name edits that bus; add creates one; remove deletes one without meters."]) { text in
            if text == "back" || text == "add" || text == "remove" || names.contains(text) { return .success(text) }
            return .failure(InputProblem("no bus \"\(TextLayout.cut(text, to: 20))\"; type a bus name ("
                + (names.isEmpty ? "none yet" : names.joined(separator: ", ")) + "), add, remove, or Enter"))
        }
        switch choice {
        case "back": return
        case "add":
            let name = try ui.ask("New bus name", help: ["An identifier such as bus1: \(ConfigurationLoader.identifierRule)."]) { text -> Result<String, InputProblem> in
                if names.contains(text) { return .failure(InputProblem("bus \(text) exists already")) }
                return Parse.identifier(text, what: "bus name")
            }
            try editBus(name, existing: .object([JSONMember(key: "name", value: .string(name))]))
        case "remove":
            guard let name = try askBus("Bus to remove") else { return }
            let meters = working.meters.filter { $0["bus"]?.stringValue == name }.count
            guard meters == 0 else {
                ui.problem("bus \(name) still has \(meters) meters: remove or move them first (menu 4)")
                return
            }
            if try ui.confirm("Remove bus \(name)?", default: false) {
                working.removeBus(named: name)
                ui.good("Bus \(name) removed. " + notAppliedNote)
            }
        default:
            try editBus(choice, existing: working.bus(named: choice) ?? .object([]))
        }
    }

    private func lineSummary(_ bus: JSONValue) -> String {
        let parity = bus["parity"]?.stringValue ?? "none"
        let p = parity == "even" ? "E" : parity == "odd" ? "O" : "N"
        return "\(bus["baud"]?.intValue ?? 9600) \(bus["dataBits"]?.intValue ?? 8)\(p)\(bus["stopBits"]?.intValue ?? 1)"
    }

    /// Asks each field with the current value as default; only answers that differ from the
    /// current value are written, so the file keeps its defaults implicit.
    private func editBus(_ name: String, existing: JSONValue) throws(ConsoleStop) {
        var bus = existing
        func update(_ key: String, _ value: JSONValue) {
            if existing[key] == nil, ConfigDiff.same(value, defaultValue(key)) { return }
            bus = bus.setting(key, value)
        }
        let device = try ui.ask("Serial port (device)", default: existing["device"]?.stringValue,
                                help: ["The RS-485 port, e.g. /dev/ttyRS485-1 (a stable udev name) or /dev/ttyUSB0.",
                                       "One bus per port: the agent is the only master on it."]) { text in
            Parse.absolutePath(text, what: "the port")
        }
        if !FileSystem.exists(device) { ui.warning("Note: \(device) does not exist on this gateway right now.") }
        bus = bus.setting("device", .string(device))
        let bauds = ConfigurationLoader.standardBaudRates.map(String.init)
        let baud = try ui.ask("Baud rate", default: String(existing["baud"]?.intValue ?? 9600),
                              help: ["Line speed; the meters' setting. Allowed: " + bauds.joined(separator: ", ")]) { text in
            Parse.oneOf(text, bauds, what: "the baud rate").map { Int($0)! }
        }
        update("baud", .integer(baud))
        let dataBits = try ui.ask("Data bits", default: String(existing["dataBits"]?.intValue ?? 8),
                                  help: ["7 or 8 (Modbus RTU uses 8)."]) { text in
            Parse.oneOf(text, ["7", "8"], what: "data bits").map { Int($0)! }
        }
        update("dataBits", .integer(dataBits))
        let parity = try ui.ask("Parity", default: existing["parity"]?.stringValue ?? "none",
                                help: ["none, even or odd (the meters' setting; Modbus RTU's default is even)."]) { text in
            Parse.oneOf(text.lowercased(), ["none", "even", "odd"], what: "parity")
        }
        update("parity", .string(parity))
        let stopBits = try ui.ask("Stop bits", default: String(existing["stopBits"]?.intValue ?? 1),
                                  help: ["1 or 2 (Modbus RTU uses 2 without parity, 1 with)."]) { text in
            Parse.oneOf(text, ["1", "2"], what: "stop bits").map { Int($0)! }
        }
        update("stopBits", .integer(stopBits))
        var candidate = working
        candidate.setBus(named: name, to: bus)
        let busIndex = candidate.busNames.firstIndex(of: name) ?? 0
        guard try adopt(candidate, refusal: "bus \(name) not changed:", concerns: { $0.hasPrefix("$.buses[\(busIndex)]") }) else { return }
        ui.good("Bus \(name): \(device) \(lineSummary(bus)). " + notAppliedNote)
    }

    private func defaultValue(_ key: String) -> JSONValue {
        let line = LineSettings()
        switch key {
        case "baud": return .integer(line.baud)
        case "dataBits": return .integer(line.dataBits)
        case "parity": return .string(line.parity.rawValue)
        case "stopBits": return .integer(line.stopBits)
        default: return .null
        }
    }
}
