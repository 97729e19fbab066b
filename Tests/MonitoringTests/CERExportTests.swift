import ConcentratorCore
import Foundation
import Testing
import TestSupport
@testable import Monitoring

/// The energy-community export on a fixture of 3 PODs over 2 local days in Rome (28 and 29 March 2026,
/// the second 23 hours long), with 15-minute and hourly data, checked field by field.
@Suite struct CERExportTests {
    static let rome = try! ZoneRulesTests.zone("Europe/Rome")
    static let from = ISO8601.parse("2026-03-27T23:00:00Z")! // 28 March 00:00 CET
    static let to = ISO8601.parse("2026-03-29T22:00:00Z")!   // 30 March 00:00 CEST
    static let quarterCount = 47 * 4

    /// POD 1: a consumer with a measured profile; POD 2: a prosumer (PV) with derived values;
    /// POD 3: a consumer whose meter was silent for an hour (gaps) and has no instant power.
    static func fixture() -> CERExportDocument {
        func quarters(_ pod: Int) -> [LoadCurvePoint] {
            (0..<quarterCount).map { i in
                let start = from.adding(seconds: Int64(i) * 900)
                switch pod {
                case 1: return LoadCurvePoint(start: start, minutes: 15, withdrawalKWh: 0.1 + Double(i % 8) * 0.025, injectionKWh: 0, source: .meter)
                case 2:
                    let sun = (40..<72).contains(i % 96)
                    return LoadCurvePoint(start: start, minutes: 15, withdrawalKWh: sun ? 0 : 0.125, injectionKWh: sun ? 0.375 : 0,
                                          source: .derived, flags: i % 5 == 0 ? [.interpolated] : [])
                default:
                    let silent = (20..<24).contains(i)
                    return LoadCurvePoint(start: start, minutes: 15, withdrawalKWh: silent ? nil : 0.05, injectionKWh: nil, source: .derived,
                                          flags: silent ? [.gap] : [])
                }
            }
        }
        let devices = (1...3).map { n -> CERDevice in
            let q = quarters(n)
            return CERDevice(pod: "IT001E0000000\(n)", gateway: "gw-rome-1", meter: MeterID("m\(n)"), serialNumber: n == 3 ? nil : "SN-\(n)00",
                             quarterHours: q, hours: LoadCurveDeriver.hourly(q),
                             totalizers: CERTotalizers(time: to, withdrawalKWh: 1000 * Double(n) + 0.5, injectionKWh: n == 2 ? 321.125 : nil),
                             instantPower: n == 3 ? nil : CERInstantPower(time: to.adding(seconds: -10), watts: n == 2 ? -1520.4 : 830))
        }
        return CERExportDocument(generatedAt: ISO8601.parse("2026-03-30T06:00:00Z")!, from: from, to: to, zone: rome, devices: devices)
    }

    static func text(_ v: Double?, _ digits: Int = 3) -> String? { v.map { DecimalText.fixed($0, fractionDigits: digits) } }

    @Test func jsonFieldByField() throws {
        let doc = Self.fixture()
        let json = try JSONParser.parse(CERExportCodec.json(doc))
        #expect(json["format"]?.stringValue == "concentrator-cer-export" && json["version"]?.intValue == 1)
        #expect(json["generatedAt"]?.stringValue == "2026-03-30T06:00:00Z")
        #expect(json["period"]?["from"]?.stringValue == "2026-03-27T23:00:00Z" && json["period"]?["to"]?.stringValue == "2026-03-29T22:00:00Z")
        #expect(json["timeZone"]?.stringValue == "Europe/Rome")
        let devices = try #require(json["devices"]?.arrayValue)
        #expect(devices.count == 3)
        for (device, input) in zip(devices, doc.devices) {
            #expect(device.members?.map(\.key) == ["pod", "deviceId", "gateway", "meter"] + (input.serialNumber == nil ? [] : ["serialNumber"])
                + ["totalizers"] + (input.instantPower == nil ? [] : ["instantPower"]) + ["quarterHours", "hours"])
            #expect(device["pod"]?.stringValue == input.pod)
            #expect(device["deviceId"]?.stringValue == "gw-rome-1/" + input.meter.rawValue)
            #expect(device["gateway"]?.stringValue == "gw-rome-1" && device["meter"]?.stringValue == input.meter.rawValue)
            #expect(device["serialNumber"]?.stringValue == input.serialNumber)
            #expect(device["totalizers"]?["time"]?.stringValue == "2026-03-29T22:00:00Z")
            #expect(number(device["totalizers"]?["withdrawalKWh"]) == Self.text(input.totalizers?.withdrawalKWh))
            #expect(number(device["totalizers"]?["injectionKWh"]) == Self.text(input.totalizers?.injectionKWh))
            #expect(number(device["instantPower"]?["watts"]) == Self.text(input.instantPower?.watts, 1))
            for (key, points, minutes) in [("quarterHours", input.quarterHours, 15), ("hours", input.hours, 60)] {
                let rows = try #require(device[key]?.arrayValue)
                #expect(rows.count == (minutes == 15 ? Self.quarterCount : 47))
                for (row, p) in zip(rows, points) {
                    #expect(row["start"]?.stringValue == ISO8601.format(p.start))
                    #expect(row["startLocal"]?.stringValue == CERExportCodec.localText(p.start, zone: Self.rome))
                    #expect(number(row["withdrawalKWh"]) == Self.text(p.withdrawalKWh))
                    #expect(number(row["injectionKWh"]) == Self.text(p.injectionKWh))
                    #expect(row["source"]?.stringValue == p.source.rawValue)
                    #expect(row["quality"]?.arrayValue?.compactMap(\.stringValue) == p.flags.names)
                }
            }
        }
        // Spot checks written out: the first quarter of POD 1 starts at local midnight in winter time,
        // the first quarter after the spring change is 03:00 summer time; POD 3's silent hour is null.
        let pod1 = devices[0]["quarterHours"]!.arrayValue!
        #expect(pod1[0]["startLocal"]?.stringValue == "2026-03-28T00:00:00+01:00")
        #expect(pod1[1]["withdrawalKWh"].map { JSONWriter.render($0, pretty: false) } == "0.125")
        let afterChange = pod1.first { $0["start"]?.stringValue == "2026-03-29T01:00:00Z" }
        #expect(afterChange?["startLocal"]?.stringValue == "2026-03-29T03:00:00+02:00")
        let pod3 = devices[2]["quarterHours"]!.arrayValue!
        #expect(pod3[20]["withdrawalKWh"] == .null && pod3[20]["quality"]?.arrayValue == [.string("gap")])
        let pod3Hours = devices[2]["hours"]!.arrayValue!
        #expect(pod3Hours[5]["withdrawalKWh"] == .null && pod3Hours[4]["withdrawalKWh"].map { JSONWriter.render($0, pretty: false) } == "0.200")
        let pod2Hours = devices[1]["hours"]!.arrayValue!
        #expect(pod2Hours[12]["injectionKWh"].map { JSONWriter.render($0, pretty: false) } == "1.500")
        #expect(devices[1]["instantPower"]?["watts"].map { JSONWriter.render($0, pretty: false) } == "-1520.4")
    }

    /// The JSON Schema accepts the document and refuses a broken one (python3-jsonschema).
    @Test(.enabled(if: pythonJSONSchemaAvailable, "python3 with jsonschema is not installed"))
    func jsonMatchesTheSchema() throws {
        let dir = TemporaryDirectory("cer-schema")
        let good = dir.file("good.json"), bad = dir.file("bad.json")
        let text = CERExportCodec.json(Self.fixture())
        try text.write(toFile: good, atomically: true, encoding: .utf8)
        try text.replacingOccurrences(of: "\"source\": \"meter\"", with: "\"source\": \"guess\"").write(toFile: bad, atomically: true, encoding: .utf8)
        let script = """
        import json, sys
        from jsonschema import Draft202012Validator
        schema = json.load(open(sys.argv[1], encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        v = Draft202012Validator(schema)
        print(json.dumps([len(list(v.iter_errors(json.load(open(p, encoding="utf-8"))))) for p in sys.argv[2:]]))
        """
        let run = try runCommand("/usr/bin/env", ["python3", "-c", script, BuiltProducts.packageRoot + "/Docs/cer-export.schema.json", good, bad],
                                 timeout: .seconds(60))
        try #require(run.status == 0, "python failed: \(run.stderr)")
        let counts = try JSONParser.parse(run.stdout).arrayValue?.compactMap(\.intValue)
        #expect(counts?.first == 0)
        #expect((counts?.last ?? 0) > 0)
    }

    @Test func curvesCSVFieldByField() {
        let doc = Self.fixture()
        let lines = CERExportCodec.curvesCSV(doc).components(separatedBy: "\r\n").dropLast()
        #expect(lines.first == "pod,device_id,serial_number,resolution_minutes,start_utc,start_local,withdrawal_kwh,injection_kwh,source,quality")
        let rows = lines.dropFirst().map { $0.components(separatedBy: ",") }
        #expect(rows.count == 3 * (Self.quarterCount + 47))
        var i = 0
        for d in doc.devices {
            for p in d.quarterHours + d.hours {
                let r = rows[i]
                #expect(r == [d.pod, d.deviceID, d.serialNumber ?? "", String(p.minutes), ISO8601.format(p.start),
                              CERExportCodec.localText(p.start, zone: Self.rome), Self.text(p.withdrawalKWh) ?? "", Self.text(p.injectionKWh) ?? "",
                              p.source.rawValue, p.flags.names.joined(separator: "+")])
                i += 1
            }
        }
        #expect(rows[0] == ["IT001E00000001", "gw-rome-1/m1", "SN-100", "15", "2026-03-27T23:00:00Z", "2026-03-28T00:00:00+01:00",
                            "0.100", "0.000", "meter", "ok"])
        let devicesCSV = CERExportCodec.devicesCSV(doc).components(separatedBy: "\r\n")
        #expect(devicesCSV[2] == "IT001E00000002,gw-rome-1/m2,gw-rome-1,m2,SN-200,2026-03-29T22:00:00Z,2000.500,321.125,2026-03-29T21:59:50Z,-1520.4")
        #expect(devicesCSV[3] == "IT001E00000003,gw-rome-1/m3,gw-rome-1,m3,,2026-03-29T22:00:00Z,3000.500,,,")
    }

    @Test func monthlyReport() {
        let t = ISO8601.parse("2026-04-01T00:00:00Z")!
        let report = MonthlyReportInput(
            year: 2026, month: 3, generatedAt: t,
            consumption: [.init(gateway: "gw-1", meter: "m1", pod: "IT001E1", startKWh: 100, endKWh: 350.25, withdrawalKWh: 250.25, injectionKWh: 0),
                          .init(gateway: "gw-1", meter: "m2", pod: nil, startKWh: nil, endKWh: nil, withdrawalKWh: nil, injectionKWh: nil)],
            zeroConsumption: [.init(gateway: "gw-1", meter: "h7", pod: "IT001E7", since: ISO8601.parse("2026-03-20T10:00:00Z")!, rule: "no-consumption")],
            openAlarms: [.init(gateway: "gw-1", key: AlarmKey(rule: "tamper", meter: "h7"), phase: .acknowledged, severity: .critical,
                               raisedAt: ISO8601.parse("2026-03-21T08:15:00Z")!, value: 1, threshold: nil)],
            devices: [.init(gateway: "gw-1", meter: nil, status: "online", lastSeen: t), .init(gateway: "gw-1", meter: "m2", status: "offline", lastSeen: nil)])
        let lines = MonthlyReportCodec.csv(report).components(separatedBy: "\r\n")
        #expect(lines == [
            "monthly_report,2026-03,generated,2026-04-01T00:00:00Z", "",
            "consumption", "gateway,meter,pod,start_kwh,end_kwh,withdrawal_kwh,injection_kwh",
            "gw-1,m1,IT001E1,100.000,350.250,250.250,0.000", "gw-1,m2,,,,,", "",
            "zero_consumption", "gateway,meter,pod,since,rule", "gw-1,h7,IT001E7,2026-03-20T10:00:00Z,no-consumption", "",
            "open_alarms", "gateway,rule,meter,phase,severity,raised_at,value,threshold",
            "gw-1,tamper,h7,acknowledged,critical,2026-03-21T08:15:00Z,1,", "",
            "device_status", "gateway,meter,status,last_seen", "gw-1,,online,2026-04-01T00:00:00Z", "gw-1,m2,offline,", "",
        ])
        let reads = [CounterRead(time: ISO8601.parse("2026-02-28T23:50:00Z")!, value: 90), CounterRead(time: ISO8601.parse("2026-03-01T00:05:00Z")!, value: 100),
                     CounterRead(time: ISO8601.parse("2026-03-31T23:45:00Z")!, value: 350.25)]
        let used = MonthlyReportCodec.consumption(reads: reads, start: ISO8601.parse("2026-03-01T00:00:00Z")!, end: t)
        #expect(used?.first == 100 && used?.last == 350.25 && used?.used == 250.25)
        #expect(MonthlyReportCodec.consumption(reads: [reads[1], CounterRead(time: reads[2].time, value: 5)], start: reads[1].time, end: t) == nil)
        #expect(CSVField.line(["a,b", "say \"hi\"", "x;y"]) == "\"a,b\",\"say \"\"hi\"\"\",\"x;y\"\r\n")
    }

    static let pythonJSONSchemaAvailable: Bool = {
        (try? runCommand("/usr/bin/env", ["python3", "-c", "import jsonschema"], timeout: .seconds(30)))?.status == 0
    }()

    private func number(_ v: JSONValue?) -> String? {
        guard let v, case .number(_, let text) = v else { return nil }
        return text
    }
}
