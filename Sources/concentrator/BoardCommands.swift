import Agent
import ArgumentParser
import ConcentratorCore
import Platform

/// `concentrator board …`
struct BoardGroup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "board", abstract: "Check board files and make their udev rules.",
                                                    subcommands: [Check.self, UdevRules.self])

    /// `concentrator board check FILE [--config FILE]`: validates a board file against this machine.
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a board file and check its ports, LEDs and uplink interface on this machine.",
            discussion: "Exit 0 when everything is usable (warnings allowed), 1 when a check fails, 78 when the board or configuration file is invalid.")

        @Argument(help: "The board file, e.g. /usr/share/concentrator/boards/rpi4-rs485-hat.json.")
        var file: String

        @Option(help: "Also compare this configuration's buses with the board's ports.")
        var config: String?

        func run() throws {
            let board = try loadBoardOrExit(file)
            let setup = try config.map { try loadSetupOrExit($0) }
            LogOutputLine.stdout("board \(board.id): \(board.name)")
            let results = BoardMachineCheck.check(board, config: setup?.config)
            for result in results { LogOutputLine.stdout("  " + result.description) }
            let failures = results.filter { $0.level == .failure }.count
            let warnings = results.filter { $0.level == .warning }.count
            LogOutputLine.stdout("\(failures) failed, \(warnings) warnings, \(results.count - failures - warnings) ok")
            if failures > 0 { throw ExitCode(ExitStatus.failure) }
        }
    }

    /// `concentrator board udev-rules FILE`: prints the udev rules for the board's stable port names.
    struct UdevRules: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "udev-rules",
            abstract: "Print the udev rules that give the board's serial ports their stable names.")

        @Argument(help: "The board file.")
        var file: String

        func run() throws {
            let board = try loadBoardOrExit(file)
            LogOutputLine.stdoutRaw(BoardUdevRules.render(board))
        }
    }
}

/// Loads a board file, or exits 78 with every problem listed.
func loadBoardOrExit(_ path: String) throws -> BoardDefinition {
    do {
        return try AgentSetup.loadBoard(path: path)
    } catch {
        LogOutputLine.stderr(error.description)
        throw ExitCode(ExitStatus.config)
    }
}
