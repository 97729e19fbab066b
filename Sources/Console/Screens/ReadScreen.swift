import ConcentratorCore
import Platform

/// A test read: the verdict first (`bus1-m1  OK: 24 values, all plausible`), then one line per
/// quantity with its value, unit, check and plausible range. Pure.
public enum ReadingView {
    /// The verdict line of one meter's read.
    public static func verdict(_ snapshot: MeterSnapshot, meter: MeterEntry?, milliseconds: Int?) -> String {
        let outside = snapshot.values.filter { v in
            guard let value = v.value, let d = QuantityCatalog.definition(of: v.quantity) else { return false }
            return !d.plausible.contains(value)
        }.count
        let failed = snapshot.values.filter { $0.value == nil }.count
        let total = snapshot.values.count
        var verdict: String
        if total > 0, failed == total {
            verdict = "FAILED: no value read"
        } else if outside == 0 && failed == 0 {
            verdict = "OK: \(total) values, all plausible"
        } else {
            verdict = "CHECK: \(total) values, " + [outside > 0 ? "\(outside) OUTSIDE" : nil,
                                                    failed > 0 ? "\(failed) NOT READ" : nil].compactMap { $0 }.joined(separator: ", ")
        }
        let where_ = meter.map { "addr \(JSONWriter.render($0.address, pretty: false)), \($0.profile)" }
        let extra = [where_, milliseconds.map { "\($0) ms" }].compactMap { $0 }.joined(separator: ", ")
        return "\(snapshot.meter)  \(verdict)" + (extra.isEmpty ? "" : "  (\(extra))")
    }

    /// The verdict, then one line per quantity (an error's text continues on its own lines).
    public static func lines(_ snapshot: MeterSnapshot, meter: MeterEntry?, milliseconds: Int? = nil) -> [String] {
        var out = TextLayout.wrap(verdict(snapshot, meter: meter, milliseconds: milliseconds), width: TextLayout.width, indent: 4)
        for v in snapshot.values {
            let definition = QuantityCatalog.definition(of: v.quantity)
            let unit = definition?.unit.rawValue ?? ""
            let range = definition.map { "\(number($0.plausible.lowerBound))..\(number($0.plausible.upperBound))" } ?? "?"
            guard let value = v.value else {
                out += TextLayout.wrappedRow([("", 0, false), (v.quantity.rawValue, 24, false), ("-", 12, true), (unit, 5, false),
                                              ("ERROR " + (v.error.map { "\($0)" } ?? "no value"), 0, false)])
                continue
            }
            let plausible = definition?.plausible.contains(value) ?? true
            out += TextLayout.wrappedRow([("", 0, false), (v.quantity.rawValue, 24, false), (number(value), 12, true), (unit, 5, false),
                                          (plausible ? "ok" : "OUTSIDE", 7, false), (range, 0, false)])
        }
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
    /// Meters chosen by ids, addresses or ranges (`bus1-m1, 3-5, 7`), or `all`: the working copy's
    /// meters in configuration order. Addresses match on every bus.
    func parseMeterSelection(_ text: String) -> Result<[String], InputProblem> {
        let meters = working.meters.compactMap(MeterEntry.init)
        if text.lowercased() == "all" {
            return meters.isEmpty ? .failure(InputProblem("no meter is configured")) : .success(meters.map(\.id))
        }
        var chosen: [String] = []
        for token in text.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init) where !token.isEmpty {
            if meters.contains(where: { $0.id == token }) {
                chosen.append(token)
                continue
            }
            guard case .success(let addresses) = AddressSelection.list(token, within: 1...247) else {
                return .failure(InputProblem("\"\(TextLayout.cut(token, to: 24))\" is neither a meter id nor an address; ? explains"))
            }
            let matched = meters.filter { m in m.address.intValue.map(addresses.contains) == true }.map(\.id)
            guard !matched.isEmpty else { return .failure(InputProblem("no meter is configured at address \(token)")) }
            chosen += matched
        }
        var seen = Set<String>()
        let unique = chosen.filter { seen.insert($0).inserted }
        return unique.isEmpty ? .failure(InputProblem("type meter ids, addresses such as 1-5,7, or all")) : .success(unique)
    }

    func readScreen() throws(ConsoleStop) {
        ui.heading("Test read")
        guard !working.meterIDs.isEmpty else {
            ui.problem("no meter is configured yet: \(MenuItem.scan.reference), \(MenuItem.meters.reference) or "
                + "\(MenuItem.import.reference) adds them")
            return
        }
        let ids = try ui.ask("Meters: ids, addresses such as 1-5,7, or all", help: [
            "One meter id, several (bus1-m1 bus1-m2), addresses and ranges (1-5,7: the meters",
            "configured there on any bus), or all. Each is read once; nothing is archived.",
        ]) { text in parseMeterSelection(text) }
        let viaAgent = agent.isRunning
        ui.say(viaAgent ? "Reading through the agent. Ctrl-C stops." : "The agent is not running: reading directly. Ctrl-C stops.", .quiet)
        let progress = ids.count > 1 ? ui.progress("read") : nil
        let outcomes: [(String, Result<MeterSnapshot, ServiceProblem>, Int)] = ui.terminal.runCancellable { cancellation in
            var done: [(String, Result<MeterSnapshot, ServiceProblem>, Int)] = []
            for id in ids where !cancellation.isCancelled {
                let started = ContinuousClock.now
                let result = readOne(id, viaAgent: viaAgent, cancellation: cancellation)
                done.append((id, result, Int((ContinuousClock.now - started).inMilliseconds)))
                let failed = done.filter { if case .failure = $0.1 { return true } else { return false } }.count
                progress?.update(done: done.count, total: ids.count, note: failed == 0 ? "" : "\(failed) failed")
            }
            return done
        }
        progress?.finish()
        var lines: [String] = []
        for (id, outcome, ms) in outcomes {
            switch outcome {
            case .success(let snapshot):
                lines += ReadingView.lines(snapshot, meter: working.meter(id: id).flatMap(MeterEntry.init), milliseconds: ms)
            case .failure(let problem):
                lines += TextLayout.wrap("\(id)  FAILED: \(problem)", width: TextLayout.width, indent: 4)
            }
            if ids.count > 1 { lines.append("") }
        }
        if outcomes.count < ids.count { lines.append("Stopped: \(ids.count - outcomes.count) meters not read.") }
        if ids.count > 1 {
            let good = outcomes.filter { if case .success = $0.1 { return true } else { return false } }.count
            lines.append("\(outcomes.count) meters read: \(good) answered, \(outcomes.count - good) failed")
        }
        try ui.show(lines)
    }

    private func readOne(_ id: String, viaAgent: Bool, cancellation: ActionCancellation) -> Result<MeterSnapshot, ServiceProblem> {
        guard viaAgent else { return services.directBus.read(configText: working.text, meter: id, cancellation: cancellation) }
        return agent.call(ControlRequest(op: "read", meter: MeterID(id), timeoutMilliseconds: 30_000), timeout: .seconds(60),
                          cancellation: cancellation, progress: { _ in }).flatMap { reply in
            reply.snapshot.map { .success($0) } ?? .failure(ControlFailure(code: "bad-reply", message: "no values in the answer"))
        }.mapError { failure in
            switch failure.code {
            case "unknown-meter": return ServiceProblem("meter \(id) is not in the running configuration: apply first "
                + "(\(MenuItem.apply.reference)), or stop the agent to read it directly")
            default: return ServiceProblem(failure.message)
            }
        }
    }
}
