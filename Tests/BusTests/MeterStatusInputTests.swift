import Foundation
import Testing
import ConcentratorCore
import Monitoring
import Platform
import TestSupport
@testable import Bus
@testable import MeterSimulator

/// Issue 14 §1 and §2 beyond Modbus, over one real PTY with meter-sim's line timing:
/// - tamper and error inputs: a DLMS meter's alarm register (class 1, 0-0:97.98.0.255, attribute 2)
///   and an IEC 62056-21 meter's error code (`F.F(…)`) are read with the values into the snapshot's
///   status, their bits named by the profile, and `flag` rules raise on them;
/// - a schedule's output may be a DLMS meter's disconnect control (class 70): the configuration
///   accepts it, and the schedule engine's decisions switch the meter's output_state through the
///   bus owner (the path the agent's schedule runner takes).
/// (In the mixed-bus suite: its tests run one at a time, never two PTY fields at once.)
extension MixedProtocolBusTests {
    /// A configuration of the mixed field's meters with flag rules on the DLMS and IEC inputs and a
    /// night schedule on the E450's disconnect control, validated against the field's profiles.
    static func configuration(_ field: MixedField, output meter: String = "d17") throws(ValidationFailure) -> ConcentratorConfig {
        let meters = field.meters.map { m, _ in
            let address: String = switch m.address {
            case .hdlc(let a): String(a)
            case .modbus(let a): String(a)
            case .iecDevice(let d): "\"\(d)\""
            default: "0"
            }
            return #"{"id": "\#(m.id)", "bus": "bus1", "protocol": "\#(m.protocolKind.rawValue)", "address": \#(address), "profile": "\#(m.profile)"}"#
        }
        let text = """
        {"device": {"id": "gw-test"}, "buses": [{"name": "bus1", "device": "/dev/ttyS1"}],
         "meters": [\(meters.joined(separator: ","))],
         "monitoring": {
           "location": {"latitude": 41.9028, "longitude": 12.4964, "timeZone": "Europe/Rome"},
           "alarms": [{"id": "dlms-tamper", "meters": ["d17"], "kind": "flag", "flag": "tamper", "severity": "critical"},
                      {"id": "iec-error", "meters": ["i2"], "kind": "flag", "flag": "meter_error", "severity": "error"}],
           "outputs": [{"id": "breaker", "kind": "relay", "meter": "\(meter)"}],
           "schedules": [{"id": "night", "output": "breaker", "windows": [{"from": "22:00", "to": "06:00"}]}]}}
        """
        let context = ConfigurationContext(profiles: field.meters.map(\.1), supportedProtocols: [.modbus, .dlms, .iec62056_21])
        return try ConfigurationLoader.load(text: text, source: "test.json", context: context)
    }

    @Test(.timeLimit(.minutes(2))) func alarmRegisterAndErrorCodeRaiseFlagRules() throws {
        let field = try MixedField(clock: clockBeforeBoundary(secondsBefore: 1), statusInputs: true)
        // Cover open and tamper on the E450; on meter 00000002 the error code's bit 31.
        #expect(field.simulator.handleControlLine("status-bits 17 0x5") == "ok status-bits 17 5")
        #expect(field.simulator.handleControlLine("iec-error 00000002 0x80000000") == "ok iec-error 00000002 2147483648")
        let sink = ArchiveLikeSink()
        let owner = field.owner(sink: sink)
        owner.start()
        defer { owner.stop() }
        #expect(waitUntil(timeout: .seconds(90)) { owner.status().cyclesCompleted >= 1 })
        let snapshots = Dictionary(sink.all.filter { MixedProtocolBusTests.interval.isBoundary($0.intervalStart) && !$0.values.isEmpty }.map { ($0.meter, $0) },
                                   uniquingKeysWith: { a, _ in a })
        #expect(snapshots["d17"]?.status == 5, "the alarm register was read with the values: \(String(describing: snapshots["d17"]?.status))")
        #expect(snapshots["i2"]?.status == 0x8000_0000 && snapshots["i1"]?.status == 0)
        #expect(snapshots["d18"]?.status == nil && snapshots["d19"]?.status == nil, "no status input declared: none read")
        #expect(snapshots["d17"].map { $0.values.allSatisfy { $0.value != nil } } == true, "the extra GET costs no value")
        // The meter saw one GET of its alarm register's value per read.
        #expect(field.served.contains { $0.slave == 17 && $0.object == "0-0:97.98.0.255/2" })

        // The profiles' bit names turn the raw values into flags, and the rules raise on them.
        let profiles = Dictionary(field.meters.map { ($0.0.id, $0.1) }, uniquingKeysWith: { a, _ in a })
        let config = try MixedProtocolBusTests.configuration(field)
        var engine = AlarmEngine(config: config)
        var raised: [String] = []
        for meter in ["d17", "i2", "i1"] as [MeterID] {
            let snapshot = try #require(snapshots[meter])
            let flags = snapshot.status.map { profiles[meter]!.statusBits.flags(fromRaw: $0) } ?? [:]
            if meter == "d17" { #expect(flags == ["cover_open": true, "tamper": true, "power_fail": false]) }
            if meter == "i2" { #expect(flags == ["tamper": false, "meter_error": true]) }
            raised += engine.observe(MeterObservation(snapshot: snapshot, flags: flags)).map { "\($0.key.rule)/\($0.key.meter)" }
        }
        #expect(raised.sorted() == ["dlms-tamper/d17", "iec-error/i2"], "\(raised)")
    }

    @Test(.timeLimit(.minutes(1))) func aScheduleSwitchesTheDisconnectControl() throws {
        let field = try MixedField(clock: clockBeforeBoundary(secondsBefore: 3600), statusInputs: true)
        let config = try MixedProtocolBusTests.configuration(field)
        let monitoring = try #require(config.monitoring)
        #expect(monitoring.outputs == [SwitchedOutput(id: "breaker", kind: .relay, meter: "d17")])
        // A DLMS meter without a disconnect control is refused as an output, naming the key.
        do {
            _ = try MixedProtocolBusTests.configuration(field, output: "d18")
            Issue.record("an output on a meter without a disconnect control was accepted")
        } catch {
            #expect(error.issues.contains { $0.path == "$.monitoring.outputs[0].meter" && $0.problem.contains("declares no relay") }, "\(error.issues)")
        }
        let zone = try ZoneRules(tzif: try ZoneInfoFiles.read(zone: "Europe/Rome"), name: "Europe/Rome")
        let engine = try #require(ScheduleEngine(settings: monitoring, zone: zone))
        let owner = field.owner(sink: ArchiveLikeSink(), schedule: .onDemandOnly)
        owner.start()
        defer { owner.stop() }
        // 21:00, 23:00, 05:00, 07:00 local on 2026-03-28/29 (across the spring change): off, on, on, off.
        let instants = ["2026-03-28T20:00:00Z", "2026-03-28T22:00:00Z", "2026-03-29T03:00:00Z", "2026-03-29T05:00:00Z"]
        var states: [Bool] = []
        for text in instants {
            let decision = try #require(engine.decision(for: "breaker", at: ISO8601.parse(text)!))
            let wanted = decision.state == .on
            let meter = try #require(monitoring.outputs.first { $0.id == decision.output }?.meter)
            #expect(try owner.setRelay(meter: meter, connected: wanted).get() == wanted)
            states.append(try #require(field.simulator.dlmsOutputState(address: 17)))
        }
        #expect(states == [false, true, true, false], "the meter's output_state followed the schedule")
        let methods = field.served.filter { $0.slave == 17 }.compactMap(\.object).filter { $0.hasPrefix("0-0:96.3.10.255/m") }
        #expect(methods == ["0-0:96.3.10.255/m1", "0-0:96.3.10.255/m2", "0-0:96.3.10.255/m2", "0-0:96.3.10.255/m1"])
    }
}
