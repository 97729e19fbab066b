import Foundation
import Testing
import ConcentratorCore
import Platform
import TestSupport

/// Issue 17 #9 and #13: the tools beside a running agent. Ctrl-C stops `status --watch` in a real
/// terminal; a user without access to the control socket is told that permission was denied and
/// which group grants it (not that the agent is not running).
@Suite(.serialized, .timeLimit(.minutes(2)))
struct CommandLineFaultTests {
    /// A small field and a running agent (real clock).
    final class Field: @unchecked Sendable {
        let dir = TemporaryDirectory("e2e-cli")
        let sim: MeterSimProcess
        let config: String
        let agent: AgentProcess

        init() throws {
            sim = try MeterSimProcess(name: "bus1", directory: dir, meters: ["1-2:eastron-sdm120"], baud: 115_200, turnaround: "1-3")
            let builder = AgentConfigBuilder(buses: [.init(name: "bus1", device: sim.link, baud: 115_200, addresses: [1, 2],
                                                           profile: { _ in "eastron-sdm120" })])
            config = try builder.write(to: dir)
            agent = try AgentProcess(config: config, directory: dir)
            guard agent.waitUntilRunning() else { throw HarnessError("the agent did not start: \(agent.log)") }
        }
    }

    /// Before the fix every subcommand blocked SIGINT, and `status --watch` ignored Ctrl-C.
    @Test func ctrlCStopsStatusWatch() async throws {
        let f = try Field()
        // The shell traps SIGINT (a handler, not "ignore", so the child gets the default action back)
        // and survives to print the exit status.
        let command = "trap : INT; \(BuiltProducts.path("concentrator")) status --watch --config \(f.config); echo WATCH-ENDED-$?; sleep 60"
        let terminal = try TmuxTerminal(command: command, directory: f.dir, columns: 100, rows: 40)
        let shown = try await runOnDedicatedThread { try terminal.wait(timeout: .seconds(20)) { $0.contains("device gw-test") } }
        #expect(shown != nil, "status --watch never showed the status")
        try terminal.key("C-c")
        let ended = try await runOnDedicatedThread { try terminal.wait(timeout: .seconds(5)) { $0.contains("WATCH-ENDED-") } }
        #expect(ended?.contains("WATCH-ENDED-130") == true, "Ctrl-C did not stop status --watch: \(terminal.captures.last ?? "")")
        #expect(f.agent.child.stop() == 0)
    }

    /// Before the fix a permission error read "the agent is not running … systemctl start".
    @Test func permissionDeniedOnTheControlSocketSaysSoAndNamesTheGroup() async throws {
        let setpriv = try findProgram("setpriv")
        let f = try Field()
        // Another user may read the configuration, but not enter the agent's runtime directory.
        chmod(f.dir.path, 0o755)
        chmod(f.config, 0o644)
        let r = try await runOnDedicatedThread {
            try runCommand(setpriv, ["--reuid=65534", "--regid=65534", "--clear-groups", BuiltProducts.path("concentrator"),
                                     "status", "--config", f.config])
        }
        #expect(r.status != 0)
        let text = r.stderr + r.stdout
        #expect(text.contains("permission denied"), "\(text)")
        #expect(text.contains("group"), "\(text)")
        #expect(!text.contains("not running"), "\(text)")
        #expect(f.agent.child.stop() == 0)
    }
}
