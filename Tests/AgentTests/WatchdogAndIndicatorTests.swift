import ConcentratorCore
import Foundation
import Logging
import Platform
import Testing
import TestSupport
@testable import Agent

/// The decisions behind WATCHDOG=1 and the LEDs, without processes or sleeps where possible.
@Suite struct ProgressWatchdogTests {
    final class Progress: Sendable {
        private let instant: Locked<ContinuousClock.Instant>
        init(_ instant: ContinuousClock.Instant) { self.instant = Locked(instant) }
        var value: ContinuousClock.Instant {
            get { instant.value }
            set { instant.value = newValue }
        }
    }

    @Test func stalledSourcesAreNamedInRegistrationOrder() {
        let start = ContinuousClock.now
        let watchdog = ProgressWatchdog()
        let bus1 = Progress(start), bus2 = Progress(start), uplink = Progress(start)
        watchdog.register(name: "bus bus1") { bus1.value }
        watchdog.register(name: "bus bus2") { bus2.value }
        watchdog.register(name: "uplink") { uplink.value }
        #expect(watchdog.names == ["bus bus1", "bus bus2", "uplink"])
        #expect(watchdog.stalled(now: start + .seconds(10), limit: .seconds(15)).isEmpty)
        bus1.value = start + .seconds(20)
        #expect(watchdog.stalled(now: start + .seconds(20), limit: .seconds(15)) == ["bus bus2", "uplink"])
        uplink.value = start + .seconds(19)
        #expect(watchdog.stalled(now: start + .seconds(20), limit: .seconds(15)) == ["bus bus2"])
    }

    @Test func gatePingsEveryQuarterPeriodAndWithholdsWhileStalled() {
        let t0 = ContinuousClock.now
        var gate = WatchdogGate(interval: .seconds(4), now: t0)
        #expect(gate.stallLimit == .seconds(2))
        #expect(gate.tick(now: t0, stalled: { [] }) == .ping(resumed: false))
        #expect(gate.tick(now: t0 + .milliseconds(500), stalled: { [] }) == .wait)
        #expect(gate.tick(now: t0 + .seconds(1), stalled: { ["bus bus1"] }) == .withhold(stalled: ["bus bus1"], first: true))
        #expect(gate.withheld)
        #expect(gate.tick(now: t0 + .seconds(2), stalled: { ["bus bus1"] }) == .withhold(stalled: ["bus bus1"], first: false))
        #expect(gate.tick(now: t0 + .seconds(3), stalled: { [] }) == .ping(resumed: true))
        #expect(!gate.withheld)
        #expect(gate.tick(now: t0 + .seconds(4), stalled: { [] }) == .ping(resumed: false))
    }
}

@Suite struct IndicatorTests {
    /// An LED that records every state written to it.
    final class RecordingLED: IndicatorLED, @unchecked Sendable {
        let label: String
        var writes: [Bool] = []
        var released = false
        var failAfter: Int?
        init(_ label: String, failAfter: Int? = nil) {
            self.label = label
            self.failAfter = failAfter
        }
        func set(_ on: Bool) throws(FileError) {
            if let failAfter, writes.count >= failAfter { throw FileError(path: "/sys/class/leds/\(label)/brightness", operation: "write", errnoCode: EIO) }
            writes.append(on)
        }
        func release() { released = true }
    }

    final class Counter: Sendable {
        private let n = Locked(0)
        var value: Int { n.value }
        func add(_ k: Int = 1) { n.withLock { $0 += k } }
    }

    @Test func patterns() {
        let heartbeat = (0..<10).map { IndicatorPattern.status(healthy: true, tick: $0) }
        #expect(heartbeat == [true, false, true, false, false, false, false, false, false, false])
        let fast = (0..<4).map { IndicatorPattern.status(healthy: false, tick: $0) }
        #expect(fast == [true, false, true, false])
        #expect((0..<10).map { IndicatorPattern.uplink(.connecting, tick: $0) } == [true, true, true, true, true, false, false, false, false, false])
        #expect((0..<3).allSatisfy { IndicatorPattern.uplink(.connected, tick: $0) && !IndicatorPattern.uplink(.off, tick: $0) })
        #expect(IndicatorPattern.activity(count: 5, previousCount: 4, wasOn: false))
        #expect(!IndicatorPattern.activity(count: 6, previousCount: 5, wasOn: true))
        #expect(!IndicatorPattern.activity(count: 5, previousCount: 5, wasOn: false))
    }

    @Test func panelWritesOnlyChangesAndFollowsCountersAndHealth() {
        let status = RecordingLED("status"), uplink = RecordingLED("uplink"), bus = RecordingLED("bus-activity p1")
        let counter = Counter()
        let healthy = Locked(true)
        let panel = IndicatorPanel(status: status, uplink: uplink, activity: [.init(led: bus, count: { counter.value })],
                                   healthy: { healthy.value }, logger: Logger(label: "test"))
        #expect(panel.ledCount == 3)
        for tick in 0..<10 { panel.step(tick) }
        #expect(status.writes == [true, false, true, false])
        #expect(uplink.writes == [false])
        #expect(bus.writes == [false])
        counter.add()
        panel.step(10)
        panel.step(11)
        #expect(bus.writes == [false, true, false])
        panel.showUplink(.connected)
        panel.step(12)
        #expect(uplink.writes == [false, true])
        // Unhealthy from the next health sample (every 10th tick): a toggle every tick. The LED was
        // left on at tick 12, so tick 20 (on) writes nothing.
        healthy.value = false
        status.writes = []
        for tick in 20..<26 { panel.step(tick) }
        #expect(status.writes == [false, true, false, true, false])
    }

    @Test func aFailingLEDIsDroppedAndTheOthersGoOn() {
        let broken = RecordingLED("status", failAfter: 1)
        let bus = RecordingLED("bus-activity p1")
        let counter = Counter()
        let panel = IndicatorPanel(status: broken, uplink: nil, activity: [.init(led: bus, count: { counter.value })],
                                   healthy: { true }, logger: Logger(label: "test"))
        panel.step(0)
        panel.step(1)
        #expect(panel.ledCount == 1)
        counter.add()
        panel.step(2)
        #expect(bus.writes == [false, true])
        #expect(broken.writes == [true])
    }

    @Test func threadReleasesTheLEDsOnStop() {
        let status = RecordingLED("status")
        let panel = IndicatorPanel(status: status, uplink: nil, activity: [], healthy: { true }, logger: Logger(label: "test"))
        panel.start()
        #expect(waitUntil(timeout: .seconds(5)) { panel.ledCount == 1 && !status.writes.isEmpty })
        panel.stop()
        #expect(status.released)
    }
}
