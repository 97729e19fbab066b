import ArgumentParser
import ConcentratorCore
import ExportOptions
import HeadEnd
import Platform

/// `headend`: the reference head-end — ingests sealed batches, keeps the device registry, exports.
struct HeadEndCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "headend",
        abstract: "Reference head-end: verifies, opens and stores the concentrators' sealed batches and acknowledges them.",
        version: ConcentratorVersion.current,
        subcommands: [Run.self, KeysGroup.self, DevicesGroup.self, Export.self, Status.self, Command.self, UsersGroup.self])
}

/// Where a command finds the database: the `database` of the configuration, or `--database`.
struct DatabaseOption: ParsableArguments {
    @Option(help: "The head-end configuration; its \"database\" is used.")
    var config: String = HeadEndConfiguration.defaultPath

    @Option(help: "The database instead of the one the configuration names: a SQLite file, or a postgresql:// URL.")
    var database: String?

    func databaseLocation() throws -> HeadEndDatabaseLocation {
        guard let database else { return try loadConfigurationOrExit(config).databaseLocation }
        return try parseDatabaseSetting(database)
    }
}

/// `--database`: a SQLite path (relative to the working directory, or absolute) or a postgresql:// URL.
func parseDatabaseSetting(_ text: String) throws -> HeadEndDatabaseLocation {
    if let location = HeadEndDatabaseLocation(setting: text) { return location }
    guard !text.isEmpty, !text.contains("://") else {
        throw ValidationError("--database must be a SQLite file or a postgresql:// URL")
    }
    return .sqlite(path: text)
}

/// Loads and validates `headend.json`, or prints every problem and exits with the configuration status.
func loadConfigurationOrExit(_ path: String) throws -> HeadEndConfiguration {
    let text: String
    do { text = try FileSystem.readText(path) } catch {
        Output.error("\(error)")
        throw ExitCode(ExitStatus.config)
    }
    do {
        return try HeadEndConfigurationLoader.load(text: text, source: path)
    } catch {
        Output.error(error.description)
        throw ExitCode(ExitStatus.config)
    }
}

TerminationSignals.block()
ExportOptions.additionalFormats = MonitoringExport.formats
HeadEndCommand.main()
