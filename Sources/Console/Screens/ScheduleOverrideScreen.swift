import ConcentratorCore

extension ConsoleSession {
    /// After the schedules view: switch an output on or off for some hours (an override, as
    /// `schedule.set` from the head-end), or give it back to its schedule. The agent keeps the change
    /// in its archive and audits it (role `console`). Docs/console.md, `events`.
    func scheduleOverride(outputs: [String]) throws(ConsoleStop) {
        guard !outputs.isEmpty else { return }
        let output = try ui.ask("override an output (its id), or Enter", default: "none",
                                help: ["An override switches the output now and holds it until it expires;",
                                       "auto gives the output back to its schedule. Outputs: " + outputs.joined(separator: ", ")]) { text in
            Parse.oneOf(text, outputs + ["none"], what: "the output")
        }
        guard output != "none" else { return }
        let state = try ui.ask("state: on, off or auto", default: "on", help: ["on/off hold the output; auto removes the override."]) { text in
            Parse.oneOf(text.lowercased(), ["on", "off", "auto"], what: "the state")
        }
        let arguments: JSONValue
        if state == "auto" {
            arguments = object([("remove", object([("output", .string(output)), ("what", .string("override"))]))])
        } else {
            let hours = try ui.ask("for how many hours", default: "12", help: ["1 to 168 hours; then the schedule applies again."]) { text in
                Parse.integer(text, in: 1...168, what: "the hours")
            }
            let until = services.clock.now().adding(seconds: Int64(hours) * 3600)
            arguments = object([("override", object([("output", .string(output)), ("state", .string(state)),
                                                     ("until", .string(ISO8601.format(until)))]))])
        }
        switch agent.call(ControlRequest(op: "schedule.set", arguments: JSONWriter.render(arguments, pretty: false))) {
        case .success(let reply):
            let report = reply.message.flatMap { try? JSONParser.parse($0) } ?? .null
            let now = report["outputs"]?.arrayValue?.first
            ui.say("  \(output): \(now?["state"]?.stringValue ?? "unmanaged") by \(now?["source"]?.stringValue ?? "?")"
                   + (now?["nextChangeLocal"]?.stringValue.map { ", next change \($0)" } ?? ""), .good)
        case .failure(let failure):
            ui.problem("not changed: \(failure.message)")
        }
    }

    private func object(_ members: [(String, JSONValue)]) -> JSONValue { .object(members.map { JSONMember(key: $0.0, value: $0.1) }) }
}
