import ConcentratorCore
import Testing
@testable import Monitoring

/// Switching attempts, retries with a growing pause, and the alarm after the retry window.
@Suite struct SwitchingPlannerTests {
    static let t0 = ISO8601.parse("2026-03-28T17:00:00Z")!

    @Test func retriesThenAlarmsThenRecovers() {
        var planner = SwitchingPlanner(policy: SwitchingRetryPolicy(firstRetrySeconds: 30, maxRetryIntervalSeconds: 300, windowSeconds: 900))
        var attempts: [Int64] = []
        var outcomes: [SwitchingOutcome] = []
        var now = Self.t0
        // The meter does not answer for 25 minutes.
        while now.seconds - Self.t0.seconds < 3000 {
            if let a = planner.plan(output: "lights", desired: .on, at: now) {
                attempts.append(now.seconds - Self.t0.seconds)
                #expect(a.attempt == attempts.count && a.state == .on)
                outcomes += planner.record(output: "lights", succeeded: now.seconds - Self.t0.seconds >= 1500, at: now)
            }
            now = now.adding(seconds: 1)
        }
        // 0, +30, +60, +120, +240, then every 300 s.
        #expect(attempts.prefix(8) == [0, 30, 90, 210, 450, 750, 1050, 1350])
        #expect(attempts.last == 1650)
        let alarmed = outcomes.filter { if case .failureAlarmed = $0 { return true }; return false }
        #expect(alarmed.count == 1)
        if case .failureAlarmed(_, _, let at, let n, let since)? = alarmed.first {
            #expect(at.seconds - Self.t0.seconds == 1050 && n == 7 && since == Self.t0)
        }
        #expect(outcomes.suffix(2) == [.switched(output: "lights", state: .on, at: Self.t0.adding(seconds: 1650), attempts: 9),
                                       .failureCleared(output: "lights", state: .on, at: Self.t0.adding(seconds: 1650))])
        #expect(planner.plan(output: "lights", desired: .on, at: now) == nil)
        #expect(planner.states["lights"]?.confirmed == .on && planner.states["lights"]?.alarmed == false)
    }

    @Test func attemptInFlightAtARestartIsRepeated() {
        var planner = SwitchingPlanner(policy: SwitchingRetryPolicy())
        #expect(planner.plan(output: "x", desired: .off, at: Self.t0) != nil)
        #expect(planner.plan(output: "x", desired: .off, at: Self.t0.adding(seconds: 1)) == nil) // waiting for the result
        var restarted = SwitchingPlanner(policy: SwitchingRetryPolicy(), restoring: planner.states)
        #expect(restarted.plan(output: "x", desired: .off, at: Self.t0.adding(seconds: 2))?.attempt == 2)
        // A new desired state while failing starts over.
        _ = restarted.record(output: "x", succeeded: false, at: Self.t0.adding(seconds: 3))
        #expect(restarted.plan(output: "x", desired: .on, at: Self.t0.adding(seconds: 4))?.attempt == 1)
        #expect(restarted.retryDelaySeconds(afterAttempt: 1) == 30 && restarted.retryDelaySeconds(afterAttempt: 20) == 300)
    }

    /// The whole loop on virtual time, the uplink nowhere in it: a schedule drives a simulated relay
    /// from 27 March to 1 November 2026 in Rome; every switching lands on the right wall-clock time,
    /// on both sides of both changes.
    @Test func scheduleDrivesASimulatedRelayAcrossBothChanges() throws {
        let rome = try ZoneRulesTests.zone("Europe/Rome")
        let site = SiteLocation(latitude: 41.9028, longitude: 12.4964, timeZone: "Europe/Rome")
        let engine = ScheduleEngine(location: site, zone: rome, schedules: [
            OutputSchedule(id: "s", output: "relay-1", windows: [ScheduleWindow(from: .clock(TimeOfDay("20:15")!), to: .clock(TimeOfDay("05:45")!))]),
        ])
        var planner = SwitchingPlanner(policy: SwitchingRetryPolicy())
        var relay: OutputState = .off
        var log: [(Timestamp, OutputState)] = []
        var now = ISO8601.parse("2026-03-27T12:00:00Z")!
        let end = ISO8601.parse("2026-11-01T12:00:00Z")!
        while now < end {
            let decision = try #require(engine.decision(for: "relay-1", at: now))
            if let attempt = planner.plan(output: "relay-1", desired: decision.state, at: now) {
                relay = attempt.state
                log.append((now, relay))
                _ = planner.record(output: "relay-1", succeeded: true, at: now)
            }
            guard let next = decision.nextChange else { break }
            now = next
        }
        #expect(log.count == 1 + 2 * 219) // the first decision, then one on and one off per night, 27 March to 31 October
        for (t, state) in log.dropFirst() {
            let local = rome.localDateTime(at: t)
            #expect(local.secondsOfDay == (state == .on ? 20 * 3600 + 900 : 5 * 3600 + 2700), "\(CERExportCodec.localText(t, zone: rome))")
        }
    }
}
