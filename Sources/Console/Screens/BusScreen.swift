import ConcentratorCore
import Platform

extension ConsoleSession {
    func busScreen() throws(ConsoleStop) {
        ui.heading("Bus setup")
        let names = working.busNames
        for name in names {
            let bus = working.bus(named: name) ?? .object([])
            let meters = working.meters.filter { $0["bus"]?.stringValue == name }.count
            let rs485 = bus["rs485"]?["enabled"]?.boolValue == true ? " RS-485" : ""
            for line in TextLayout.wrappedRow([(name, 12, false), (lineSummary(bus) + rs485, 17, false), ("\(meters) meters", 10, false),
                                               (bus["device"]?.stringValue ?? "?", 0, false)]) {
                ui.say(line)
            }
        }
        if names.isEmpty { ui.say("No bus configured yet.") }
        ui.say("Protocols: each meter names its protocol (its profile's); one bus may carry a mix.", .quiet)
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
                ui.problem("bus \(name) still has \(meters) meters: remove or move them first in \(MenuItem.meters.reference)")
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
        let ports = services.serialPorts()
        let device = try ui.ask("Serial port (device)", default: existing["device"]?.stringValue,
                                help: ["The RS-485 port, e.g. /dev/ttyRS485-1 (a stable udev name) or /dev/ttyUSB0.",
                                       "One bus per port: the agent is the only master on it.",
                                       ports.isEmpty ? "No serial port was found on this gateway (is the adapter plugged in?)."
                                           : "Ports on this gateway:"] + ports.prefix(16).map { "  " + $0 }
                                    + (ports.count > 16 ? ["  ... and \(ports.count - 16) more"] : []), longAnswer: true) { text in
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
        bus = bus.setting("rs485", try askRS485(existing["rs485"]))
        var candidate = working
        candidate.setBus(named: name, to: bus)
        let busIndex = candidate.busNames.firstIndex(of: name) ?? 0
        guard try adopt(candidate, refusal: "bus \(name) not changed:", concerns: { $0.hasPrefix("$.buses[\(busIndex)]") }) else { return }
        let rs485 = bus["rs485"]?["enabled"]?.boolValue == true
            ? ", RS-485 RTS \(bus["rs485"]?["rtsActiveHigh"]?.boolValue == false ? "low" : "high")" : ""
        ui.good("Bus \(name): \(device) \(lineSummary(bus))\(rs485). " + notAppliedNote)
    }

    /// The RS-485 block: kernel RS-485 mode, the RTS level while sending and the RTS delays. nil
    /// when the mode is off and nothing else was set (the file keeps the default implicit).
    private func askRS485(_ existing: JSONValue?) throws(ConsoleStop) -> JSONValue? {
        let current = existing ?? .object([])
        let enabled = try ui.ask("RS-485 mode (kernel RTS control): on or off", default: current["enabled"]?.boolValue == true ? "on" : "off",
                                 help: ["on: the kernel switches the transceiver with RTS (TIOCSRS485), as the board file says;",
                                        "off: the adapter switches by itself (most USB adapters) or the port has no RS-485 mode.",
                                        "Copy the setting from the board file's port (menu status shows the board)."]) { text in
            Parse.oneOf(text.lowercased(), ["on", "off"], what: "RS-485 mode").map { $0 == "on" }
        }
        guard enabled else { return existing == nil ? nil : current.setting("enabled", .bool(false)) }
        let high = try ui.ask("RTS level while sending: high or low", default: current["rtsActiveHigh"]?.boolValue == false ? "low" : "high",
                              help: ["The level of RTS while the gateway sends (the board file's rtsActiveHigh)."]) { text in
            Parse.oneOf(text.lowercased(), ["high", "low"], what: "the RTS level").map { $0 == "high" }
        }
        let range = 0...100
        let before = try ui.ask("RTS delay before sending, ms", default: String(current["delayBeforeSendMilliseconds"]?.intValue ?? 0),
                                help: ["Time between raising RTS and the first bit, 0-100 ms (Linux clamps to 100)."]) { text in
            Parse.integer(text, in: range, what: "the delay")
        }
        let after = try ui.ask("RTS delay after sending, ms", default: String(current["delayAfterSendMilliseconds"]?.intValue ?? 0),
                               help: ["Time between the last bit and dropping RTS, 0-100 ms."]) { text in
            Parse.integer(text, in: range, what: "the delay")
        }
        return current.setting("enabled", .bool(true)).setting("rtsActiveHigh", .bool(high))
            .setting("delayBeforeSendMilliseconds", .integer(before)).setting("delayAfterSendMilliseconds", .integer(after))
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
