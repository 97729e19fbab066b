import ConcentratorCore
import Platform

/// The status page, from the agent's `status` answer and the applied configuration. Pure.
public enum StatusView {
    public static func lines(_ s: AgentStatus, uplink: JSONValue?) -> [String] {
        let up = duration(milliseconds: s.now.milliseconds - s.startedAt.milliseconds)
        var out = ["device \(s.device)  agent \(s.version)  up \(up)",
                   "now \(ISO8601.format(s.now))  clock " + (s.clockSynchronised ? "synchronised" : "NOT synchronised (check NTP)")]
        if let a = s.archive {
            out.append("last interval archived: " + (a.newestInterval.map { ISO8601.format($0) } ?? "none yet")
                + "  (archive \(a.fileBytes / 1024) KiB)")
            if let e = a.lastError { out.append("  ! archive: \(e)") }
        }
        out.append(uplinkLine(uplink, state: s.uplink))
        if let u = s.uplink {
            var line = "  outbox \(u.outboxDepth) waiting for the head-end's ack"
            if let oldest = u.oldestUnacknowledgedInterval { line += ", oldest \(ISO8601.format(oldest))" }
            if let acked = u.lastAcknowledged { line += "; last ack \(ISO8601.format(acked))" }
            out.append(line)
            if u.droppedUnsent > 0 { out.append("  ! \(u.droppedUnsent) unsent batches fell out of the retention") }
        }
        if let m = s.mesh {
            out.append("mesh \(m.role)" + (m.route.map { " via \($0.nextHop), \($0.hops) hops" } ?? "")
                + "  relay queue \(m.relayQueueDepth)  time \(m.time.source) stratum \(m.time.stratum)  (\(MenuItem.mesh.reference))")
        }
        for bus in s.buses {
            out.append("")
            out.append("\(bus.name)  \(bus.device)  \(bus.line)  " + (bus.portOpen ? "port open" : "PORT DOWN: \(bus.portError ?? "?")"))
            let online = bus.meters.filter { $0.state == .online }.count
            let inError = bus.meters.filter { $0.state == .degraded }.count
            let unknown = bus.meters.filter { $0.state == .unknown }.count
            out.append("  meters: \(bus.meters.count) configured, \(online) online, \(bus.metersOffline) offline, "
                + "\(inError) in error, \(unknown) not polled yet")
            if let c = bus.lastCycle {
                out.append("  last snapshot \(ISO8601.format(c.intervalStart)): \(c.answered)/\(c.meters) answered, "
                    + duration(milliseconds: Int64(c.durationMilliseconds)) + (c.committed ? "" : ", NOT STORED YET"))
            } else {
                out.append("  no snapshot yet")
            }
            if let next = bus.nextIntervalBoundary { out.append("  next snapshot \(ISO8601.format(next))") }
            for m in bus.meters where m.state == .offline || m.state == .degraded {
                let state = m.state == .offline ? "offline" : "in error"
                out.append("  ! \(TextLayout.pad(m.id.rawValue, 14)) addr \(TextLayout.pad(m.address, 4)) \(state): \(m.lastError ?? "")")
            }
        }
        // Long lines (a port error, a long device path) continue indented: nothing is cut.
        return out.flatMap { TextLayout.wrap($0, width: TextLayout.width, indent: 4) }
    }

    /// The uplink: the configured broker and the state the agent reports (connected, or the last
    /// error); an agent running without its uplink (it could not start) says so.
    static func uplinkLine(_ uplink: JSONValue?, state: UplinkState?, agentRunning: Bool = true) -> String {
        guard let uplink, let host = uplink["broker"]?["host"]?.stringValue else { return "uplink: not configured (archive only)" }
        let tls = uplink["broker"]?["tls"] != nil
        let port = uplink["broker"]?["port"]?.intValue ?? (tls ? 8883 : 1883)
        let head = "uplink: broker \(host):\(port)" + (tls ? " (TLS)" : "")
        guard agentRunning else { return head }
        guard let state else { return head + "; not running in the agent (see its log)" }
        if let refusal = state.refusal { return head + "; REFUSED: " + refusal + " (uplink test, menu \(MenuItem.uplink.number))" }
        if state.connected { return head + "; connected" }
        return head + "; NOT connected: " + (state.lastError ?? "connecting")
    }

    static func duration(milliseconds ms: Int64) -> String {
        if ms < 1000 { return "\(ms) ms" }
        if ms < 120_000 { return "\(Double(ms / 100) / 10) s" }
        if ms < 7_200_000 { return "\(ms / 60_000) min" }
        return "\(ms / 3_600_000) h"
    }
}

extension ConsoleSession {
    func statusScreen() throws(ConsoleStop) {
        ui.heading("Status")
        switch agent.call(ControlRequest(op: "status")) {
        case .success(let reply):
            guard let status = reply.status else {
                ui.problem("the agent answered without a status")
                return
            }
            try ui.show(StatusView.lines(status, uplink: applied.uplink))
        case .failure(let failure) where failure.code == "not-running":
            ui.warning("The agent is not running (no control socket at \(socketPath)).")
            ui.say("Start it with: systemctl start concentrator. Meanwhile the console edits the configuration and scans directly.")
            var lines = ["configuration \(configPath): device \(working.deviceID ?? "(no id)")",
                         StatusView.uplinkLine(working.uplink, state: nil, agentRunning: false)]
            for name in working.busNames {
                let bus = working.bus(named: name)
                let meters = working.meters.filter { $0["bus"]?.stringValue == name }.count
                lines.append("\(name)  \(bus?["device"]?.stringValue ?? "?")  \(meters) meters configured")
            }
            try ui.show(lines.flatMap { TextLayout.wrap($0, width: TextLayout.width, indent: 4) })
        case .failure(let failure):
            ui.problem("the agent did not answer the status request: \(failure.message)")
        }
    }
}
