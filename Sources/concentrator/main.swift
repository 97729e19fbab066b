import ArgumentParser
import ConcentratorCore
import Platform

/// `concentrator`: the agent and its installer tools.
struct Concentrator: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "concentrator",
        abstract: "Gateway data concentrator: reads RS-485 meters, archives them, delivers sealed batches.",
        version: ConcentratorVersion.current,
        subcommands: [Run.self, Status.self, Read.self, Scan.self, ConsoleCommandLine.self, ConfigGroup.self, ArchiveGroup.self,
                      AuditGroup.self, KeysGroup.self, BoardGroup.self, UplinkGroup.self, MeshGroup.self])
}

/// Options every command that needs the configuration shares.
struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "The configuration file.")
    var config: String = "/etc/concentrator/config.json"
}

// Only the agent (`run`) and the installer's console take over SIGINT, SIGTERM and SIGHUP (they wait
// for them with sigwait, so they must be blocked before any thread starts). Every other tool keeps
// the default actions: Ctrl-C stops `status --watch`, a scan, an export.
if TerminationSignals.takesOverSignals(subcommand: CommandLine.arguments.dropFirst().first { !$0.hasPrefix("-") }) {
    TerminationSignals.block()
} else {
    TerminationSignals.ignoreBrokenPipes()
}
Concentrator.main()
