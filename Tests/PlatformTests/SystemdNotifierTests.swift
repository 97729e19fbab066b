import Foundation
import Testing
import TestSupport
@testable import Platform

/// The sd_notify datagram protocol (sd_notify(3)): messages arrive as sent at the socket named by
/// NOTIFY_SOCKET, a path or an abstract name; without it every call is a no-op.
@Suite struct SystemdNotifierTests {
    @Test func messagesArriveAtAPathSocket() throws {
        let dir = TemporaryDirectory("notify")
        let socket = try NotifySocket(path: dir.file("notify.sock"))
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.path])
        #expect(notifier.isActive)
        notifier.ready(status: "3/4 meters answering")
        notifier.status("4/4 meters answering")
        notifier.watchdog()
        notifier.stopping()
        #expect(waitUntil(timeout: .seconds(5)) { socket.messages.count == 4 })
        // READY and its STATUS travel in one datagram, so systemd shows the status from the start.
        #expect(socket.messages.map(\.text) == ["READY=1\nSTATUS=3/4 meters answering", "STATUS=4/4 meters answering",
                                                "WATCHDOG=1", "STOPPING=1"])
    }

    @Test func messagesArriveAtAnAbstractSocket() throws {
        let name = "@concentrator-notify-test-\(getpid())"
        let socket = try NotifySocket(path: name)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": name])
        #expect(notifier.notify("READY=1"))
        #expect(socket.waitFor("READY=1", timeout: .seconds(5)))
    }

    @Test func withoutNotifySocketEverythingIsANoOp() {
        let notifier = SystemdNotifier(environment: [:])
        #expect(!notifier.isActive)
        #expect(!notifier.notify("READY=1"))
        #expect(notifier.watchdogInterval == nil)
        let tooLong = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/" + String(repeating: "x", count: 200)])
        #expect(!tooLong.isActive)
    }

    @Test func aSocketNobodyListensOnReportsFailure() {
        let dir = TemporaryDirectory("notify")
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": dir.file("absent.sock")])
        #expect(notifier.isActive)
        #expect(!notifier.notify("READY=1"))
    }

    /// WATCHDOG_USEC is in microseconds; WATCHDOG_PID, when set, must be this process (sd_watchdog_enabled(3)).
    @Test func watchdogIntervalComesFromTheEnvironment() {
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "30000000"]).watchdogInterval == .seconds(30))
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "2500000", "WATCHDOG_PID": "\(getpid())"]).watchdogInterval
            == .milliseconds(2500))
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "\(getpid() + 1)"]).watchdogInterval == nil)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "0"]).watchdogInterval == nil)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "soon"]).watchdogInterval == nil)
    }
}
