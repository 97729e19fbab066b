import ConcentratorCore
import Testing
@testable import Monitoring

/// Schedules on virtual time: the engine says when the next change is, the test jumps there.
@Suite struct ScheduleEngineTests {
    static let rome = try! ZoneRulesTests.zone("Europe/Rome")
    static let romeSite = SiteLocation(latitude: 41.9028, longitude: 12.4964, timeZone: "Europe/Rome")

    static func t(_ s: String) -> Timestamp { ISO8601.parse(s)! }
    static func local(_ t: Timestamp, _ zone: ZoneRules = rome) -> String { CERExportCodec.localText(t, zone: zone) }

    /// Follows the engine's `nextChange` from `start` to `end`: every switching as (instant, state).
    static func run(_ engine: ScheduleEngine, output: String, from start: Timestamp, to end: Timestamp) -> [(Timestamp, OutputState)] {
        var out: [(Timestamp, OutputState)] = []
        var now = start
        while let d = engine.decision(for: output, at: now), let next = d.nextChange, next < end {
            let state = engine.decision(for: output, at: next)!.state
            #expect(state != d.state)
            out.append((next, state))
            now = next
        }
        return out
    }

    /// Street lights on 19:00–06:30 local every day, a relay on 02:30–04:00 (inside the skipped and the
    /// repeated hour), across both 2026 changes in Rome: every switching happens at the right wall-clock time.
    @Test func clockScheduleAcrossBothChanges() {
        let lights = OutputSchedule(id: "street", output: "lights", windows: [ScheduleWindow(from: .clock(TimeOfDay("19:00")!), to: .clock(TimeOfDay("06:30")!))])
        let night = OutputSchedule(id: "pump", output: "pump", windows: [ScheduleWindow(from: .clock(TimeOfDay("02:30")!), to: .clock(TimeOfDay("04:00")!))])
        let engine = ScheduleEngine(location: Self.romeSite, zone: Self.rome, schedules: [lights, night])

        let spring = Self.run(engine, output: "lights", from: Self.t("2026-03-27T12:00:00Z"), to: Self.t("2026-03-31T12:00:00Z"))
        #expect(spring.map { Self.local($0.0) } == [
            "2026-03-27T19:00:00+01:00", "2026-03-28T06:30:00+01:00", "2026-03-28T19:00:00+01:00",
            "2026-03-29T06:30:00+02:00", "2026-03-29T19:00:00+02:00", "2026-03-30T06:30:00+02:00", "2026-03-30T19:00:00+02:00",
            "2026-03-31T06:30:00+02:00",
        ])
        #expect(spring.map(\.1) == [.on, .off, .on, .off, .on, .off, .on, .off])
        #expect(spring[3].0 == Self.t("2026-03-29T04:30:00Z") && spring[1].0 == Self.t("2026-03-28T05:30:00Z"))

        let autumn = Self.run(engine, output: "lights", from: Self.t("2026-10-24T12:00:00Z"), to: Self.t("2026-10-26T12:00:00Z"))
        #expect(autumn.map { Self.local($0.0) } == [
            "2026-10-24T19:00:00+02:00", "2026-10-25T06:30:00+01:00", "2026-10-25T19:00:00+01:00", "2026-10-26T06:30:00+01:00",
        ])
        // The night that ends the summer is an hour longer: 12 h 30 min on, not 11 h 30 min.
        #expect(autumn[1].0.seconds - autumn[0].0.seconds == 12 * 3600 + 1800)

        // 02:30 does not exist on 29 March: the pump starts at 03:30 CEST (the gap's length later).
        let pumpSpring = Self.run(engine, output: "pump", from: Self.t("2026-03-28T12:00:00Z"), to: Self.t("2026-03-29T12:00:00Z"))
        #expect(pumpSpring.map { Self.local($0.0) } == ["2026-03-29T03:30:00+02:00", "2026-03-29T04:00:00+02:00"])
        // 02:30 happens twice on 25 October: the first one, still summer time; off at 04:00 CET.
        let pumpAutumn = Self.run(engine, output: "pump", from: Self.t("2026-10-24T12:00:00Z"), to: Self.t("2026-10-25T12:00:00Z"))
        #expect(pumpAutumn.map { Self.local($0.0) } == ["2026-10-25T02:30:00+02:00", "2026-10-25T04:00:00+01:00"])
        #expect(pumpAutumn[1].0.seconds - pumpAutumn[0].0.seconds == 150 * 60)
    }

    /// Sunset + 10 min to sunrise − 10 min in Rome on the 2026 change days (sunset and sunrise per
    /// the references in SolarCalculatorTests, ±1 min).
    @Test func astronomicalScheduleOnTheChangeDays() {
        let window = ScheduleWindow(from: .solar(.sunset, offsetMinutes: 10), to: .solar(.sunrise, offsetMinutes: -10))
        let engine = ScheduleEngine(location: Self.romeSite, zone: Self.rome, schedules: [OutputSchedule(id: "s", output: "lamps", windows: [window])])
        let switchings = Self.run(engine, output: "lamps", from: Self.t("2026-03-28T12:00:00Z"), to: Self.t("2026-03-30T12:00:00Z"))
        let expected = ["2026-03-28T18:41", "2026-03-29T06:48", "2026-03-29T19:42", "2026-03-30T06:46"]
        #expect(switchings.count == expected.count)
        for (s, e) in zip(switchings, expected) {
            let wanted = Self.rome.instant(for: LocalDateTime(date: LocalDate(String(e.prefix(10)))!, time: TimeOfDay(String(e.suffix(5)))!))
            #expect(abs(s.0.seconds - wanted.seconds) <= 90, "\(Self.local(s.0)) vs \(e)")
        }
        let autumn = Self.run(engine, output: "lamps", from: Self.t("2026-10-25T12:00:00Z"), to: Self.t("2026-10-26T12:00:00Z"))
        // Sunset 17:13:44 + 10 min on the first day of winter time.
        #expect(abs(autumn[0].0.seconds - Self.t("2026-10-25T16:23:44Z").seconds) <= 60)
        #expect(autumn.map(\.1) == [.on, .off])
    }

    /// Weekdays, timers and overrides with an expiry, in their order of precedence.
    @Test func weekdaysTimersAndOverrides() {
        let office = OutputSchedule(id: "office", output: "hvac", windows: [
            ScheduleWindow(from: .clock(TimeOfDay("08:00")!), to: .clock(TimeOfDay("18:00")!),
                           days: [.monday, .tuesday, .wednesday, .thursday, .friday]),
        ])
        var engine = ScheduleEngine(location: Self.romeSite, zone: Self.rome, schedules: [office])
        // 2026-05-02 is a Saturday.
        #expect(engine.decision(for: "hvac", at: Self.t("2026-05-02T10:00:00Z"))?.state == .off)
        let next = engine.decision(for: "hvac", at: Self.t("2026-05-02T10:00:00Z"))?.nextChange
        #expect(next.map { Self.local($0) } == "2026-05-04T08:00:00+02:00")
        #expect(engine.decision(for: "hvac", at: Self.t("2026-05-04T10:00:00Z"))?.state == .on)

        engine.addTimer(OneOffTimer(id: "party", output: "hvac", state: .on, start: Self.t("2026-05-02T18:00:00Z"), end: Self.t("2026-05-02T21:00:00Z")))
        let during = engine.decision(for: "hvac", at: Self.t("2026-05-02T19:00:00Z"))
        #expect(during?.state == .on && during?.source == .timer && during?.nextChange == Self.t("2026-05-02T21:00:00Z"))
        #expect(engine.decision(for: "hvac", at: Self.t("2026-05-02T10:00:00Z"))?.nextChange == Self.t("2026-05-02T18:00:00Z"))

        engine.setOverride(OutputOverride(output: "hvac", state: .off, until: Self.t("2026-05-04T09:00:00Z")))
        let overridden = engine.decision(for: "hvac", at: Self.t("2026-05-02T19:00:00Z"))
        #expect(overridden?.state == .off && overridden?.source == .override)
        // Off until the override expires at 11:00 local on Monday, then on (inside the working day).
        #expect(overridden?.nextChange == Self.t("2026-05-04T09:00:00Z"))
        #expect(engine.decision(for: "hvac", at: Self.t("2026-05-04T09:00:00Z"))?.source == .schedule)
        engine.removeExpired(at: Self.t("2026-05-05T00:00:00Z"))
        #expect(engine.timers.isEmpty && engine.overrides.isEmpty)
        #expect(engine.decision(for: "unknown", at: Self.t("2026-05-02T10:00:00Z")) == nil)
    }

    /// Tromsø, lights from sunset to sunrise: none in the midnight sun, on all day in the polar night,
    /// and the next change found even when it is weeks away.
    @Test func polarDayAndNightSchedules() throws {
        let oslo = try ZoneRulesTests.zone("Europe/Oslo")
        let site = SiteLocation(latitude: 69.6492, longitude: 18.9553, timeZone: "Europe/Oslo")
        let window = ScheduleWindow(from: .solar(.sunset, offsetMinutes: 0), to: .solar(.sunrise, offsetMinutes: 0))
        let engine = ScheduleEngine(location: site, zone: oslo, schedules: [OutputSchedule(id: "s", output: "lamps", windows: [window])])
        let june = engine.decision(for: "lamps", at: Self.t("2026-06-21T10:00:00Z"))
        #expect(june?.state == .off)
        // The first sunset after the midnight sun is in late July.
        let firstSunset = try #require(june?.nextChange)
        #expect(oslo.localDateTime(at: firstSunset).date.month == 7 && oslo.localDateTime(at: firstSunset).date.day >= 20)
        let december = engine.decision(for: "lamps", at: Self.t("2026-12-21T11:00:00Z"))
        #expect(december?.state == .on)
        let firstSunrise = try #require(december?.nextChange)
        #expect(oslo.localDateTime(at: firstSunrise).date.month == 1 && oslo.localDateTime(at: firstSunrise).date.year == 2027)
        // Lights that switch at civil dusk still find dawn and dusk around noon in the polar night.
        let civil = ScheduleEngine(location: site, zone: oslo, schedules: [
            OutputSchedule(id: "c", output: "c", windows: [ScheduleWindow(from: .solar(.civilDusk, offsetMinutes: 0), to: .solar(.civilDawn, offsetMinutes: 0))]),
        ])
        #expect(civil.decision(for: "c", at: Self.t("2026-12-21T11:00:00Z"))?.state == .off)
        #expect(civil.decision(for: "c", at: Self.t("2026-12-21T16:00:00Z"))?.state == .on)
    }
}
