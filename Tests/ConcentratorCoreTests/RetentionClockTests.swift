import Testing
@testable import ConcentratorCore

/// Issue 17 #4: the clock retention trusts. Virtual time: a wall reading and a monotonic reading per step.
@Suite struct RetentionClockTests {
    let t0 = ISO8601.parse("2026-03-01T00:00:00Z")!
    let day: Int64 = 86_400_000

    @Test func aSteadyClockIsTrusted() {
        var clock = RetentionClock()
        #expect(clock.observe(wall: t0, monotonic: .zero, kernelSynchronised: nil) == nil)
        for hour in 1...48 {
            let wall = t0.adding(seconds: Int64(hour) * 3600 + 3)  // a few seconds of drift are fine
            #expect(clock.observe(wall: wall, monotonic: .seconds(hour * 3600), kernelSynchronised: nil) == nil)
            #expect(clock.trustedNow(wall: wall, monotonic: .seconds(hour * 3600)) == wall)
        }
    }

    @Test func aForwardJumpIsReportedAndRetentionFollowsTheElapsedTime() {
        var clock = RetentionClock()
        _ = clock.observe(wall: t0, monotonic: .zero, kernelSynchronised: false)
        let jumped = t0.adding(milliseconds: 60 * day + 10_000)
        guard case .stepped(let ms, let from, _)? = clock.observe(wall: jumped, monotonic: .seconds(10), kernelSynchronised: false) else {
            Issue.record("no step reported")
            return
        }
        #expect(ms == 60 * day && from == t0.adding(seconds: 10))
        #expect(clock.stepPending)
        // An hour later the trusted time is an hour on, not 60 days.
        let later = jumped.adding(seconds: 3600)
        #expect(clock.observe(wall: later, monotonic: .seconds(3610), kernelSynchronised: false) == nil, "reported once")
        #expect(clock.trustedNow(wall: later, monotonic: .seconds(3610)) == t0.adding(seconds: 3610))
    }

    @Test func aStepIsAcceptedOnlyWithTheKernelSynchronisedForTheConfirmationTime() {
        var clock = RetentionClock(confirmation: .seconds(3600))
        _ = clock.observe(wall: t0, monotonic: .zero, kernelSynchronised: true)
        _ = clock.observe(wall: t0.adding(milliseconds: 2 * day), monotonic: .seconds(1), kernelSynchronised: true)
        #expect(clock.observe(wall: t0.adding(milliseconds: 2 * day + 1_800_000), monotonic: .seconds(1801), kernelSynchronised: true) == nil)
        #expect(clock.observe(wall: t0.adding(milliseconds: 2 * day + 7_200_000), monotonic: .seconds(7201), kernelSynchronised: false) == nil,
                "not while the kernel says unsynchronised")
        #expect(clock.observe(wall: t0.adding(milliseconds: 2 * day + 7_300_000), monotonic: .seconds(7301), kernelSynchronised: true)
                    == .accepted(milliseconds: 2 * day - 1000))
        #expect(!clock.stepPending)
    }

    @Test func backAndForthEndsBackInLine() {
        var clock = RetentionClock()
        _ = clock.observe(wall: t0, monotonic: .zero, kernelSynchronised: nil)
        guard case .stepped(let back, _, _)? = clock.observe(wall: t0.adding(milliseconds: -2 * day), monotonic: .seconds(1), kernelSynchronised: nil) else {
            Issue.record("no step back reported")
            return
        }
        #expect(back == -2 * day - 1000)
        #expect(clock.trustedNow(wall: t0.adding(milliseconds: -2 * day), monotonic: .seconds(1)) == t0.adding(seconds: 1))
        #expect(clock.observe(wall: t0.adding(seconds: 2), monotonic: .seconds(2), kernelSynchronised: nil) == .backInLine)
        #expect(!clock.stepPending)
    }

    @Test func atStartTheEvidenceDecides() {
        let newest = t0
        // Behind what the archive has seen: a step back.
        var a = RetentionClock()
        guard case .stepped(let ms, _, _)? = a.observe(wall: t0.adding(milliseconds: -day), monotonic: .zero, kernelSynchronised: true, evidence: newest) else {
            Issue.record("a clock behind the archive was not reported")
            return
        }
        #expect(ms == -day)
        // Far ahead without the kernel's word: held.
        var b = RetentionClock()
        #expect(b.observe(wall: t0.adding(milliseconds: 60 * day), monotonic: .zero, kernelSynchronised: nil, evidence: newest) != nil)
        #expect(b.trustedNow(wall: t0.adding(milliseconds: 60 * day), monotonic: .seconds(60)) == t0.adding(seconds: 60))
        // Far ahead with the kernel synchronised (a gateway that was off for weeks): trusted.
        var c = RetentionClock()
        #expect(c.observe(wall: t0.adding(milliseconds: 60 * day), monotonic: .zero, kernelSynchronised: true, evidence: newest) == nil)
        // A short gap (a restart): trusted.
        var d = RetentionClock()
        #expect(d.observe(wall: t0.adding(seconds: 1800), monotonic: .zero, kernelSynchronised: nil, evidence: newest) == nil)
    }

    @Test func oneRetentionStepMovesAtMostADayAndNeverBack() {
        #expect(RetentionCutoff.bounded(proposed: t0, previous: nil) == t0)
        #expect(RetentionCutoff.bounded(proposed: t0.adding(milliseconds: 60 * day), previous: t0) == t0.adding(milliseconds: day))
        #expect(RetentionCutoff.bounded(proposed: t0.adding(milliseconds: -2 * day), previous: t0) == t0)
        #expect(RetentionCutoff.bounded(proposed: t0.adding(seconds: 600), previous: t0) == t0.adding(seconds: 600))
    }
}
