import ArgumentParser
import ConcentratorCore
import HeadEnd
import Platform
#if canImport(Glibc)
import Glibc
#endif

/// `headend export --device ID --from T --to T [--meter M] --format csv|json`
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export one device's stored values as CSV or JSON (streamed). Safe while head-ends run.")

    @OptionGroup var options: DatabaseOption
    @Option(help: "The device id.") var device: String
    @Option(help: "Start (ISO 8601, e.g. 2026-11-01 or 2026-11-01T00:00:00Z), inclusive.") var from: String
    @Option(help: "End (ISO 8601), exclusive.") var to: String
    @Option(help: "Only this meter.") var meter: String?
    @Option(help: "csv or json.") var format: String = "csv"
    @Option(help: "interval or profile.") var series: String = "interval"
    @Option(help: "Write to this file instead of stdout.") var output: String?

    func validate() throws {
        guard let start = ISO8601.parse(from) else { throw ValidationError("--from is not an ISO 8601 time: \(from)") }
        guard let end = ISO8601.parse(to) else { throw ValidationError("--to is not an ISO 8601 time: \(to)") }
        guard start < end else { throw ValidationError("--from must be before --to") }
        guard ExportFormat(rawValue: format) != nil else { throw ValidationError("--format must be csv or json") }
        guard SeriesKind(rawValue: series) != nil else { throw ValidationError("--series must be interval or profile") }
    }

    func run() throws {
        let database = try openDatabaseForReading(options)
        defer { database.close() }
        var fd: Int32 = 1
        if let output {
            fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                Output.error("cannot write \(output): \(String(cString: strerror(errno)))")
                throw ExitCode(ExitStatus.failure)
            }
        }
        defer { if fd != 1 { fsync(fd); close(fd) } }
        let request = HeadEndExportRequest(device: device, from: ISO8601.parse(from)!, to: ISO8601.parse(to)!,
                                           meter: meter.map { MeterID($0) }, series: SeriesKind(rawValue: series)!,
                                           format: ExportFormat(rawValue: format)!)
        do {
            let summary = try database.export(request) { bytes in try Output.writeAll(bytes, to: fd) }
            Output.note("exported \(summary.snapshots) snapshots, \(summary.values) values, \(summary.bytes) bytes")
        } catch {
            Output.error("export failed: \(error)")
            throw ExitCode(ExitStatus.failure)
        }
    }
}

/// `headend status [--json]`
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per device: last seen, last sequence, gaps in sequences, stored batches and values, reported outbox depth, rejections.")

    @OptionGroup var options: DatabaseOption
    @Flag(help: "JSON instead of a table.") var json = false

    func run() throws {
        let database = try openDatabaseForReading(options)
        defer { database.close() }
        do {
            let reports = try database.statusReports()
            Output.stdout(json ? DeviceStatusRendering.json(reports) : DeviceStatusRendering.table(reports, now: SystemClock().now()))
        } catch {
            Output.error("\(error)")
            throw ExitCode(ExitStatus.failure)
        }
    }
}

/// Opens an existing database for queries, or exits with a message.
func openDatabaseForReading(_ options: DatabaseOption) throws -> any HeadEndStore {
    let location = try options.databaseLocation()
    do { return try HeadEndStores.openForReading(location) } catch {
        Output.error("cannot open the database: \(error)")
        throw ExitCode(ExitStatus.unavailable)
    }
}
