import ConcentratorCore
import Platform

/// A test read as a table: each value with its unit beside the plausible range of its quantity. Pure.
public enum ReadingView {
    public static func lines(_ snapshot: MeterSnapshot, meter: MeterEntry?) -> [String] {
        var out: [String] = []
        let what = meter.map { "\($0.bus) address \(JSONWriter.render($0.address, pretty: false)) \($0.profile)" } ?? ""
        out.append(TextLayout.cut("\(snapshot.meter)  \(what)  at \(ISO8601.format(snapshot.gatewayTime))", to: TextLayout.width))
        out.append(TextLayout.row([("quantity", 24, false), ("value", 14, true), ("unit", 5, false), ("plausible", 21, false),
                                   ("check", 0, false)]))
        var outside = 0
        var failed = 0
        for v in snapshot.values {
            let definition = QuantityCatalog.definition(of: v.quantity)
            let unit = definition?.unit.rawValue ?? ""
            let range = definition.map { "\(number($0.plausible.lowerBound))..\(number($0.plausible.upperBound))" } ?? "?"
            guard let value = v.value else {
                failed += 1
                out.append(TextLayout.row([(v.quantity.rawValue, 24, false), ("-", 14, true), (unit, 5, false), (range, 21, false),
                                           ("ERROR " + (v.error.map { "\($0)" } ?? "no value"), 0, false)]))
                continue
            }
            let plausible = definition?.plausible.contains(value) ?? true
            if !plausible { outside += 1 }
            out.append(TextLayout.row([(v.quantity.rawValue, 24, false), (number(value), 14, true), (unit, 5, false),
                                       (range, 21, false), (plausible ? "ok" : "OUTSIDE", 0, false)]))
        }
        out.append("\(snapshot.values.count) values: \(snapshot.values.count - outside - failed) plausible, \(outside) outside "
            + "their range, \(failed) not read")
        return out
    }

    /// Up to three decimals, without trailing zeros.
    public static func number(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        let scaled = (v * 1000).rounded() / 1000
        var text = String(scaled)
        if text.contains("e") { return text }
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}

extension ConsoleSession {
    func readScreen() throws(ConsoleStop) {
        ui.heading("Test read")
        guard let id = try askMeter() else { return }
        let viaAgent = agent.isRunning
        ui.say(viaAgent ? "Reading through the agent. Ctrl-C stops waiting." : "The agent is not running: reading directly.", .quiet)
        let outcome: Result<MeterSnapshot, ServiceProblem> = ui.terminal.runCancellable { cancellation in
            if viaAgent {
                return agent.call(ControlRequest(op: "read", meter: MeterID(id), timeoutMilliseconds: 30_000), timeout: .seconds(60),
                                  cancellation: cancellation, progress: { _ in }).flatMap { reply in
                    reply.snapshot.map { .success($0) } ?? .failure(ControlFailure(code: "bad-reply", message: "no values in the answer"))
                }.mapError { failure in
                    switch failure.code {
                    case "unknown-meter": return ServiceProblem("meter \(id) is not in the running configuration: apply first "
                        + "(menu 12), or stop the agent to read it directly")
                    default: return ServiceProblem(failure.message)
                    }
                }
            }
            return services.directBus.read(configText: working.text, meter: id, cancellation: cancellation)
        }
        switch outcome {
        case .success(let snapshot):
            try ui.show(ReadingView.lines(snapshot, meter: working.meter(id: id).flatMap(MeterEntry.init)))
        case .failure(let problem):
            ui.problem("test read of \(id) failed: \(problem)")
        }
    }
}
