import ConcentratorCore
import Foundation
import Testing
import TestSupport
@testable import Monitoring

/// The `monitoring` section of config.json: what it accepts, and every rejection naming its key path
/// and what to do.
@Suite struct MonitoringConfigurationTests {
    static let context = ConfigurationContext(profiles: [
        "eastron-sdm630": .init(protocolKind: .modbus, quantities: ["voltage_l1", "voltage_l2", "voltage_l3", "active_power_total",
                                                                    "power_factor_total", "active_energy_import", "active_energy_export"],
                                statusFlags: [], hasRelay: false),
        "relay-meter": .init(protocolKind: .modbus, quantities: ["voltage_l1", "active_energy_import"],
                             statusFlags: ["tamper", "power_fail"], hasRelay: true),
    ])

    static func document(_ monitoring: String) -> String {
        """
        {
          "device": {"id": "gw-1"},
          "buses": [{"name": "bus1", "device": "/dev/ttyS1"}],
          "meters": [
            {"id": "m1", "bus": "bus1", "address": 1, "profile": "eastron-sdm630", "pod": "IT001E00000001"},
            {"id": "r1", "bus": "bus1", "address": 2, "profile": "relay-meter"}
          ],
          "monitoring": \(monitoring)
        }
        """
    }

    static func issues(_ monitoring: String) -> [ValidationIssue]? {
        do {
            _ = try ConfigurationLoader.load(text: document(monitoring), source: "test.json", context: context)
            return nil
        } catch {
            return error.issues
        }
    }

    static let full = """
    {
        "location": {"latitude": 41.9028, "longitude": 12.4964, "timeZone": "Europe/Rome"},
        "alarms": [
          {"id": "overvoltage", "meters": ["m1"], "kind": "threshold", "quantity": "voltage_l1", "above": 253, "hysteresis": 3,
           "minimumDurationSeconds": 60, "severity": "error"},
          {"id": "mains", "profiles": ["relay-meter"], "kind": "mains-absence", "voltageBelow": 100, "phases": ["voltage_l1"], "powerFailFlag": "power_fail"},
          {"id": "tamper", "meters": ["r1"], "kind": "flag", "flag": "tamper", "severity": "critical"},
          {"id": "comm", "profiles": ["eastron-sdm630", "relay-meter"], "kind": "communication-lost", "minimumDurationSeconds": 300},
          {"id": "no-consumption", "meters": ["m1"], "kind": "zero-consumption", "quantity": "active_energy_import", "days": 3},
          {"id": "spike", "meters": ["m1"], "kind": "spike", "quantity": "active_energy_import", "factor": 3, "days": 7, "minimumValue": 0.2}
        ],
        "rateLimit": {"maxTransitionsPerHour": 4},
        "outputs": [{"id": "street", "kind": "relay", "meter": "r1"}, {"id": "park", "kind": "lighting-circuit", "meter": "m1", "circuit": 2}],
        "schedules": [{"id": "night", "output": "street", "windows": [
          {"from": {"event": "sunset", "offsetMinutes": 10}, "to": {"event": "sunrise", "offsetMinutes": -10}},
          {"from": "06:00", "to": "07:30", "days": ["sat", "sun"]}
        ]}],
        "timers": [{"id": "fair", "output": "park", "start": "2026-05-01T20:00:00+02:00", "end": "2026-05-01T23:00:00+02:00"}],
        "overrides": [{"output": "street", "state": "off", "until": "2026-05-02T06:00:00Z"}],
        "switching": {"firstRetrySeconds": 20, "maxRetryIntervalSeconds": 240, "windowSeconds": 600}
    }
    """

    @Test func aFullSectionLoads() throws {
        let config = try ConfigurationLoader.load(text: Self.document(Self.full), source: "test.json", context: Self.context)
        let m = try #require(config.monitoring)
        #expect(m.location == SiteLocation(latitude: 41.9028, longitude: 12.4964, timeZone: "Europe/Rome"))
        #expect(m.alarms.map(\.id) == ["overvoltage", "mains", "tamper", "comm", "no-consumption", "spike"])
        #expect(m.alarms[0].condition == .threshold(quantity: "voltage_l1", direction: .above, limit: 253, hysteresis: 3))
        #expect(m.alarms[0].severity == .error && m.alarms[0].minimumDurationSeconds == 60)
        #expect(m.alarms[1].condition == .mainsAbsence(phases: ["voltage_l1"], voltageBelow: 100, hysteresis: 0, powerFailFlag: "power_fail"))
        #expect(m.alarms[4].condition == .zeroConsumption(quantity: "active_energy_import", days: 3, tolerance: 0))
        #expect(m.alarms[5].condition == .spike(quantity: "active_energy_import", factor: 3, days: 7, minimumSamples: 4, minimumValue: 0.2))
        #expect(m.alarms[3].meters(in: config) == ["m1", "r1"])
        #expect(m.rateLimit.maxTransitionsPerHour == 4)
        #expect(m.outputs == [SwitchedOutput(id: "street", kind: .relay, meter: "r1"),
                              SwitchedOutput(id: "park", kind: .lightingCircuit, meter: "m1", circuit: 2)])
        #expect(m.schedules.first?.windows == [
            ScheduleWindow(from: .solar(.sunset, offsetMinutes: 10), to: .solar(.sunrise, offsetMinutes: -10)),
            ScheduleWindow(from: .clock(TimeOfDay("06:00")!), to: .clock(TimeOfDay("07:30")!), days: [.saturday, .sunday]),
        ])
        #expect(m.timers.first?.start == ISO8601.parse("2026-05-01T18:00:00Z") && m.timers.first?.state == .on)
        #expect(m.overrides == [OutputOverride(output: "street", state: .off, until: ISO8601.parse("2026-05-02T06:00:00Z")!)])
        #expect(m.switching == SwitchingRetryPolicy(firstRetrySeconds: 20, maxRetryIntervalSeconds: 240, windowSeconds: 600))
        // The engines take the section as it is.
        let engine = AlarmEngine(config: config)
        #expect(engine.states.count == 7 && engine.rateLimit.maxTransitionsPerHour == 4)
        #expect(ScheduleEngine(settings: m, zone: try ZoneRulesTests.zone("Europe/Rome"))?.managedOutputs == ["park", "street"])
    }

    /// Each bad section and the key path and advice it must produce.
    @Test(arguments: [
        (#"{"location": {"latitude": 91, "longitude": 12, "timeZone": "Europe/Rome"}}"#, "$.monitoring.location.latitude", "out of range"),
        (#"{"location": {"latitude": 41, "longitude": 12, "timeZone": "../etc/passwd"}}"#, "$.monitoring.location.timeZone", "not a time zone name"),
        (#"{"location": {"latitude": 41, "longitude": 12}}"#, "$.monitoring.location.timeZone", "missing required key"),
        (#"{"alarms": [{"id": "a", "meters": ["m9"], "kind": "flag", "flag": "tamper"}]}"#, "$.monitoring.alarms[0].meters[0]", "unknown meter"),
        (#"{"alarms": [{"id": "a", "kind": "communication-lost"}]}"#, "$.monitoring.alarms[0]", "needs exactly one of \"meters\" and \"profiles\""),
        (#"{"alarms": [{"id": "a", "profiles": ["nope"], "kind": "communication-lost"}]}"#, "$.monitoring.alarms[0].profiles[0]", "unknown profile"),
        (#"{"alarms": [{"id": "a", "meters": ["m1"], "kind": "threshold", "quantity": "voltage_l1"}]}"#, "$.monitoring.alarms[0]",
         "needs exactly one of \"above\" and \"below\""),
        (#"{"alarms": [{"id": "a", "meters": ["m1"], "kind": "threshold", "quantity": "water_flow", "above": 3}]}"#, "$.monitoring.alarms[0].quantity",
         "no meter of the rule reads this quantity"),
        (#"{"alarms": [{"id": "a", "meters": ["m1"], "kind": "threshold", "quantity": "volts", "above": 3}]}"#, "$.monitoring.alarms[0].quantity",
         "unknown quantity"),
        (#"{"alarms": [{"id": "a", "meters": ["m1"], "kind": "zero-consumption", "quantity": "voltage_l1", "days": 3}]}"#,
         "$.monitoring.alarms[0].quantity", "not a counter"),
        (#"{"alarms": [{"id": "a", "meters": ["m1"], "kind": "zero-consumption", "quantity": "active_energy_import", "days": 90}]}"#,
         "$.monitoring.alarms[0].days", "out of range"),
        (#"{"alarms": [{"id": "a", "meters": ["m1"], "kind": "flag", "flag": "tamper"}]}"#, "$.monitoring.alarms[0].flag",
         "no meter of the rule has this status flag"),
        (#"{"alarms": [{"id": "a", "meters": ["m1"], "kind": "sparkle"}]}"#, "$.monitoring.alarms[0].kind", "not one of the allowed values"),
        (#"{"alarms": [{"id": "a", "meters": ["m1"], "kind": "communication-lost"}, {"id": "a", "meters": ["m1"], "kind": "communication-lost"}]}"#,
         "$.monitoring.alarms[1].id", "duplicate alarm rule id"),
        (#"{"location": {"latitude": 41, "longitude": 12, "timeZone": "UTC"}, "alarms": [{"id": "a", "meters": ["m1"], "kind": "spike", "quantity": "active_energy_import", "factor": 3, "days": 5, "minimumSamples": 6}]}"#,
         "$.monitoring.alarms[0].minimumSamples", "more samples than days"),
        (#"{"alarms": [{"id": "a", "meters": ["m1"], "kind": "spike", "quantity": "active_energy_import", "factor": 3}]}"#, "$.monitoring.location",
         "missing: schedules and spike rules need the site's location"),
        (#"{"rateLimit": {"maxTransitionsPerHour": 1000}}"#, "$.monitoring.rateLimit.maxTransitionsPerHour", "out of range"),
        (#"{"outputs": [{"id": "o", "kind": "relay", "meter": "m1"}]}"#, "$.monitoring.outputs[0].meter", "the meter's profile eastron-sdm630 declares no relay"),
        (#"{"outputs": [{"id": "o", "kind": "lighting-circuit", "meter": "m1"}]}"#, "$.monitoring.outputs[0].circuit", "missing required key"),
        (#"{"outputs": [{"id": "o", "kind": "relay", "meter": "r1", "circuit": 3}]}"#, "$.monitoring.outputs[0].circuit",
         "only lighting circuits have a circuit number"),
        (#"{"location": {"latitude": 41, "longitude": 12, "timeZone": "UTC"}, "schedules": [{"id": "s", "output": "nope", "windows": [{"from": "06:00", "to": "07:00"}]}]}"#,
         "$.monitoring.schedules[0].output", "unknown output"),
        (#"{"location": {"latitude": 41, "longitude": 12, "timeZone": "UTC"}, "outputs": [{"id": "o", "kind": "relay", "meter": "r1"}], "schedules": [{"id": "s", "output": "o", "windows": [{"from": "25:00", "to": "07:00"}]}]}"#,
         "$.monitoring.schedules[0].windows[0].from", "not a time of day"),
        (#"{"location": {"latitude": 41, "longitude": 12, "timeZone": "UTC"}, "outputs": [{"id": "o", "kind": "relay", "meter": "r1"}], "schedules": [{"id": "s", "output": "o", "windows": [{"from": "07:00", "to": "07:00"}]}]}"#,
         "$.monitoring.schedules[0].windows[0].to", "the window starts and ends at the same time"),
        (#"{"location": {"latitude": 41, "longitude": 12, "timeZone": "UTC"}, "outputs": [{"id": "o", "kind": "relay", "meter": "r1"}], "schedules": [{"id": "s", "output": "o", "windows": [{"from": {"event": "moonrise"}, "to": "07:00"}]}]}"#,
         "$.monitoring.schedules[0].windows[0].from.event", "not one of the allowed values"),
        (#"{"location": {"latitude": 41, "longitude": 12, "timeZone": "UTC"}, "outputs": [{"id": "o", "kind": "relay", "meter": "r1"}], "schedules": [{"id": "s", "output": "o", "windows": [{"from": "06:00", "to": "07:00", "days": ["mon", "mon"]}]}]}"#,
         "$.monitoring.schedules[0].windows[0].days[1]", "not a weekday, or listed twice"),
        (#"{"location": {"latitude": 41, "longitude": 12, "timeZone": "UTC"}, "outputs": [{"id": "o", "kind": "relay", "meter": "r1"}], "schedules": [{"id": "s", "output": "o", "windows": [{"from": "06:00", "to": "07:00"}]}, {"id": "t", "output": "o", "windows": [{"from": "08:00", "to": "09:00"}]}]}"#,
         "$.monitoring.schedules[1].output", "output already driven by another schedule ($.monitoring.schedules[0])"),
        (#"{"outputs": [{"id": "o", "kind": "relay", "meter": "r1"}], "schedules": [{"id": "s", "output": "o", "windows": [{"from": "06:00", "to": "07:00"}]}]}"#,
         "$.monitoring.location", "missing: schedules and spike rules need the site's location"),
        (#"{"outputs": [{"id": "o", "kind": "relay", "meter": "r1"}], "timers": [{"id": "t", "output": "o", "start": "2026-05-01T20:00:00", "end": "2026-05-01T21:00:00Z"}]}"#,
         "$.monitoring.timers[0].start", "not an instant"),
        (#"{"outputs": [{"id": "o", "kind": "relay", "meter": "r1"}], "timers": [{"id": "t", "output": "o", "start": "2026-05-01T20:00:00Z", "end": "2026-05-01T19:00:00Z"}]}"#,
         "$.monitoring.timers[0].end", "ends before it starts"),
        (#"{"outputs": [{"id": "o", "kind": "relay", "meter": "r1"}], "overrides": [{"output": "o", "state": "dim", "until": "2026-05-01T19:00:00Z"}]}"#,
         "$.monitoring.overrides[0].state", "not one of the allowed values"),
        (#"{"switching": {"firstRetrySeconds": 60, "maxRetryIntervalSeconds": 30}}"#, "$.monitoring.switching.maxRetryIntervalSeconds",
         "shorter than firstRetrySeconds (60)"),
        (#"{"alarm": []}"#, "$.monitoring.alarm", "unknown key"),
    ])
    func rejections(section: String, path: String, problem: String) throws {
        let issues = try #require(Self.issues(section), "accepted: \(section)")
        let match = issues.first { $0.path == path && $0.problem == problem }
        #expect(match != nil, "wanted \(path): \(problem); got \(issues)")
        if let match, problem != "unknown key", problem != "missing required key" { #expect(match.expected != nil || match.problem.contains("(")) }
    }

    /// Docs/config.schema.json states the loader's ranges and defaults for the monitoring section.
    @Test func schemaRangesAreTheLoaderRanges() throws {
        let schema = try JSONParser.parse(try String(contentsOfFile: BuiltProducts.packageRoot + "/Docs/config.schema.json", encoding: .utf8))
        func node(_ path: [String]) -> JSONValue? { path.reduce(schema as JSONValue?) { $0?[$1] } }
        typealias L = ConfigurationLoader
        let d = ["$defs"]
        let ranges: [([String], ClosedRange<Int>)] = [
            (d + ["monitoring", "properties", "rateLimit", "properties", "maxTransitionsPerHour"], L.rateLimitRange),
            (d + ["monitoring", "properties", "switching", "properties", "firstRetrySeconds"], L.retryFirstRange),
            (d + ["monitoring", "properties", "switching", "properties", "maxRetryIntervalSeconds"], L.retryIntervalRange),
            (d + ["monitoring", "properties", "switching", "properties", "windowSeconds"], L.retryWindowRange),
            (d + ["alarmRule", "properties", "days"], L.zeroConsumptionDaysRange),
            (d + ["switchedOutput", "properties", "circuit"], L.circuitRange),
            (d + ["scheduleTime", "oneOf", "1", "properties", "offsetMinutes"], L.offsetMinutesRange),
        ]
        for (path, range) in ranges {
            // One path goes through an array ("oneOf", element 1), which string keys cannot index.
            let target = node(path) ?? node(Array(path.prefix(3)))?.arrayValue?[1]["properties"]?["offsetMinutes"]
            #expect(target?["minimum"]?.intValue == range.lowerBound, "\(path)")
            #expect(target?["maximum"]?.intValue == range.upperBound, "\(path)")
        }
        #expect(node(d + ["alarmRule", "properties", "factor", "minimum"])?.doubleValue == L.spikeFactorRange.lowerBound)
        #expect(node(d + ["alarmRule", "properties", "kind", "enum"])?.arrayValue?.compactMap(\.stringValue) == L.alarmKinds)
        #expect(node(d + ["monitoring", "properties", "alarms", "maxItems"])?.intValue == L.alarmRuleCountRange.upperBound)
        #expect(node(d + ["monitoring", "properties", "timers", "maxItems"])?.intValue == L.timerCountRange.upperBound)
        let defaults = SwitchingRetryPolicy()
        #expect(node(d + ["monitoring", "properties", "switching", "properties", "windowSeconds", "default"])?.intValue == defaults.windowSeconds)
        #expect(node(d + ["monitoring", "properties", "rateLimit", "properties", "maxTransitionsPerHour", "default"])?.intValue
            == AlarmRateLimit().maxTransitionsPerHour)
        #expect(node(d + ["scheduleTime", "oneOf"])?.arrayValue?[1]["properties"]?["event"]?["enum"]?.arrayValue?.compactMap(\.stringValue)
            == SolarEvent.allCases.map(\.rawValue))
    }

    /// The profile's status register: named bits, refused when they clash.
    @Test func profileStatusRegister() throws {
        func profile(_ status: String) -> String {
            """
            {"id": "x", "name": "X", "manufacturer": "M", "source": "S", "protocol": "modbus",
             "modbus": {"maxRegistersPerRequest": 100, "registers": [{"quantity": "voltage_l1", "function": 4, "address": 0, "type": "f32", "unit": "V"}],
                        "status": \(status)}}
            """
        }
        let loaded = try MeterProfileLoader.parse(profile(#"{"function": 3, "address": "0x0100", "bits": {"tamper": 0, "cover_open": 3, "power_fail": 5}}"#),
                                                  source: "x.json")
        let status = try #require(loaded.modbus?.status)
        #expect(status.address == 0x100 && status.type == .u16 && loaded.statusFlags == ["tamper", "cover_open", "power_fail"])
        #expect(status.flags(fromRaw: 0b101001) == ["tamper": true, "cover_open": true, "power_fail": true])
        #expect(status.flags(fromRaw: 0b000100) == ["tamper": false, "cover_open": false, "power_fail": false])
        #expect(ConfigurationContext(profiles: [loaded]).profiles["x"]?.statusFlags == ["tamper", "cover_open", "power_fail"])
        let bad: [(String, String)] = [
            (#"{"function": 3, "address": 1, "bits": {"a": 0, "b": 0}}"#, "bit 0 is already named \"a\""),
            (#"{"function": 3, "address": 1, "bits": {"a": 16}}"#, "out of range"),
            (#"{"function": 3, "address": 1, "bits": {"Tamper!": 1}}"#, "not a flag name"),
            (#"{"function": 3, "address": 1, "bits": {}}"#, "must name 1–32 bits"),
        ]
        for (status, problem) in bad {
            do {
                _ = try MeterProfileLoader.parse(profile(status), source: "x.json")
                Issue.record("accepted \(status)")
            } catch {
                #expect(error.issues.contains { $0.problem == problem }, "\(status): \(error.issues)")
            }
        }
        #expect(try MeterProfileLoader.parse(profile(#"{"function": 4, "address": 1, "type": "u32", "bits": {"error": 31}}"#), source: "x")
            .modbus?.status?.bits == [ModbusStatusSpec.Bit(name: "error", bit: 31)])
    }
}
