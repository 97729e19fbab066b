import ArgumentParser
import ConcentratorCore
import ExportOptions
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
    @OptionGroup var export: ExportOptions
    @OptionGroup var selection: SnapshotSelectionOptions

    func run() throws {
        let database = try openDatabaseForReading(options)
        defer { database.close() }
        let request = HeadEndExportRequest(device: device, from: export.start, to: export.end, meter: selection.meterID,
                                           series: selection.seriesKind, format: export.exportFormat)
        try export.withOutput { fd in
            do {
                let summary = try database.export(request) { bytes in try Output.writeAll(bytes, to: fd) }
                Output.note("exported \(summary.snapshots) snapshots, \(summary.values) values, \(summary.bytes) bytes")
            } catch {
                Output.error("export failed: \(error)")
                throw ExitCode(ExitStatus.failure)
            }
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
