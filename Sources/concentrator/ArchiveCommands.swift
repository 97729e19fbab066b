import Agent
import Archive
import ArgumentParser
import ConcentratorCore
import ExportOptions
import Platform

/// `concentrator archive …`
struct ArchiveGroup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "archive", abstract: "Read the archive.",
                                                    subcommands: [Export.self])

    /// `concentrator archive export --from --to [--meter] --format csv|json`
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export archived values as CSV or JSON (progress on stderr). Safe while the agent runs.")

        @OptionGroup var options: ConfigOption
        @OptionGroup var export: ExportOptions
        @OptionGroup var selection: SnapshotSelectionOptions

        func run() throws {
            let setup = try loadSetupOrExit(options.config)
            let path = FileSystem.join(setup.config.device.stateDirectory, "archive.sqlite")
            let reader: ArchiveReader
            do { reader = try ArchiveReader(path: path) } catch {
                Output.error("cannot open the archive: \(error)")
                throw ExitCode(ExitStatus.unavailable)
            }
            defer { reader.close() }
            let request = ExportRequest(from: export.start, to: export.end, meter: selection.meterID, series: selection.seriesKind,
                                        format: export.exportFormat)
            try export.withOutput { fd in
                do {
                    let summary = try ArchiveExporter(reader: reader).export(request, toFileDescriptor: fd) { p in
                        Output.progress(done: p.snapshotsDone, total: max(p.snapshotsDone, p.snapshotsEstimated), suffix: "snapshots")
                    }
                    LogOutputLine.stderr("exported \(summary)")
                } catch {
                    Output.error("export failed: \(error)")
                    throw ExitCode(ExitStatus.failure)
                }
            }
        }
    }
}
