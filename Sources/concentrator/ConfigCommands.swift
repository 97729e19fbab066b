import Agent
import ArgumentParser
import ConcentratorCore
import Platform
#if canImport(Glibc)
import Glibc
#endif

/// `concentrator config …`
struct ConfigGroup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "config", abstract: "Check configuration files.",
                                                    subcommands: [Check.self])

    /// `concentrator config check FILE`: validates without starting; exit 78 on errors.
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a configuration file and list every problem (exit 78 if any).")

        @Argument(help: "The configuration file to check.")
        var file: String

        func run() throws {
            do {
                let setup = try AgentSetup.load(configPath: file)
                let c = setup.config
                LogOutputLine.stdout("\(file): ok — device \(c.device.id), \(c.buses.count) buses, \(c.meters.count) meters, "
                    + "archive every \(c.archive.intervalMinutes) min"
                    + (c.archive.profileIntervalMinutes.map { ", profile every \($0) min" } ?? "")
                    + ", retention \(c.archive.retentionDays) days"
                    + (setup.board.map { ", board \($0.id)" } ?? ""))
            } catch {
                LogOutputLine.stderr(error.description)
                throw ExitCode(ExitStatus.config)
            }
        }
    }
}

/// Loads the configuration for a tool command, or exits 78 with every problem listed.
func loadSetupOrExit(_ path: String) throws -> AgentSetup {
    do {
        return try AgentSetup.load(configPath: path)
    } catch {
        LogOutputLine.stderr(error.description)
        throw ExitCode(ExitStatus.config)
    }
}

/// The process environment, read once (FoundationEssentials' ProcessInfo).
enum ProcessEnvironment {
    static var all: [String: String] {
        var env: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { env[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return env
    }
}
