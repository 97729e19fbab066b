import Archive
import ArgumentParser
import ConcentratorCore
import ExportOptions
import Platform

/// `concentrator audit …`
struct AuditGroup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit", abstract: "The log of commands received from the head-end.",
                                                    subcommands: [Export.self])

    /// `concentrator audit export --from --to [--format csv|json] [--output FILE]`
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export the audit log (every command received, accepted or refused, and its outcome). Safe while the agent runs.")

        @OptionGroup var options: ConfigOption
        @OptionGroup var export: ExportOptions

        func run() throws {
            let setup = try loadSetupOrExit(options.config)
            let path = FileSystem.join(setup.config.device.stateDirectory, "archive.sqlite")
            let reader: ArchiveReader
            do { reader = try ArchiveReader(path: path) } catch {
                Output.error("cannot open the archive: \(error)")
                throw ExitCode(ExitStatus.unavailable)
            }
            defer { reader.close() }
            try export.withOutput { fd in
                do {
                    let count = try AuditExport.export(reader: reader, from: export.start, to: export.end, json: export.exportFormat == .json) {
                        do throws(FileDescriptorWriteError) { try FileDescriptor.writeAll(fd, $0) } catch {
                            throw FileError(path: "file descriptor \(fd)", operation: "write the audit export to", errnoCode: error.errnoCode)
                        }
                    }
                    LogOutputLine.stderr("exported \(count) audit entries")
                } catch {
                    Output.error("audit export failed: \(error)")
                    throw ExitCode(ExitStatus.failure)
                }
            }
        }
    }
}
