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
    @Option(help: "The device id (required for csv and json; cer-json, cer-csv, cer-devices-csv and monthly-csv cover every device without it).")
    var device: String?
    @OptionGroup var export: ExportOptions
    @OptionGroup var selection: SnapshotSelectionOptions
    @Option(help: "cer-json, cer-csv: the zone of the local times (e.g. Europe/Rome); none: UTC only.") var timeZone: String?

    func validate() throws {
        if export.additionalFormat == nil, device == nil { throw ValidationError("--device is required for --format csv and json") }
    }

    func run() throws {
        let database = try openDatabaseForReading(options)
        defer { database.close() }
        if let format = export.additionalFormat {
            try MonitoringExport.run(format: format, database: database, device: device, export: export, timeZone: timeZone)
            return
        }
        guard let device else { throw ExitCode(ExitStatus.usage) }
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
            let alarms = try database.alarms()
            Output.stdout(json ? AlarmRendering.addAlarms(alarms, toStatusJSON: DeviceStatusRendering.json(reports))
                               : DeviceStatusRendering.table(reports, now: SystemClock().now()) + AlarmRendering.table(alarms))
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
