import ConcentratorCore
import Foundation
import Logging
import Platform
import Testing
import TestSupport
@testable import Commands
import Wire

/// Issue 17 #7, the rest: a command message dropped before the command thread read it (its queue of
/// 64 messages full, larger than any command, or dropped by the MQTT client's receive queue) still
/// leaves a trace in the audit: it is counted in the minute's summary row, by reason, with the
/// SHA-256 of the last one whose bytes were received. Before, such drops left one log line a minute.
@Suite struct DroppedCommandAuditTests {
    @Test func messagesDroppedUnreadAreCountedInTheMinutesAuditSummary() async throws {
        let h = try CommandHarness()
        let release = ConditionLock()
        final class Gate: @unchecked Sendable { var open = false }
        let gate = Gate()
        h.executor.during = { _ in
            release.lock()
            while !gate.open { release.wait(for: .milliseconds(20)) }
            release.unlock()
        }
        // A signed ping holds the command thread; 63 junk messages fill the queue to its limit.
        h.processor.submit(h.envelope("ping").signed(by: h.admin))
        for i in 1..<CommandProcessor.queueLimit { h.processor.submit(Array("queued junk \(i)".utf8)) }
        // Beyond the limit: five dropped unread, one too large to be a command, one the MQTT client
        // dropped before copying it.
        let dropped = (0..<5).map { Array("dropped junk \($0)".utf8) }
        for bytes in dropped { h.processor.submit(bytes) }
        h.processor.submit([UInt8](repeating: 0x41, count: CommandEnvelope.maximumBodyBytes + 1024))
        h.processor.noteDropped(DroppedCommandMessage(reason: .queueFull, payload: nil))
        release.withLock { gate.open = true }
        release.broadcast()
        let deadline = ContinuousClock.now + .seconds(20)
        while try h.audit().count < CommandProcessor.unauthenticatedRepliesPerMinute + 2 || h.processor.lastProgress < ContinuousClock.now - .seconds(5),
              ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        try await Task.sleep(for: .milliseconds(300))
        h.processor.stop(timeout: .seconds(10))

        let audit = try h.audit()
        let summaries = audit.filter { $0.result == UnverifiedAuditSummary.result }
        #expect(summaries.count == 1, "\(summaries)")
        let summary = try #require(summaries.first)
        let arguments = try #require(try JSONSerialization.jsonObject(with: Data(summary.arguments.utf8)) as? [String: Any])
        let counts = try #require(arguments["counts"] as? [String: Int])
        // 63 junk messages read: 60 audited on their own, 3 counted as unreadable.
        #expect(counts == ["dropped-queue-full": 6, "dropped-oversized": 1, "unreadable": 3], "\(counts)")
        #expect(audit.count == CommandProcessor.unauthenticatedRepliesPerMinute + 1 + 1, "60 junk entries, the ping, the summary")
        // The three unreadable ones are read first (queued junk 61–63); the drops are counted after
        // them, the last received one being the fifth dropped message.
        #expect(arguments["first"] as? String == Hex.encode(CommandReply.envelopeDigest(of: Array("queued junk 61".utf8))))
        #expect(arguments["last"] as? String == Hex.encode(CommandReply.envelopeDigest(of: dropped[4])))
        #expect(summary.message.contains("dropped-queue-full 6"))
        FaultMatrix.record(fault: "command messages dropped unread are audited", expected: 7,
                           delivered: counts["dropped-queue-full", default: 0] + counts["dropped-oversized", default: 0])
    }
}
