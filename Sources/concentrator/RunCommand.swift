import Agent
import ArgumentParser
import ConcentratorCore
import Logging
import Platform

/// `concentrator run`: the agent itself (what systemd starts).
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the agent until SIGTERM.")

    @OptionGroup var options: ConfigOption

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Option(help: "Start the clock at this time (ISO 8601) instead of now. For tests and the demo.")
    var clockOrigin: String?

    @Option(help: "Run the clock this many times faster than real time. For tests and the demo.")
    var clockRate: Double = 1

    @Option(help: "Control socket path (default: <runtimeDirectory>/control.sock).")
    var controlSocket: String?

    func run() throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        // Under systemd, journald adds timestamps; elsewhere we add them.
        let env = ProcessEnvironment.all
        LineLogHandler.bootstrap(level: level, timestamps: env["JOURNAL_STREAM"] == nil)
        let logger = Logger(label: "agent")
        let setup: AgentSetup
        do {
            setup = try AgentSetup.load(configPath: options.config)
        } catch {
            Output.error(error.description)
            Output.error("the agent will not start with this configuration (exit \(ExitStatus.config)); check it with: concentrator config check \(options.config)")
            throw ExitCode(ExitStatus.config)
        }
        var clock: any WallClock = SystemClock()
        var virtualClock = false
        if clockOrigin != nil || clockRate != 1 {
            guard let origin = clockOrigin.map({ ISO8601.parse($0) }) ?? SystemClock().now() else {
                throw ValidationError("--clock-origin must be an ISO 8601 time, e.g. 2026-11-21T09:59:50Z")
            }
            guard clockRate > 0, clockRate <= 100_000 else { throw ValidationError("--clock-rate must be in (0, 100000]") }
            clock = AcceleratedClock(origin: origin, rate: clockRate)
            virtualClock = true
            logger.notice("virtual clock: origin \(ISO8601.format(origin)), rate \(clockRate)x")
        }
        if env[AgentOptions.testHooksVariable] == "1" {
            // The control operation test.clock-step moves it, as a bad RTC or a wrong NTP answer would.
            clock = SteppableClock(base: clock)
        }
        let agent = Agent(setup: setup, options: AgentOptions(clock: clock, controlSocketPath: controlSocket,
                                                              environment: env, checkClockSync: !virtualClock),
                          logger: logger)
        let exit: AgentExit
        do {
            exit = try agent.run()
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(ExitStatus.failure)
        }
        if exit == .restartRequested {
            logger.notice("restarting: executing \(CommandLine.arguments.joined(separator: " ")) again")
            let problem = ProcessRestart.reexecute()
            // Only reached when exec failed: exit with a failure so that systemd starts the agent again.
            logger.critical("restart failed: \(problem)")
            throw ExitCode(ExitStatus.failure)
        }
    }
}
