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

TerminationSignals.block()
Concentrator.main()
