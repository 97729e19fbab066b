import ConcentratorCore
import Foundation
@testable import HeadEnd
import Monitoring
import Platform
import Testing
import TestSupport
import Wire

/// The head-end's side of edge monitoring on a database fed through the real ingest path: the CER
/// export from stored counter reads (3 PODs, 2 days, 15-minute and hourly values, field by field),
/// and the alarms view folded from `meter_alarm` events (status and monthly report).
@Suite("Head-end CER export and alarms")
struct HeadEndMonitoringTests {
    static let from = ISO8601.parse("2026-03-28T00:00:00Z")!
    static let to = ISO8601.parse("2026-03-30T00:00:00Z")!
    static let quarters = 192
    static let rome = try! ZoneRules(tzif: try! ZoneInfoFiles.read(zone: "Europe/Rome"), name: "Europe/Rome")

    /// The fixture's consumption, written out per POD (what the export must give back):
    /// m1 a consumer read exactly at each boundary (0.25 kWh per quarter, export counter flat);
    /// m2 a prosumer injecting 0.5 kWh per quarter 10:00–14:00 UTC and withdrawing 0.125 otherwise;
    /// m3 a meter without an export counter read 7 s after each boundary (interpolated), silent
    /// 20:00–21:00 UTC on the first day (quarter-hour gaps; its hours come from the hour boundaries).
    static func withdrawal(_ meter: Int, quarter q: Int) -> Double {
        switch meter {
        case 1: return 0.25
        case 2: return (40..<56).contains(((q % 96) + 96) % 96) ? 0 : 0.125
        default: return 0.05
        }
    }

    static func injection(_ meter: Int, quarter q: Int) -> Double {
        meter == 2 && (40..<56).contains(((q % 96) + 96) % 96) ? 0.5 : 0
    }

    /// Counter value at boundary `q` (quarter index from `from`, may be negative).
    static func counter(_ meter: Int, boundary q: Int, of f: (Int, Int) -> Double, base: Double) -> Double {
        var v = base
        if q >= 0 { for i in 0..<q { v += f(meter, i) } } else { for i in q..<0 { v -= f(meter, i) } }
        return v
    }

    static func silent(_ meter: Int, boundary q: Int) -> Bool { meter == 3 && (80...83).contains(q) }

    /// One snapshot batch per quarter-hour boundary, from two quarters before `from` to two after `to`.
    static func batches() -> [SealedBatch] {
        var out: [SealedBatch] = []
        var sequence: UInt64 = 10
        for q in -2...(quarters + 2) {
            let start = from.adding(seconds: Int64(q) * 900)
            var snapshots: [MeterSnapshot] = []
            for m in 1...3 where !silent(m, boundary: q) {
                var values = [QuantityValue(quantity: "active_energy_import", value: counter(m, boundary: q, of: withdrawal, base: 1000 * Double(m)))]
                if m != 3 {
                    values.append(QuantityValue(quantity: "active_energy_export", value: counter(m, boundary: q, of: injection, base: 10)))
                    values.append(QuantityValue(quantity: "active_power_total", value: m == 2 ? -1500 - Double(q) : 800 + Double(q)))
                }
                snapshots.append(MeterSnapshot(meter: MeterID("m\(m)"), intervalStart: start, gatewayTime: start.adding(seconds: m == 3 ? 7 : 0),
                                               values: values))
            }
            out.append(try! Keys.sealer().seal(.snapshots(.interval, interval: IntervalSchedule(minutes: 15), snapshots), sequence: sequence))
            sequence += 1
        }
        let identities = (1...3).map { m in
            GatewayEvent(time: from.adding(seconds: -3600), kind: .meterIdentity, severity: .info, meter: MeterID("m\(m)"),
                         message: m == 3 ? #"{"pod":"IT001E00000003"}"# : #"{"pod":"IT001E0000000\#(m)","serialNumber":"SN-\#(m)"}"#)
        }
        out.append(try! Keys.sealer().seal(.events(identities), sequence: sequence))
        return out
    }

    static func ingestFixture(_ setup: HeadEndStorageTests.Setup) {
        for batch in batches() {
            if case .rejected = setup.ingest(batch).result { Issue.record("fixture batch \(batch.header.sequence) rejected") }
        }
    }

    static func text(_ v: Double?) -> String? { v.map { DecimalText.fixed($0, fractionDigits: 3) } }
    static func number(_ v: JSONValue?) -> String? {
        if case .number(_, let text)? = v { return text }
        return nil
    }

    @Test("the CER JSON of 3 PODs over 2 days, from stored reads, field by field")
    func cerJSONFieldByField() throws {
        let setup = try HeadEndStorageTests.Setup()
        Self.ingestFixture(setup)
        let document = try setup.database.cerDocument(from: Self.from, to: Self.to, zone: Self.rome, generatedAt: Self.to)
        let json = try JSONParser.parse(CERExportCodec.json(document))
        #expect(json["timeZone"]?.stringValue == "Europe/Rome")
        #expect(json["period"]?["from"]?.stringValue == "2026-03-28T00:00:00Z" && json["period"]?["to"]?.stringValue == "2026-03-30T00:00:00Z")
        let devices = try #require(json["devices"]?.arrayValue)
        try #require(devices.count == 3)
        for (index, device) in devices.enumerated() {
            let m = index + 1
            #expect(device["pod"]?.stringValue == "IT001E0000000\(m)")
            #expect(device["deviceId"]?.stringValue == "\(Keys.deviceID)/m\(m)")
            #expect(device["gateway"]?.stringValue == Keys.deviceID && device["meter"]?.stringValue == "m\(m)")
            #expect(device["serialNumber"]?.stringValue == (m == 3 ? String?.none : "SN-\(m)"))
            // Totalizers: the last read before the period's end (m3: 7 s after the last boundary).
            let last = Self.quarters - 1
            #expect(device["totalizers"]?["time"]?.stringValue == ISO8601.format(Self.from.adding(seconds: Int64(last) * 900 + (m == 3 ? 7 : 0))))
            #expect(Self.number(device["totalizers"]?["withdrawalKWh"])
                    == Self.text(Self.counter(m, boundary: last, of: Self.withdrawal, base: 1000 * Double(m))))
            #expect(Self.number(device["totalizers"]?["injectionKWh"])
                    == (m == 3 ? nil : Self.text(Self.counter(m, boundary: last, of: Self.injection, base: 10))))
            // Instant power: the last value before the end, signed (m2 injects).
            #expect(Self.number(device["instantPower"]?["watts"]) == (m == 3 ? nil : m == 2 ? "-1691.0" : "991.0"), "\(device["instantPower"] ?? JSONValue.null)")
            let quarterRows = try #require(device["quarterHours"]?.arrayValue)
            try #require(quarterRows.count == Self.quarters)
            for (q, row) in quarterRows.enumerated() {
                let start = Self.from.adding(seconds: Int64(q) * 900)
                #expect(row["start"]?.stringValue == ISO8601.format(start))
                #expect(row["startLocal"]?.stringValue == CERExportCodec.localText(start, zone: Self.rome))
                #expect(row["source"]?.stringValue == "derived")
                // m3's silent hour: boundaries 20:00–21:00 have no reads 30 minutes apart around them.
                let gap = m == 3 && (79...84).contains(q)
                #expect(Self.number(row["withdrawalKWh"]) == (gap ? nil : Self.text(Self.withdrawal(m, quarter: q))), "m\(m) q\(q)")
                #expect(Self.number(row["injectionKWh"]) == (m == 3 ? nil : Self.text(Self.injection(m, quarter: q))), "m\(m) q\(q)")
                let quality = row["quality"]?.arrayValue?.compactMap { $0.stringValue }
                #expect(quality == (gap ? ["gap"] : m == 3 ? ["interpolated"] : ["ok"]), "m\(m) q\(q) \(quality ?? [])")
            }
            let hourRows = try #require(device["hours"]?.arrayValue)
            try #require(hourRows.count == 48)
            for (h, row) in hourRows.enumerated() {
                #expect(row["start"]?.stringValue == ISO8601.format(Self.from.adding(seconds: Int64(h) * 3600)))
                // m3's hours 19–21 have quarter-hour gaps; they are derived from the hour boundaries
                // instead, interpolated across the silent hour (the fixture's consumption is uniform).
                let w = (0..<4).map { Self.withdrawal(m, quarter: h * 4 + $0) }.reduce(0, +)
                let i = (0..<4).map { Self.injection(m, quarter: h * 4 + $0) }.reduce(0, +)
                #expect(Self.number(row["withdrawalKWh"]) == Self.text(w), "m\(m) h\(h)")
                if m == 3 { #expect(row["quality"]?.arrayValue?.compactMap { $0.stringValue } == ["interpolated"], "m3 h\(h)") }
                #expect(Self.number(row["injectionKWh"]) == (m == 3 ? nil : Self.text(i)), "m\(m) h\(h)")
            }
        }
        // Written out: m2 injects 2 kWh in the hour 10:00 UTC (4 × 0.5), withdraws 0.5 in the hour before.
        let m2Hours = devices[1]["hours"]!.arrayValue!
        #expect(Self.number(m2Hours[10]["injectionKWh"]) == "2.000" && Self.number(m2Hours[10]["withdrawalKWh"]) == "0.000")
        #expect(Self.number(m2Hours[9]["withdrawalKWh"]) == "0.500")
        // The spring change: 01:00 UTC on 29 March is 03:00 summer time.
        #expect(devices[0]["quarterHours"]!.arrayValue![100]["startLocal"]?.stringValue == "2026-03-29T03:00:00+02:00")
        // One device only: the same PODs; an unknown device is refused.
        #expect(try setup.database.cerDocument(from: Self.from, to: Self.to, device: Keys.deviceID, zone: nil, generatedAt: Self.to).devices.count == 3)
        #expect(throws: HeadEndError.self) { try setup.database.cerDocument(from: Self.from, to: Self.to, device: "gw-x", zone: nil, generatedAt: Self.to) }
    }

    @Test("the CER CSV has one row per POD and interval, 15-minute then hourly")
    func cerCSV() throws {
        let setup = try HeadEndStorageTests.Setup()
        Self.ingestFixture(setup)
        let document = try setup.database.cerDocument(from: Self.from, to: Self.to, zone: Self.rome, generatedAt: Self.to)
        let rows = CERExportCodec.curvesCSV(document).components(separatedBy: "\r\n").dropLast().dropFirst().map { $0.components(separatedBy: ",") }
        #expect(rows.count == 3 * (Self.quarters + 48))
        #expect(rows[0] == ["IT001E00000001", "gw-0001/m1", "SN-1", "15", "2026-03-28T00:00:00Z", "2026-03-28T01:00:00+01:00",
                            "0.250", "0.000", "derived", "ok"])
        let m2Injecting = rows.first { $0[0] == "IT001E00000002" && $0[3] == "60" && $0[4] == "2026-03-28T10:00:00Z" }
        #expect(m2Injecting == ["IT001E00000002", "gw-0001/m2", "SN-2", "60", "2026-03-28T10:00:00Z", "2026-03-28T11:00:00+01:00",
                                "0.000", "2.000", "derived", "ok"])
        let m3Gap = rows.first { $0[0] == "IT001E00000003" && $0[3] == "15" && $0[4] == "2026-03-28T20:00:00Z" }
        #expect(m3Gap == ["IT001E00000003", "gw-0001/m3", "", "15", "2026-03-28T20:00:00Z", "2026-03-28T21:00:00+01:00", "", "", "derived", "gap"])
    }

    static func alarmEvent(_ line: String, at seconds: Int64, meter: String = "m1", severity: GatewayEvent.Severity = .error) -> GatewayEvent {
        GatewayEvent(time: from.adding(seconds: seconds), kind: .meterAlarm, severity: severity, meter: MeterID(meter), message: line)
    }

    @Test("meter_alarm events fold into the alarms view: raised, acknowledged, cleared, flapping")
    func alarmsView() throws {
        let setup = try HeadEndStorageTests.Setup()
        let events = [
            Self.alarmEvent("alarm=raised rule=overvoltage value=260 threshold=253 occurrence=1 phase=raised", at: 10),
            Self.alarmEvent("alarm=acknowledged rule=overvoltage value=260 threshold=253 occurrence=1 phase=acknowledged", at: 20, severity: .info),
            Self.alarmEvent("alarm=raised rule=tamper value=1 occurrence=1 phase=raised", at: 30, meter: "m2", severity: .critical),
            Self.alarmEvent("alarm=raised rule=comm occurrence=1 phase=raised", at: 40, meter: "m3"),
            Self.alarmEvent("alarm=cleared rule=comm value=1 occurrence=1 phase=cleared", at: 50, meter: "m3", severity: .info),
            Self.alarmEvent("alarm=flapping rule=undervoltage value=180 threshold=195 occurrence=7 phase=raised suppressed=2", at: 60, meter: "m3"),
            Self.alarmEvent("not an alarm line", at: 70),
        ]
        #expect(setup.ingest(try Keys.sealer().seal(.events(events), sequence: 1)).result == .stored(snapshots: 0, values: 0, events: 7))
        let alarms = try setup.database.alarms()
        // Sorted by device, rule, meter.
        #expect(alarms.map { "\($0.key)=\($0.phase.name)" } == ["comm@m3=cleared", "overvoltage@m1=acknowledged", "tamper@m2=raised",
                                                                 "undervoltage@m3=raised"])
        try #require(alarms.count == 4)
        let over = alarms[1]
        #expect(over.device == Keys.deviceID && over.value == 260 && over.threshold == 253 && over.occurrence == 1 && over.transitions == 2)
        #expect(over.raisedAt == Self.from.adding(seconds: 10) && over.changedAt == Self.from.adding(seconds: 20) && over.severity == .error)
        #expect(alarms[2].severity == .critical && alarms[2].isOpen)
        #expect(!alarms[0].isOpen && alarms[0].transitions == 2)
        #expect(alarms[3].flapping && alarms[3].isOpen && alarms[3].occurrence == 7 && alarms[3].raisedAt == Self.from.adding(seconds: 60))
        // The view as it was before the acknowledgement.
        #expect(try setup.database.alarms(until: Self.from.adding(seconds: 15)).map(\.phase) == [.raised])
        #expect(try setup.database.alarms(device: "gw-other").isEmpty)
        // The monthly report lists the open ones.
        let report = try setup.database.monthlyReport(year: 2026, month: 3, generatedAt: Self.to)
        #expect(report.openAlarms.map(\.key.description) == ["overvoltage@m1", "tamper@m2", "undervoltage@m3"])
    }
}
