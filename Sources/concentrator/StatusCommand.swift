import Agent
import ArgumentParser
import ConcentratorCore
import Console
import FoundationEssentials
import Platform

/// Encodes values as JSON text for `--json` output.
enum JSONText {
    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }
}

/// `concentrator status`: the running agent's buses, meters and last snapshots.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the running agent's buses, meters and last snapshots.")

    @OptionGroup var options: ConfigOption
    @Option(help: "Control socket path.") var controlSocket: String?
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "Refresh every 2 seconds until interrupted (a live view).") var watch = false

    func run() throws {
        let setup = try loadSetupOrExit(options.config)
        let path = controlSocketPath(setup, override: controlSocket)
        repeat {
            let client = try runningAgentClientOrExit(path)
            let reply: ControlReply
            do throws(ControlFailure) {
                reply = try client.call(ControlRequest(op: "status"))
            } catch {
                Output.error(error.description)
                throw ExitCode(ExitStatus.failure)
            }
            guard let status = reply.status else { throw ExitCode(ExitStatus.failure) }
            if json {
                LogOutputLine.stdout(JSONText.encode(status))
            } else {
                if watch { LogOutputLine.stdout("\u{1B}[H\u{1B}[2J") }
                StatusReport.print(status)
            }
            if watch { sleepThread(.seconds(2)) }
        } while watch
    }
}

/// The human-readable status page: every line within 80 columns, long ones continued, never cut.
enum StatusReport {
    /// Writes one logical line, continued on indented lines where it would pass 80 columns.
    private static func line(_ text: String) {
        for part in TextLayout.wrap(text, width: TextLayout.width, indent: 4) { LogOutputLine.stdout(part) }
    }

    static func print(_ s: AgentStatus) {
        let up = Output.duration(milliseconds: Double(s.now.milliseconds - s.startedAt.milliseconds))
        line("device \(s.device)  version \(s.version)  up \(up)  clock \(s.clockSynchronised ? "synchronised" : "NOT synchronised")")
        line("now \(ISO8601.format(s.now))")
        if let a = s.archive {
            let newest = a.newestInterval.map { ISO8601.format($0) } ?? "none"
            line("archive \(a.path)  \(a.fileBytes / 1024) KiB  newest interval \(newest)")
        }
        if let u = s.uplink {
            line("uplink \(u.broker)  " + (u.connected ? "connected" : "NOT connected: \(u.lastError ?? "connecting")")
                + "  outbox \(u.outboxDepth)" + (u.refusal.map { "  REFUSED: \($0)" } ?? ""))
        }
        if let m = s.mesh { MeshStatusReport.lines(m).forEach(line) }
        for bus in s.buses {
            line("")
            let port = bus.portOpen ? "port open" : "PORT DOWN: \(bus.portError ?? "?")"
            line("bus \(bus.name)  \(bus.device)  \(bus.line)  \(port)")
            line("  meters: \(bus.metersOnline) answering, \(bus.metersOffline) offline, \(bus.meters.count) configured")
            if let c = bus.lastCycle {
                line("  last snapshot \(ISO8601.format(c.intervalStart)) (\(c.series.map(\.rawValue).joined(separator: "+"))): "
                    + "\(c.answered)/\(c.meters) meters, \(c.values - c.errorValues) values, \(Output.duration(milliseconds: c.durationMilliseconds))"
                    + (c.committed ? "" : "  NOT STORED YET"))
            } else {
                line("  no snapshot yet")
            }
            if let next = bus.nextIntervalBoundary { line("  next snapshot \(ISO8601.format(next))") }
            if bus.pendingCommits > 0 { line("  \(bus.pendingCommits) snapshots waiting for the archive") }
            let troubled = bus.meters.filter { $0.state == .offline || $0.state == .degraded }
            for m in troubled.prefix(10) {
                line("  ! \(m.id.rawValue) addr \(Output.column(m.address, 4)) \(m.state.rawValue): \(m.lastError ?? "")")
            }
            if troubled.count > 10 { line("  … and \(troubled.count - 10) more") }
        }
    }
}
