import Agent
import ArgumentParser
import ConcentratorCore
import FoundationEssentials
import Platform

/// `concentrator uplink …`
struct UplinkGroup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "uplink", abstract: "Check the uplink to the head-end.",
                                                    subcommands: [Check.self])

    /// `concentrator uplink check`: test batches to the head-end and their signed acks back, through
    /// the running agent (the console's last connectivity step, for scripts and operators).
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send test batches to the head-end through the running agent and time their signed acks.")

        @OptionGroup var options: ConfigOption
        @Option(help: "How many round trips.") var count: Int = 1
        @Option(help: "How long to wait for each ack, in seconds.") var timeout: Int = 60
        @Option(help: "Control socket path.") var controlSocket: String?
        @Flag(help: "Print JSON (each round trip's milliseconds, p50, p95, max).") var json = false

        func validate() throws {
            guard (1...10_000).contains(count) else { throw ValidationError("--count must be 1–10000") }
            guard (1...600).contains(timeout) else { throw ValidationError("--timeout must be 1–600 seconds") }
        }

        func run() throws {
            let setup = try loadSetupOrExit(options.config)
            let path = controlSocketPath(setup, override: controlSocket)
            let client = try runningAgentClientOrExit(path)
            var times: [Int] = []
            for i in 1...count {
                do throws(ControlFailure) {
                    let reply = try client.call(ControlRequest(op: "uplink.check", timeoutMilliseconds: timeout * 1000),
                                                timeout: .seconds(timeout + 10))
                    times.append(reply.roundTripMilliseconds ?? -1)
                    if !json { LogOutputLine.stdout("\(i): \(reply.message ?? "acknowledged")") }
                } catch {
                    Output.error("round trip \(i): \(error.message)")
                    throw ExitCode(ExitStatus.failure)
                }
            }
            let sorted = times.sorted()
            func percentile(_ p: Double) -> Int { sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)] }
            if json {
                LogOutputLine.stdout(#"{"round_trips":\#(count),"p50_ms":\#(percentile(0.5)),"p95_ms":\#(percentile(0.95)),"max_ms":\#(sorted.last!),"ms":[\#(times.map(String.init).joined(separator: ","))]}"#)
            } else if count > 1 {
                LogOutputLine.stdout("\(count) round trips: p50 \(percentile(0.5)) ms, p95 \(percentile(0.95)) ms, max \(sorted.last!) ms")
            }
        }
    }
}
