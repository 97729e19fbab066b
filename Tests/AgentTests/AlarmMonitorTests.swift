@testable import Agent
import Archive
import ConcentratorCore
import Foundation
import Logging
import Monitoring
import Platform
import Testing
import TestSupport

/// The agent's alarm side on a real archive in virtual time (a manual clock): transitions are stored
/// with their state and put in the outbox at once; a flapping input stays under the rate limit in the
/// archive and the outbox; a restart in the middle restores the state and does not raise twice; an
/// acknowledgement is stored and sent like any transition.
@Suite(.serialized) struct AlarmMonitorTests {
    static let start = ISO8601.parse("2026-06-01T10:00:00Z")!

    final class Harness: @unchecked Sendable {
        let dir = TemporaryDirectory("alarm-monitor")
        let clock = ManualClock(AlarmMonitorTests.start)
        var logger: Logger = {
            var l = Logger(label: "alarm-monitor-test")
            l.logLevel = .critical
            return l
        }()
        let store: ArchiveStore
        let setup: AgentSetup
        private let workCount = Locked(0)

        static let overvoltage = """
            {"id": "overvoltage", "meters": ["m-1"], "kind": "threshold", "quantity": "voltage_l1",
             "above": 253, "hysteresis": 3, "minimumDurationSeconds": 60}
            """

        init(rateLimit: Int = 6, alarm: String = Harness.overvoltage) throws {
            try """
            {"device": {"id": "gw-1", "stateDirectory": "\(dir.file("state"))", "runtimeDirectory": "\(dir.file("run"))"},
             "buses": [{"name": "bus1", "device": "\(dir.file("bus1.tty"))"}],
             "meters": [{"id": "m-1", "bus": "bus1", "address": 1, "profile": "generic-template"}],
             "monitoring": {"location": {"latitude": 41.9028, "longitude": 12.4964, "timeZone": "Europe/Rome"},
                            "alarms": [\(alarm)], "rateLimit": {"maxTransitionsPerHour": \(rateLimit)}}}
            """.write(toFile: dir.file("config.json"), atomically: true, encoding: .utf8)
            setup = try AgentSetup.load(configPath: dir.file("config.json"), extraProfileDirectories: [BuiltProducts.profilesDirectory])
            store = try ArchiveStore.open(directory: dir.file("state"), clock: clock, logger: logger).store
        }

        var workArrivals: Int { workCount.withLock { $0 } }

        func monitor() -> AlarmMonitor {
            let counter = workCount
            let environment = MonitoringEnvironment(archive: store, clock: clock, logger: logger, reportsToUplink: { true },
                                                    workArrived: { counter.withLock { $0 += 1 } }, noteStored: { _ in },
                                                    clockSynchronised: { true })
            return AlarmMonitor(setup: setup, environment: environment)
        }

        /// One stored snapshot of m-1 with `volts` at the clock's time, after `seconds` more.
        func read(_ monitor: AlarmMonitor, volts: Double, after seconds: Int64 = 30) {
            clock.advance(milliseconds: seconds * 1000)
            let now = clock.now()
            monitor.snapshotsStored([MeterSnapshot(meter: "m-1", intervalStart: now, gatewayTime: now,
                                                   values: [QuantityValue(quantity: "voltage_l1", value: volts)])], series: .interval)
        }

        /// The alarm events stored so far (waits for the alarm thread through a blocking view).
        func alarmMessages(_ monitor: AlarmMonitor) throws -> [String] {
            _ = monitor.alarms()
            return try store.reader.events(from: AlarmMonitorTests.start.adding(seconds: -1), to: clock.now().adding(seconds: 1), limit: 10_000)
                .filter { $0.kind == "meter_alarm" }.map(\.message)
        }

        func outboxCount() throws -> Int { try store.reader.outboxDepth() }
    }

    @Test func aCrossingIsRaisedAfterItsMinimumDurationStoredAndQueuedAtOnce() throws {
        let h = try Harness()
        let monitor = h.monitor()
        h.read(monitor, volts: 230)
        h.read(monitor, volts: 255) // pending: the minimum duration is 60 s
        h.read(monitor, volts: 254)
        #expect(try h.alarmMessages(monitor).isEmpty)
        h.read(monitor, volts: 256) // 60 s over the limit
        let messages = try h.alarmMessages(monitor)
        #expect(messages == ["alarm=raised rule=overvoltage value=256 threshold=253 occurrence=1 phase=raised"], "\(messages)")
        #expect(try h.outboxCount() == 1 && h.workArrivals == 1)
        // Inside the hysteresis band (251 > 253 − 3): still raised; below it: cleared.
        h.read(monitor, volts: 251)
        #expect(try h.alarmMessages(monitor).count == 1)
        h.read(monitor, volts: 249)
        #expect(try h.alarmMessages(monitor).last?.hasPrefix("alarm=cleared rule=overvoltage value=249") == true)
        #expect(try h.outboxCount() == 2)
        #expect(monitor.stop(deadline: .now + .seconds(5)))
    }

    @Test func aRestartInTheMiddleRestoresTheStateAndDoesNotRaiseTwice() throws {
        let h = try Harness()
        var monitor = h.monitor()
        for v in [255.0, 256, 257] { h.read(monitor, volts: v) }
        #expect(try h.alarmMessages(monitor).count == 1)
        #expect(monitor.acknowledge(rule: "overvoltage", meter: "m-1") == .acknowledged(occurrence: 1))
        #expect(monitor.stop(deadline: .now + .seconds(5)))
        // The "agent" restarts; the voltage is still high.
        monitor = h.monitor()
        #expect(monitor.alarms().map { "\($0.key)=\($0.state.phase.name)" } == ["overvoltage@m-1=acknowledged"])
        for v in [258.0, 259, 260] { h.read(monitor, volts: v) }
        #expect(monitor.acknowledge(rule: "overvoltage", meter: "m-1") == .alreadyAcknowledged)
        let messages = try h.alarmMessages(monitor)
        #expect(messages.filter { $0.hasPrefix("alarm=raised") }.count == 1, "\(messages)")
        #expect(messages.map { $0.split(separator: " ").first! } == ["alarm=raised", "alarm=acknowledged"])
        // A restart with a pending alarm keeps when it started: the first read a minute after that start
        // raises it (a pending state lost at the restart would only start a new minute).
        h.read(monitor, volts: 200)
        h.read(monitor, volts: 255)
        #expect(monitor.stop(deadline: .now + .seconds(5)))
        monitor = h.monitor()
        #expect(monitor.alarms().map { "\($0.key)=\($0.state.phase.name)" } == ["overvoltage@m-1=pending"])
        h.read(monitor, volts: 256, after: 60)
        #expect(try h.alarmMessages(monitor).filter { $0.hasPrefix("alarm=raised") }.count == 2)
        #expect(monitor.acknowledge(rule: "nosuch", meter: "m-1") == .unknownAlarm)
        #expect(monitor.stop(deadline: .now + .seconds(5)))
    }

    /// A raise and a clear every 2 minutes for 3 hours (180 changes of the condition): at most
    /// `maxTransitionsPerHour` + 1 events in the first hour and 1 per hour after that reach the archive
    /// and the outbox (Docs/edge-monitoring.md, "Rate limit"), and the flapping's end is reported once.
    @Test func aFlappingInputStaysUnderTheRateLimitInTheArchiveAndTheOutbox() throws {
        let h = try Harness()
        let monitor = h.monitor()
        var high = false
        for _ in 0..<90 {
            high.toggle()
            h.read(monitor, volts: high ? 260 : 240, after: 60)
            h.read(monitor, volts: high ? 261 : 241, after: 60) // the minimum duration passes
        }
        let messages = try h.alarmMessages(monitor)
        let kinds = messages.map { String($0.split(separator: " ").first!.dropFirst("alarm=".count)) }
        #expect(kinds.prefix(6) == ["raised", "cleared", "raised", "cleared", "raised", "cleared"], "\(kinds)")
        #expect(kinds.dropFirst(6).allSatisfy { $0 == "flapping" }, "\(kinds)")
        #expect(messages.count <= 6 + 1 + 2, "\(messages.count) events: \(kinds)")
        #expect(try h.outboxCount() == messages.count)
        // Quiet for an hour: one flapping_ended restates the phase.
        h.read(monitor, volts: 230, after: 3700)
        monitor.advance()
        let after = try h.alarmMessages(monitor)
        #expect(after.count == messages.count + 1 && after.last?.hasPrefix("alarm=flapping_ended rule=overvoltage") == true, "\(after.last ?? "")")
        #expect(monitor.stop(deadline: .now + .seconds(5)))
    }

    /// A spike rule in the agent: at each finished quarter-hour the quarter's energy (derived from the
    /// archived counter reads) is compared with the same local quarter-hour of the last 7 days, read
    /// back from the archive; three times their median raises the alarm.
    @Test func aSpikeAgainstTheMetersOwnProfileIsRaisedFromTheArchive() throws {
        let h = try Harness(alarm: #"{"id": "spike", "meters": ["m-1"], "kind": "spike", "quantity": "active_energy_import", "factor": 3, "days": 7, "minimumValue": 0.2}"#)
        let monitor = h.monitor()
        // Eight days of quarter-hour reads, 0.1 kWh per quarter, then one quarter of 1 kWh.
        let first = AlarmMonitorTests.start.adding(seconds: -8 * 86_400)
        let count = 8 * 96
        func snapshot(_ i: Int, _ kWh: Double) -> MeterSnapshot {
            let t = first.adding(seconds: Int64(i) * 900)
            return MeterSnapshot(meter: "m-1", intervalStart: t, gatewayTime: t, values: [QuantityValue(quantity: "active_energy_import", value: kWh)])
        }
        let history = (0...count).map { snapshot($0, 500 + Double($0) * 0.1) }
        _ = try h.store.performBlocking(.commit(history, source: "seed"))
        h.clock.set(history.last!.intervalStart)
        // The quarter that just ended was ordinary: nothing raised.
        monitor.snapshotsStored([history.last!], series: .interval)
        #expect(try h.alarmMessages(monitor).isEmpty)
        let spike = snapshot(count + 1, 500 + Double(count) * 0.1 + 1.0)
        _ = try h.store.performBlocking(.commit([spike], source: "seed"))
        h.clock.set(spike.intervalStart)
        monitor.snapshotsStored([spike], series: .interval)
        let messages = try h.alarmMessages(monitor)
        #expect(messages == ["alarm=raised rule=spike value=1 threshold=0.3 occurrence=1 phase=raised"], "\(messages)")
        #expect(monitor.stop(deadline: .now + .seconds(5)))
    }

    /// Zero consumption over 3 days, with a restart of the agent in the middle: the quiet period's
    /// start survives the restart, the alarm is raised once when 3 days have passed and cleared by the
    /// next consumption; reads with an unsynchronised clock do not count.
    @Test func zeroConsumptionOverThreeDaysSurvivesARestartAndIsRaisedOnce() throws {
        let h = try Harness(alarm: #"{"id": "no-consumption", "meters": ["m-1"], "kind": "zero-consumption", "quantity": "active_energy_import", "days": 3}"#)
        var monitor = h.monitor()
        func hourly(_ kWh: Double, unsynced: Bool = false) {
            h.clock.advance(milliseconds: 3_600_000)
            let now = h.clock.now()
            monitor.snapshotsStored([MeterSnapshot(meter: "m-1", intervalStart: now, gatewayTime: now, clockUnsynced: unsynced,
                                                   values: [QuantityValue(quantity: "active_energy_import", value: kWh)])], series: .interval)
        }
        for _ in 0..<40 { hourly(812.5) }
        #expect(monitor.stop(deadline: .now + .seconds(5)))
        monitor = h.monitor()
        for _ in 0..<32 { hourly(812.5) } // 71 hours after the first read (the quiet period's start)
        hourly(812.5, unsynced: true)       // 72 hours, but the clock is not trusted
        #expect(try h.alarmMessages(monitor).isEmpty)
        hourly(812.5)                       // 73 hours
        for _ in 0..<5 { hourly(812.5) }
        let raised = try h.alarmMessages(monitor)
        #expect(raised == ["alarm=raised rule=no-consumption value=0 threshold=0 occurrence=1 phase=raised"], "\(raised)")
        hourly(812.75)
        #expect(try h.alarmMessages(monitor).last?.hasPrefix("alarm=cleared rule=no-consumption") == true)
        #expect(monitor.stop(deadline: .now + .seconds(5)))
    }
}
