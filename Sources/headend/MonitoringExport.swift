import ArgumentParser
import ConcentratorCore
import ExportOptions
import HeadEnd
import Monitoring
import Platform

/// `headend export --format cer-json|cer-csv|cer-devices-csv|monthly-csv`: the energy-community
/// export per POD (many devices in one document) and the monthly report, through the Monitoring
/// codecs (Docs/cer-export.md). `--from`/`--to` give the period (UTC quarter-hours); the monthly
/// report covers the UTC month of `--from`.
enum MonitoringExport {
    static let formats = ["cer-json", "cer-csv", "cer-devices-csv", "monthly-csv"]

    static func run(format: String, database: any HeadEndStore, device: String?, export: ExportOptions, timeZone: String?) throws {
        var zone: ZoneRules?
        if let timeZone {
            do { zone = try ZoneRules(tzif: try ZoneInfoFiles.read(zone: timeZone), name: timeZone) } catch {
                Output.error("--time-zone: \(error)")
                throw ExitCode(ExitStatus.usage)
            }
        }
        let now = SystemClock().now()
        let text: String
        do {
            switch format {
            case "monthly-csv":
                let (year, month, _) = ISO8601.civilFromDays(export.start.seconds / 86_400)
                text = MonthlyReportCodec.csv(try database.monthlyReport(year: Int(year), month: Int(month), generatedAt: now))
            default:
                let document = try database.cerDocument(from: export.start, to: export.end, device: device, zone: zone, generatedAt: now)
                switch format {
                case "cer-json": text = CERExportCodec.json(document)
                case "cer-csv": text = CERExportCodec.curvesCSV(document)
                default: text = CERExportCodec.devicesCSV(document)
                }
                Output.note("exported \(document.devices.count) PODs")
            }
        } catch {
            Output.error("export failed: \(error)")
            throw ExitCode(ExitStatus.failure)
        }
        try export.withOutput { fd in try Output.writeAll(Array(text.utf8), to: fd) }
    }
}

/// The alarms of `headend status`: a table after the devices', and an `alarms` member in the JSON.
enum AlarmRendering {
    static func table(_ alarms: [HeadEndAlarm]) -> String {
        let open = alarms.filter(\.isOpen)
        var out = "\nalarms: \(open.count) open, \(alarms.count - open.count) closed\n"
        guard !open.isEmpty else { return out }
        out += "DEVICE           ALARM                          PHASE         SEVERITY  RAISED                VALUE       LIMIT\n"
        for a in open {
            out += pad(a.device, 16) + " " + pad(a.key.description, 30) + " " + pad(a.phase.name + (a.flapping ? "*" : ""), 13) + " "
                + pad(severity(a.severity), 9) + " " + pad(a.raisedAt.map { ISO8601.format($0) } ?? "-", 21) + " "
                + pad(a.value.map { DecimalText.format($0, maximumFractionDigits: 3) } ?? "-", 11) + " "
                + (a.threshold.map { DecimalText.format($0, maximumFractionDigits: 3) } ?? "-") + "\n"
        }
        if open.contains(where: \.flapping) { out += "* flapping: the device holds back its raises and clears\n" }
        return out
    }

    static func json(_ a: HeadEndAlarm) -> JSONValue {
        func number(_ v: Double?) -> JSONValue { v.map { .number($0, text: DecimalText.format($0, maximumFractionDigits: 6)) } ?? .null }
        return .object([
            JSONMember(key: "device", value: .string(a.device)), JSONMember(key: "rule", value: .string(a.key.rule)),
            JSONMember(key: "meter", value: .string(a.key.meter.rawValue)), JSONMember(key: "phase", value: .string(a.phase.name)),
            JSONMember(key: "severity", value: .string(severity(a.severity))),
            JSONMember(key: "raisedAt", value: a.raisedAt.map { .string(ISO8601.format($0)) } ?? .null),
            JSONMember(key: "changedAt", value: .string(ISO8601.format(a.changedAt))),
            JSONMember(key: "value", value: number(a.value)), JSONMember(key: "threshold", value: number(a.threshold)),
            JSONMember(key: "occurrence", value: a.occurrence.map { .number(Double($0), text: String($0)) } ?? .null),
            JSONMember(key: "flapping", value: .bool(a.flapping)),
            JSONMember(key: "transitions", value: .number(Double(a.transitions), text: String(a.transitions))),
        ])
    }

    /// The status JSON with `"alarms": [...]` (every alarm the head-end knows, open or not) added.
    static func addAlarms(_ alarms: [HeadEndAlarm], toStatusJSON text: String) -> String {
        guard case .object(var members)? = try? JSONParser.parse(text) else { return text }
        members.append(JSONMember(key: "alarms", value: .array(alarms.map(json))))
        return JSONWriter.render(.object(members), pretty: true) + "\n"
    }

    private static func severity(_ s: GatewayEvent.Severity) -> String { ["info", "warning", "error", "critical"][Int(s.rawValue)] }

    private static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
}
