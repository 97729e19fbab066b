import ConcentratorCore
import Testing
@testable import Monitoring

/// Alarm rules in virtual time: every input carries its own timestamp, so days pass in microseconds.
@Suite struct AlarmEngineTests {
    static let t0 = ISO8601.parse("2026-05-04T08:00:00Z")!

    static func config(rules: [AlarmRule], rateLimit: AlarmRateLimit = AlarmRateLimit()) -> ConcentratorConfig {
        ConcentratorConfig(device: DeviceSettings(id: "gw-1"), buses: [BusSettings(name: "bus1", device: "/dev/ttyS1")], meters: [
            MeterSettings(id: "m1", bus: "bus1", address: .modbus(1), profile: "eastron-sdm630", pod: "IT001E00000001"),
            MeterSettings(id: "m2", bus: "bus1", address: .modbus(2), profile: "eastron-sdm630"),
            MeterSettings(id: "h1", bus: "bus1", address: .modbus(3), profile: "heat-meter"),
        ], monitoring: MonitoringSettings(alarms: rules, rateLimit: rateLimit))
    }

    static func engine(_ rules: [AlarmRule], rateLimit: AlarmRateLimit = AlarmRateLimit(),
                       restoring: [AlarmKey: AlarmInstanceState] = [:]) -> AlarmEngine {
        AlarmEngine(config: config(rules: rules, rateLimit: rateLimit), restoring: restoring)
    }

    static func reading(_ meter: MeterID, _ quantity: QuantityID, _ value: Double, at seconds: Int64) -> MeterObservation {
        MeterObservation(meter: meter, time: t0.adding(seconds: seconds), values: [quantity: value])
    }

    /// m1's voltage_l1.
    static func reading(_ value: Double, at seconds: Int64) -> MeterObservation { reading("m1", "voltage_l1", value, at: seconds) }

    static let overvoltage = AlarmRule(id: "overvoltage", scope: .meters(["m1"]),
                                       condition: .threshold(quantity: "voltage_l1", direction: .above, limit: 253, hysteresis: 3))

    @Test func thresholdWithHysteresis() {
        var engine = Self.engine([Self.overvoltage])
        #expect(engine.observe(Self.reading(250, at: 0)).isEmpty)
        let raised = engine.observe(Self.reading(254.5, at: 60))
        #expect(raised.map(\.kind) == [.raised])
        #expect(raised.first?.value == 254.5 && raised.first?.threshold == 253 && raised.first?.occurrence == 1)
        #expect(raised.first?.key == AlarmKey(rule: "overvoltage", meter: "m1"))
        // Inside the band (250 ≤ v ≤ 253): still raised, not raised again.
        #expect(engine.observe(Self.reading(252, at: 120)).isEmpty)
        #expect(engine.observe(Self.reading(250.5, at: 180)).isEmpty)
        #expect(engine.observe(Self.reading(255, at: 240)).isEmpty)
        #expect(engine.states[AlarmKey(rule: "overvoltage", meter: "m1")]?.phase == .raised)
        let cleared = engine.observe(Self.reading(249.9, at: 300))
        #expect(cleared.map(\.kind) == [.cleared] && cleared.first?.phase == .cleared)
        #expect(engine.observe(Self.reading(252, at: 360)).isEmpty)
        #expect(engine.observe(Self.reading(253.1, at: 420)).first?.occurrence == 2)
        // Another meter and an unrelated quantity change nothing.
        #expect(engine.observe(Self.reading("m2", "voltage_l1", 300, at: 480)).isEmpty)
        #expect(engine.observe(Self.reading("m1", "voltage_l2", 300, at: 480)).isEmpty)
    }

    @Test func belowThreshold() {
        let rule = AlarmRule(id: "low-pf", scope: .profiles(["eastron-sdm630"]),
                             condition: .threshold(quantity: "power_factor_total", direction: .below, limit: 0.8, hysteresis: 0.05))
        var engine = Self.engine([rule])
        #expect(engine.observe(Self.reading("m2", "power_factor_total", 0.79, at: 0)).map(\.kind) == [.raised])
        #expect(engine.observe(Self.reading("m2", "power_factor_total", 0.84, at: 60)).isEmpty)
        #expect(engine.observe(Self.reading("m2", "power_factor_total", 0.86, at: 120)).map(\.kind) == [.cleared])
    }

    /// The condition must hold at every reading for the minimum duration; a reading back below the
    /// limit resets the wait.
    @Test func minimumDuration() {
        var rule = Self.overvoltage
        rule.minimumDurationSeconds = 60
        var engine = Self.engine([rule])
        let key = AlarmKey(rule: "overvoltage", meter: "m1")
        #expect(engine.observe(Self.reading(254, at: 0)).isEmpty)
        #expect(engine.states[key]?.phase == .pending)
        #expect(engine.observe(Self.reading(256, at: 30)).isEmpty)
        #expect(engine.observe(Self.reading(251, at: 50)).isEmpty) // in the band: the pending alarm lapses
        #expect(engine.states[key]?.phase == .inactive)
        #expect(engine.observe(Self.reading(254, at: 70)).isEmpty)
        #expect(engine.observe(Self.reading(254, at: 129)).isEmpty)
        // Time alone does not raise a reading-driven rule: it needs a reading that still violates.
        #expect(engine.advance(to: Self.t0.adding(seconds: 200)).isEmpty)
        let raised = engine.observe(Self.reading(254, at: 130))
        #expect(raised.map(\.kind) == [.raised] && raised.first?.time == Self.t0.adding(seconds: 130))
    }

    /// Zero consumption over 3 days, hourly counter reads: raised exactly when 72 hours have passed
    /// since the counter last grew, cleared at the first growth after.
    @Test func zeroConsumptionOverThreeDays() {
        let rule = AlarmRule(id: "no-consumption", scope: .meters(["h1"]),
                             condition: .zeroConsumption(quantity: "heat_energy", days: 3, tolerance: 0.001))
        var engine = Self.engine([rule])
        var counter = 1000.0
        var transitions: [(Int, AlarmTransition)] = []
        for hour in 0..<(24 * 6) {
            if hour <= 20 { counter += 1.5 }          // consumption until hour 20
            if hour == 120 { counter += 0.0005 }      // below the tolerance: still nothing
            if hour == 130 { counter += 2 }            // consumption resumes
            for t in engine.observe(Self.reading("h1", "heat_energy", counter, at: Int64(hour) * 3600)) { transitions.append((hour, t)) }
        }
        #expect(transitions.map(\.0) == [92, 130])
        #expect(transitions.map(\.1.kind) == [.raised, .cleared])
        #expect(transitions.first?.1.value == 0 && transitions.first?.1.threshold == 0.001)
    }

    /// A counter that goes down (meter replaced) starts a new quiet period instead of raising.
    @Test func zeroConsumptionCounterReset() {
        let rule = AlarmRule(id: "z", scope: .meters(["h1"]), condition: .zeroConsumption(quantity: "heat_energy", days: 1, tolerance: 0))
        var engine = Self.engine([rule])
        #expect(engine.observe(Self.reading("h1", "heat_energy", 500, at: 0)).isEmpty)
        #expect(engine.observe(Self.reading("h1", "heat_energy", 3, at: 80_000)).isEmpty)
        #expect(engine.observe(Self.reading("h1", "heat_energy", 3, at: 100_000)).isEmpty)
        #expect(engine.observe(Self.reading("h1", "heat_energy", 3, at: 80_000 + 86_400)).map(\.kind) == [.raised])
    }

    /// A flapping input: a raise and a clear every two minutes for three hours. At most
    /// `maxTransitionsPerHour` raises and clears go out in any sliding hour, then one flapping
    /// summary, then at most one summary an hour; an hour of quiet ends it with the state at that time.
    @Test func flappingUnderTheRateLimit() {
        var engine = Self.engine([Self.overvoltage], rateLimit: AlarmRateLimit(maxTransitionsPerHour: 6))
        var sent: [AlarmTransition] = []
        for minute in stride(from: 0, to: 180, by: 2) {
            let value = (minute / 2) % 2 == 0 ? 260.0 : 240.0
            sent += engine.observe(Self.reading(value, at: Int64(minute) * 60))
            sent += engine.advance(to: Self.t0.adding(seconds: Int64(minute) * 60 + 30))
        }
        let changes = sent.filter { $0.kind == .raised || $0.kind == .cleared }
        #expect(changes.count == 6)
        for t in changes {
            let inHour = changes.filter { $0.time >= t.time && $0.time.seconds < t.time.seconds + 3600 }
            #expect(inHour.count <= 6)
        }
        let summaries = sent.filter { $0.kind == .flapping }
        #expect(summaries.count == 3) // at 12 min, then one per hour while it goes on (72 and 132 min)
        #expect(summaries.first?.suppressed == 1)
        #expect(summaries.last.map { $0.suppressed! > 50 } == true)
        // The input settles high (raised); after an hour without change, one restatement.
        sent = engine.observe(Self.reading(260, at: 180 * 60))
        #expect(sent.isEmpty) // a change while flapping is held back
        #expect(engine.advance(to: Self.t0.adding(seconds: 180 * 60 + 3599)).isEmpty)
        let ended = engine.advance(to: Self.t0.adding(seconds: 180 * 60 + 3600))
        #expect(ended.map(\.kind) == [.flappingEnded] && ended.first?.phase == .raised)
        // Normal forwarding again.
        #expect(engine.observe(Self.reading(240, at: 250 * 60)).map(\.kind) == [.cleared])
    }

    /// The state survives a restart through its persisted form: a pending alarm keeps its start, and
    /// an alarm raised before the restart is not raised again.
    @Test func restartInTheMiddleDoesNotRaiseTwice() throws {
        var rule = Self.overvoltage
        rule.minimumDurationSeconds = 120
        var first = Self.engine([rule])
        var all: [AlarmTransition] = []
        all += first.observe(Self.reading(260, at: 0))
        all += first.observe(Self.reading(260, at: 60))
        let bytes = AlarmStateCodec.encode(first.states)
        #expect(bytes.count < 200)
        // Restart: a new engine from the persisted bytes.
        var second = Self.engine([rule], restoring: try AlarmStateCodec.decode(bytes))
        all += second.observe(Self.reading(260, at: 120)) // 120 s after the first violation: raised
        all += second.observe(Self.reading(260, at: 180))
        // Restart again while raised.
        var third = Self.engine([rule], restoring: try AlarmStateCodec.decode(AlarmStateCodec.encode(second.states)))
        all += third.observe(Self.reading(261, at: 240))
        all += third.observe(Self.reading(262, at: 300))
        all += third.observe(Self.reading(240, at: 360))
        #expect(all.map(\.kind) == [.raised, .cleared])
        #expect(all.first?.time == Self.t0.adding(seconds: 120) && all.first?.occurrence == 1)
        // The codec round-trips exactly, and rejects garbage.
        #expect(try AlarmStateCodec.decode(AlarmStateCodec.encode(third.states)) == third.states)
        #expect(throws: AlarmStateCodec.Failure.self) { _ = try AlarmStateCodec.decode(Array("{\"x\": 1}".utf8)) }
        #expect(throws: AlarmStateCodec.Failure.self) { _ = try AlarmStateCodec.decode(Array("{\"nokey\": {\"p\": 0}}".utf8)) }
    }

    /// Rules removed from the configuration drop their persisted state (and say so).
    @Test func removedRulesAreDropped() {
        var state = AlarmInstanceState()
        state.phase = .raised
        let engine = Self.engine([Self.overvoltage], restoring: [AlarmKey(rule: "gone", meter: "m1"): state])
        #expect(engine.droppedKeys == [AlarmKey(rule: "gone", meter: "m1")])
        #expect(engine.states.keys.sorted() == [AlarmKey(rule: "overvoltage", meter: "m1")])
    }

    @Test func acknowledgement() {
        var engine = Self.engine([Self.overvoltage])
        let key = AlarmKey(rule: "overvoltage", meter: "m1")
        #expect(engine.acknowledge(key, at: Self.t0) == .notOpen(.inactive))
        _ = engine.observe(Self.reading(260, at: 0))
        guard case .acknowledged(let t) = engine.acknowledge(key, at: Self.t0.adding(seconds: 10)) else {
            Issue.record("not acknowledged")
            return
        }
        #expect(t.kind == .acknowledged && t.phase == .acknowledged && t.event.severity == .info)
        #expect(engine.acknowledge(key, at: Self.t0.adding(seconds: 20)) == .alreadyAcknowledged)
        #expect(engine.observe(Self.reading(270, at: 30)).isEmpty)
        #expect(engine.observe(Self.reading(240, at: 60)).map(\.kind) == [.cleared])
        #expect(engine.acknowledge(key, at: Self.t0.adding(seconds: 70)) == .notOpen(.cleared))
        #expect(engine.acknowledge(AlarmKey(rule: "nope", meter: "m1"), at: Self.t0) == .unknownAlarm)
        #expect(engine.openAlarms.isEmpty)
    }

    /// Communication lost: raised by time once the meter has been silent for the minimum duration.
    @Test func communicationLostAndRestored() {
        let rule = AlarmRule(id: "comm", scope: .profiles(["eastron-sdm630"]), condition: .communicationLost, minimumDurationSeconds: 300)
        var engine = Self.engine([rule])
        #expect(engine.observe(CommunicationChange(meter: "m2", time: Self.t0, answering: false)).isEmpty)
        #expect(engine.advance(to: Self.t0.adding(seconds: 299)).isEmpty)
        let raised = engine.advance(to: Self.t0.adding(seconds: 300))
        #expect(raised.map(\.key) == [AlarmKey(rule: "comm", meter: "m2")])
        #expect(engine.observe(CommunicationChange(meter: "m2", time: Self.t0.adding(seconds: 900), answering: true)).map(\.kind) == [.cleared])
        // A short outage never raises.
        _ = engine.observe(CommunicationChange(meter: "m1", time: Self.t0.adding(seconds: 1000), answering: false))
        _ = engine.observe(CommunicationChange(meter: "m1", time: Self.t0.adding(seconds: 1100), answering: true))
        #expect(engine.advance(to: Self.t0.adding(seconds: 2000)).isEmpty)
    }

    @Test func flagsAndMainsAbsence() {
        let tamper = AlarmRule(id: "tamper", scope: .meters(["h1"]), severity: .critical, condition: .flag(name: "tamper"))
        let mains = AlarmRule(id: "mains", scope: .meters(["m1"]),
                              condition: .mainsAbsence(phases: ["voltage_l1", "voltage_l2", "voltage_l3"], voltageBelow: 100, hysteresis: 80,
                                                       powerFailFlag: "power_fail"))
        var engine = Self.engine([tamper, mains])
        let h1 = { (flags: [String: Bool], s: Int64) in MeterObservation(meter: "h1", time: Self.t0.adding(seconds: s), values: [:], flags: flags) }
        #expect(engine.observe(h1([:], 0)).isEmpty) // no flag read: unknown
        let raised = engine.observe(h1(["tamper": true], 10))
        #expect(raised.map(\.kind) == [.raised] && raised.first?.event.severity == .critical)
        #expect(engine.observe(h1(["tamper": false], 20)).map(\.kind) == [.cleared])
        let m1 = { (v: [Double], flags: [String: Bool], s: Int64) in
            MeterObservation(meter: "m1", time: Self.t0.adding(seconds: s),
                             values: ["voltage_l1": v[0], "voltage_l2": v[1], "voltage_l3": v[2]], flags: flags)
        }
        #expect(engine.observe(m1([230, 231, 229], [:], 0)).isEmpty)
        #expect(engine.observe(m1([230, 12, 229], [:], 10)).first?.value == 12) // one phase down
        #expect(engine.observe(m1([230, 150, 229], [:], 20)).isEmpty) // back, but below 180 (limit + hysteresis)
        #expect(engine.observe(m1([230, 228, 229], [:], 30)).map(\.kind) == [.cleared])
        #expect(engine.observe(m1([230, 228, 229], ["power_fail": true], 40)).map(\.kind) == [.raised])
    }

    /// Spikes: the quarter-hour value against factor × the median of the same quarter-hour on earlier days.
    @Test func spikeAgainstTheMetersOwnProfile() {
        let rule = AlarmRule(id: "spike", scope: .meters(["m1"]),
                             condition: .spike(quantity: "active_energy_import", factor: 3, days: 7, minimumSamples: 4, minimumValue: 0.5))
        var engine = Self.engine([rule])
        let baseline = [1.0, 1.2, 0.9, 1.1, 1.0, 1.05, 0.95]
        let q = { (value: Double, base: [Double], s: Int64) in
            QuarterHourObservation(meter: "m1", quantity: "active_energy_import", intervalStart: Self.t0.adding(seconds: s), value: value, baseline: base)
        }
        #expect(engine.observe(q(2.9, baseline, 0)).isEmpty)
        let raised = engine.observe(q(3.2, baseline, 900))
        #expect(raised.map(\.kind) == [.raised] && raised.first?.threshold == 3.0 && raised.first?.time == Self.t0.adding(seconds: 1800))
        #expect(engine.observe(q(1.0, baseline, 1800)).map(\.kind) == [.cleared])
        #expect(engine.observe(q(30, [1, 1, 1], 2700)).isEmpty) // too few days of history
        #expect(engine.observe(q(0.4, [0.01, 0.01, 0.01, 0.01], 3600)).isEmpty) // below the floor
        #expect(SpikeBaseline.median([3, 1, 2]) == 2 && SpikeBaseline.median([4, 1, 2, 3]) == 2.5 && SpikeBaseline.median([]) == nil)
    }

    /// The same local quarter-hour on earlier days, across the spring change in Rome.
    @Test func spikeBaselineFollowsTheWallClock() throws {
        let rome = try ZoneRulesTests.zone("Europe/Rome")
        var series: [Timestamp: Double] = [:]
        for day in 22...30 {
            let date = LocalDate(year: 2026, month: 3, day: day)!
            series[rome.instant(for: LocalDateTime(date: date, time: TimeOfDay("19:15")!))] = Double(day)
            series[rome.instant(for: LocalDateTime(date: date, time: TimeOfDay("02:15")!))] = Double(100 + day)
        }
        let start = rome.instant(for: LocalDateTime(date: LocalDate(year: 2026, month: 3, day: 30)!, time: TimeOfDay("19:15")!))
        #expect(SpikeBaseline.values(series: series, intervalStart: start, days: 7, zone: rome) == [29, 28, 27, 26, 25, 24, 23])
        // 02:15 did not exist on 29 March: that day is left out.
        let night = rome.instant(for: LocalDateTime(date: LocalDate(year: 2026, month: 3, day: 30)!, time: TimeOfDay("02:15")!))
        #expect(SpikeBaseline.values(series: series, intervalStart: night, days: 3, zone: rome) == [128, 127])
    }

    @Test func eventLineFormat() {
        let t = AlarmTransition(kind: .raised, key: AlarmKey(rule: "overvoltage", meter: "m1"), time: Self.t0, severity: .error,
                                value: 254.5, threshold: 253, occurrence: 3, phase: .raised)
        #expect(t.event.kind == .meterAlarm && t.event.meter == "m1" && t.event.severity == .error)
        #expect(t.event.message == "alarm=raised rule=overvoltage value=254.5 threshold=253 occurrence=3 phase=raised")
        #expect(DecimalText.format(-0.0001, maximumFractionDigits: 3) == "0")
        #expect(DecimalText.fixed(1.0005, fractionDigits: 3) == "1.001" || DecimalText.fixed(1.0005, fractionDigits: 3) == "1.000")
        #expect(DecimalText.fixed(-2.5, fractionDigits: 1) == "-2.5" && DecimalText.fixed(0.25, fractionDigits: 3) == "0.250")
    }
}
