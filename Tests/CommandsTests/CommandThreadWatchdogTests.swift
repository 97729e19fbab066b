import ConcentratorCore
import Foundation
import Logging
import Platform
import Testing
import TestSupport
@testable import Commands
import Wire

/// Issue 17 #8: the command thread is watched like the bus threads. A command blocked for good (a
/// FIFO opened without a writer did that) stops its progress after `hangLimit`, so the watchdog
/// withholds systemd's ping; an idle or briefly busy thread always progresses.
@Suite struct CommandThreadWatchdogTests {
    @Test func aHungCommandStopsTheCommandThreadsProgress() async throws {
        let h = try CommandHarness()
        var logger = Logger(label: "watchdog-test")
        logger.logLevel = .critical
        let release = ConditionLock()
        final class Flag: @unchecked Sendable { var open = false }
        let flag = Flag()
        h.executor.during = { _ in
            release.lock()
            while !flag.open { release.wait(for: .milliseconds(50)) }
            release.unlock()
        }
        let processor = CommandProcessor(deviceID: CommandHarness.deviceID, archive: h.archive, clock: h.clock, logger: logger,
                                         channel: h.channel, executor: h.executor, hangLimit: .seconds(2))
        #expect(ContinuousClock.now - processor.lastProgress < .milliseconds(500), "an idle thread progresses")
        let submitted = ContinuousClock.now
        processor.submit(h.envelope("ping").signed(by: h.admin))
        try await Task.sleep(for: .milliseconds(300))
        #expect(ContinuousClock.now - processor.lastProgress < .milliseconds(500), "a command within its limit progresses")
        while ContinuousClock.now - submitted < .seconds(3.5) { try await Task.sleep(for: .milliseconds(100)) }
        let stalled = ContinuousClock.now - processor.lastProgress
        #expect(stalled > .seconds(1), "a command blocked beyond its limit must stop the progress (\(stalled))")
        release.withLock { flag.open = true }
        release.broadcast()
        try await Task.sleep(for: .milliseconds(500))
        #expect(ContinuousClock.now - processor.lastProgress < .milliseconds(500), "progress again once it finished")
        #expect(h.executor.ran.count == 1)
        processor.stop()
    }
}
