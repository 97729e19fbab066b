import ConcentratorCore
import Foundation
import Testing
import TestSupport

/// The agent's conversation with systemd, through a NOTIFY_SOCKET the test binds: READY=1 with a
/// STATUS line once the configuration is valid and the archive is open, WATCHDOG=1 pings while
/// every bus loop progresses, none while a bus thread hangs (injected with `test.stall`), and
/// STOPPING=1 then a clean exit on SIGTERM.
@Suite(.serialized) struct SystemdNotifyTests {
    /// systemd's watchdog period for these runs: pings every second, a loop counts as hung after 2 s.
    static let watchdogMicroseconds = 4_000_000

    @Test(.timeLimit(.minutes(1)))
    func readyWithStatusThenRegularPings() throws {
        let field = try SystemdTestFixture(meterCount: 4)
        let agent = try field.startAgent(clockOrigin: "2026-11-21T10:20:00Z", watchdogMicroseconds: Self.watchdogMicroseconds)
        try #require(field.notify.waitFor("READY=1", timeout: .seconds(20)), "no READY=1; agent stderr:\n\(agent.stderr)")
        let ready = try #require(field.notify.messages(containing: "READY=1").first)
        let readyStatus = try #require(ready.assignments.first { $0.hasPrefix("STATUS=") })
        #expect(readyStatus.contains("meters answering"), "\(readyStatus)")
        #expect(readyStatus.contains("/4 meters answering"))
        #expect(!readyStatus.contains("\n"))

        // Pings at a quarter of the period while the bus loop is healthy.
        #expect(waitUntil(timeout: .seconds(6)) { field.notify.messages(containing: "WATCHDOG=1").count >= 4 })
        let pings = field.notify.messages(containing: "WATCHDOG=1").map(\.received)
        let gaps = zip(pings.dropFirst(), pings).map { $0 - $1 }
        #expect(gaps.allSatisfy { $0 < .milliseconds(2500) }, "gaps between pings: \(gaps)")
        #expect(field.notify.messages.first?.assignments.contains("READY=1") == true, "READY=1 must come first")
        #expect(agent.isRunning)
    }

    @Test(.timeLimit(.minutes(1)))
    func pingsStopWhileABusThreadHangsAndResumeAfter() throws {
        let field = try SystemdTestFixture(meterCount: 2)
        let agent = try field.startAgent(clockOrigin: "2026-11-21T10:20:00Z", watchdogMicroseconds: Self.watchdogMicroseconds)
        try #require(field.notify.waitFor("READY=1", timeout: .seconds(20)), "no READY=1; agent stderr:\n\(agent.stderr)")
        try #require(waitUntil(timeout: .seconds(5)) { field.notify.messages(containing: "WATCHDOG=1").count >= 2 })

        let stallMilliseconds = 7000
        let reply = try field.control(#"{"op": "test.stall", "bus": "bus1", "durationMilliseconds": \#(stallMilliseconds)}"#)
        let stalledAt = ContinuousClock.now
        #expect(reply.contains(#""done":true"#) && !reply.contains("error"), "\(reply)")

        // Within half the period (plus one ping interval and scheduling slack) the pings stop and
        // stay stopped for the rest of the hang: systemd would kill and restart the agent.
        #expect(waitUntil(timeout: .seconds(10)) { agent.stderr.contains("made no progress") }, "\(agent.stderr)")
        let silentFrom = stalledAt + .milliseconds(3500)
        let silentUntil = stalledAt + .milliseconds(stallMilliseconds)
        #expect(waitUntil(timeout: .seconds(10)) { ContinuousClock.now > silentUntil })
        let during = field.notify.messages(containing: "WATCHDOG=1").filter { $0.received > silentFrom && $0.received < silentUntil }
        #expect(during.isEmpty, "\(during.count) pings while bus1 was hung")
        #expect(agent.stderr.contains("bus bus1 made no progress"))

        // The hang ends: pings resume.
        #expect(waitUntil(timeout: .seconds(5)) {
            field.notify.messages(containing: "WATCHDOG=1").contains { $0.received > silentUntil }
        })
        #expect(agent.stderr.contains("watchdog pings resumed"))

        // SIGTERM: STOPPING=1, then a clean exit well within TimeoutStopSec.
        let signalled = ContinuousClock.now
        let status = agent.stop(signal: SIGTERM, timeout: .seconds(25))
        #expect(status == 0, "exit status \(String(describing: status)); stderr:\n\(agent.stderr)")
        #expect(ContinuousClock.now - signalled < .seconds(10))
        #expect(field.notify.messages(containing: "STOPPING=1").count == 1)
        #expect(field.notify.messages.last?.assignments.contains("STOPPING=1") == true)
    }

    @Test(.timeLimit(.minutes(1)))
    func testHooksAreRefusedUnlessEnabled() throws {
        let field = try SystemdTestFixture(meterCount: 1)
        let agent = try field.startAgent(clockOrigin: "2026-11-21T10:20:00Z", testHooks: false)
        try #require(field.notify.waitFor("READY=1", timeout: .seconds(20)), "no READY=1; agent stderr:\n\(agent.stderr)")
        // Without WATCHDOG_USEC there is no watchdog: no pings at all.
        let reply = try field.control(#"{"op": "test.stall", "bus": "bus1", "durationMilliseconds": 5000}"#)
        #expect(reply.contains("test-hooks-disabled"), "\(reply)")
        Thread.sleep(forTimeInterval: 1.5)
        #expect(field.notify.messages(containing: "WATCHDOG=1").isEmpty)
        #expect(agent.stop(signal: SIGTERM, timeout: .seconds(25)) == 0)
    }

    /// A configuration error exits 78 (RestartPreventExitStatus=78) before READY=1.
    @Test(.timeLimit(.minutes(1)))
    func configurationErrorExits78WithoutReady() throws {
        let field = try SystemdTestFixture(meterCount: 1)
        try #"{"device": {"id": "gw e2e"}, "buses": [], "meters": []}"#.write(toFile: field.configPath, atomically: true, encoding: .utf8)
        let agent = try field.startAgent(clockOrigin: "2026-11-21T10:20:00Z")
        #expect(agent.waitForExit(timeout: .seconds(20)) == 78)
        #expect(agent.stderr.contains("$.device.id"))
        #expect(field.notify.messages(containing: "READY=1").isEmpty)
    }
}
