import Agent
import Archive
import ArgumentParser
import ConcentratorCore
import Platform
#if canImport(Glibc)
import Glibc
#endif

/// `concentrator archive …`
struct ArchiveGroup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "archive", abstract: "Read the archive.",
                                                    subcommands: [Export.self])

    /// `concentrator archive export --from --to [--meter] --format csv|json`
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export archived values as CSV or JSON (progress on stderr). Safe while the agent runs.")

        @OptionGroup var options: ConfigOption
        @Option(help: "Start (ISO 8601, e.g. 2026-11-01 or 2026-11-01T00:00:00Z), inclusive.") var from: String
        @Option(help: "End (ISO 8601), exclusive.") var to: String
        @Option(help: "Only this meter.") var meter: String?
        @Option(help: "csv or json.") var format: String = "csv"
        @Option(help: "interval (the hourly archive) or profile (the short load profile).") var series: String = "interval"
        @Option(help: "Write to this file instead of stdout (e.g. a USB stick).") var output: String?

        func validate() throws {
            guard ISO8601.parse(from) != nil else { throw ValidationError("--from is not an ISO 8601 time: \(from)") }
            guard ISO8601.parse(to) != nil else { throw ValidationError("--to is not an ISO 8601 time: \(to)") }
            guard ExportFormat(rawValue: format) != nil else { throw ValidationError("--format must be csv or json") }
            guard SeriesKind(rawValue: series) != nil else { throw ValidationError("--series must be interval or profile") }
        }

        func run() throws {
            let setup = try loadSetupOrExit(options.config)
            let start = ISO8601.parse(from)!, end = ISO8601.parse(to)!
            guard start < end else {
                Output.error("--from must be before --to")
                throw ExitCode(ExitStatus.usage)
            }
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
            let request = ExportRequest(from: start, to: end, meter: meter.map { MeterID($0) }, series: SeriesKind(rawValue: series)!,
                                        format: ExportFormat(rawValue: format)!)
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
