import Testing
import ConcentratorCore
@testable import Bus

@Suite struct ResponseTimerTests {
    @Test func unknownMeterGetsTheUpperBound() {
        let timer = ResponseTimer(bounds: 100...1000)
        #expect(timer.responseTimeoutMilliseconds(requestWireMilliseconds: 8.3) == 1000)
    }

    @Test func learnsTurnaroundAndStaysInsideBounds() {
        var timer = ResponseTimer(bounds: 50...1000)
        for _ in 0..<50 { timer.observe(turnaroundMilliseconds: 40) }
        let t = timer.responseTimeoutMilliseconds(requestWireMilliseconds: 8.3)
        // srtt → 40, deviation → 0: 8.3 + 40 + max(10, 0) + slack 15 = 73.3
        #expect(abs(t - 73.3) < 1.0)
        var slow = ResponseTimer(bounds: 50...200)
        for _ in 0..<50 { slow.observe(turnaroundMilliseconds: 900) }
        #expect(slow.responseTimeoutMilliseconds(requestWireMilliseconds: 8.3) == 200)
        var fast = ResponseTimer(bounds: 150...1000)
        for _ in 0..<50 { fast.observe(turnaroundMilliseconds: 1) }
        #expect(fast.responseTimeoutMilliseconds(requestWireMilliseconds: 1) == 150)
    }

    @Test func jitterWidensTheTimeout() {
        var steady = ResponseTimer(bounds: 10...5000)
        var jittery = ResponseTimer(bounds: 10...5000)
        for i in 0..<100 {
            steady.observe(turnaroundMilliseconds: 50)
            jittery.observe(turnaroundMilliseconds: i % 2 == 0 ? 20 : 80)
        }
        #expect(jittery.responseTimeoutMilliseconds(requestWireMilliseconds: 0) > steady.responseTimeoutMilliseconds(requestWireMilliseconds: 0) + 50)
    }
}

@Suite struct MeterHealthTests {
    let t0 = Timestamp(seconds: 1_800_000_000)

    @Test func onlyAnsweringMetersDeserveRetries() {
        var h = MeterHealth()
        h.recordFailure(.noResponse, at: t0, livePeriodMilliseconds: 10_000, capMilliseconds: 3_600_000)
        #expect(h.state == .offline)
        #expect(!h.deservesRetry, "a meter never heard from is probed once per cycle")
        var g = MeterHealth()
        g.recordAnswer(at: t0)
        g.recordFailure(.noResponse, at: t0.adding(seconds: 3600), livePeriodMilliseconds: 10_000, capMilliseconds: 3_600_000)
        #expect(g.deservesRetry, "a meter that was answering gets a retry after its first failure")
        g.recordFailure(.noResponse, at: t0.adding(seconds: 7200), livePeriodMilliseconds: 10_000, capMilliseconds: 3_600_000)
        #expect(!g.deservesRetry)
    }

    @Test func liveProbesBackOffExponentiallyUpToTheCap() {
        var h = MeterHealth()
        var now = t0
        var gaps: [Int64] = []
        for _ in 0..<10 {
            h.recordFailure(.noResponse, at: now, livePeriodMilliseconds: 10_000, capMilliseconds: 600_000)
            var probe = now
            while !h.liveProbeDue(at: probe) { probe = probe.adding(milliseconds: 1000) }
            gaps.append(probe.milliseconds - now.milliseconds)
            now = probe
        }
        #expect(gaps == [10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 600_000, 600_000, 600_000, 600_000])
        h.recordAnswer(at: now)
        #expect(h.state == .online)
        #expect(h.liveProbeDue(at: now))
    }

    @Test func exceptionsKeepTheMeterReachable() {
        var h = MeterHealth()
        h.recordAnswer(at: t0, error: .modbusException(2))
        #expect(h.state == .degraded)
        #expect(h.consecutiveFailures == 0)
    }
}
