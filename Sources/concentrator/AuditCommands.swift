import Archive
import ArgumentParser
import ConcentratorCore
import Platform
#if canImport(Glibc)
import Glibc
#endif

/// `concentrator audit …`
struct AuditGroup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit", abstract: "The log of commands received from the head-end.",
                                                    subcommands: [Export.self])

    /// `concentrator audit export --from --to [--format csv|json] [--output FILE]`
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export the audit log (every command received, accepted or refused, and its outcome). Safe while the agent runs.")

        @OptionGroup var options: ConfigOption
        @Option(help: "Start (ISO 8601), inclusive.") var from: String
        @Option(help: "End (ISO 8601), exclusive.") var to: String
        @Option(help: "csv or json.") var format: String = "csv"
        @Option(help: "Write to this file instead of stdout.") var output: String?

        func validate() throws {
            guard let start = ISO8601.parse(from) else { throw ValidationError("--from is not an ISO 8601 time: \(from)") }
            guard let end = ISO8601.parse(to) else { throw ValidationError("--to is not an ISO 8601 time: \(to)") }
            guard start < end else { throw ValidationError("--from must be before --to") }
            guard format == "csv" || format == "json" else { throw ValidationError("--format must be csv or json") }
        }

        func run() throws {
            let setup = try loadSetupOrExit(options.config)
            let path = FileSystem.join(setup.config.device.stateDirectory, "archive.sqlite")
            let reader: ArchiveReader
            do { reader = try ArchiveReader(path: path) } catch {
                Output.error("cannot open the archive: \(error)")
                throw ExitCode(ExitStatus.unavailable)
            }
            defer { reader.close() }
            var fd: Int32 = 1
            if let output {
                fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                guard fd >= 0 else {
                    Output.error("cannot write \(output): \(String(cString: strerror(errno)))")
                    throw ExitCode(ExitStatus.failure)
                }
            }
            defer { if fd != 1 { fsync(fd); close(fd) } }
            do {
                let count = try AuditExport.export(reader: reader, from: ISO8601.parse(from)!, to: ISO8601.parse(to)!, json: format == "json") {
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
