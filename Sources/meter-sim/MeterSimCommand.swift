import ArgumentParser
import ConcentratorCore
import MeterSimulator

/// `meter-sim`: a simulated field of Modbus meters on a pseudo-terminal (`serve`, the default), and a
/// small client for its control channel (`ctl`).
@main
struct MeterSimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meter-sim",
        abstract: "Simulated Modbus RTU meters on a pseudo-terminal, with the line's timing and faults on demand.",
        subcommands: [Serve.self, Control.self],
        defaultSubcommand: Serve.self)
}

/// `meter-sim ctl --control PATH COMMAND…`: sends one control line and prints the answer.
struct Control: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ctl",
        abstract: "Send one command to a running meter-sim.",
        discussion: "Commands: \(ControlCommand.usage). Exits 0 on an \"ok\" answer, 1 on an \"error\" answer.")

    @Option(help: "The simulator's control socket (its --control PATH).")
    var control: String

    @Argument(parsing: .captureForPassthrough, help: "The command, e.g. fault 7 silence.")
    var command: [String]

    func run() throws {
        do {
            let answer = try ControlClient.send(command.joined(separator: " "), to: control)
            writeStandardOutput(answer + "\n")
            if !answer.hasPrefix("ok") { throw ExitCode(ExitStatus.failure) }
        } catch let error as SimulatorError {
            writeStandardError("meter-sim ctl: \(error)\n")
            throw ExitCode(ExitStatus.unavailable)
        }
    }
}
