import Archive
@testable import Commands
import ConcentratorCore
import Foundation
import Platform
import Testing
import TestSupport
import Wire

/// Issue 17 #7: a flood of junk used to use up the allowance for unverifiable messages, and the
/// forgeries sent right after left no audit entry. Now every message beyond the allowance is counted
/// in one summary row per minute (counts by reason, first and last digest), and signed-but-refused
/// commands are always audited on their own.
@Suite struct AuditFloodTests {
    @Test func aFloodThenForgeriesEveryForgeryIsVisibleInTheAudit() throws {
        let h = try CommandHarness()
        for i in 0..<CommandProcessor.unauthenticatedRepliesPerMinute {
            h.processor.process(Array("junk \(i)".utf8))
        }
        #expect(try h.audit().count == CommandProcessor.unauthenticatedRepliesPerMinute, "the allowance: one entry each")
        let junk = (0..<3).map { Array("more junk \($0)".utf8) }
        for bytes in junk { h.processor.process(bytes) }
        // A forged restart (a key the device does not know) and a tampered keys.rotate (one signature bit).
        let forged = h.envelope("restart", id: "forged-restart").signed(by: SigningPrivateKey.generate())
        var tampered = h.envelope("keys.rotate", id: "tampered-rotate").signed(by: h.admin)
        tampered[tampered.count - 1] ^= 0x01
        #expect(h.processor.process(forged).reply == nil && h.processor.process(tampered).reply == nil, "beyond the allowance: not answered")
        // A signed command that is refused is audited on its own, however many junk messages came first.
        let refused = h.envelope("restart", id: "signed-but-refused").signed(by: h.reader)
        #expect(h.processor.process(refused).code == "role-too-low")
        #expect(h.executor.ran.isEmpty)

        let audit = try h.audit()
        let summaries = audit.filter { $0.result == UnverifiedAuditSummary.result }
        #expect(summaries.count == 1, "one row for the minute: \(summaries)")
        let summary = try #require(summaries.first)
        let arguments = try #require(try JSONSerialization.jsonObject(with: Data(summary.arguments.utf8)) as? [String: Any])
        let counts = try #require(arguments["counts"] as? [String: Int])
        #expect(counts == ["unreadable": 3, "unknown-key": 1, "bad-signature": 1], "\(counts)")
        #expect(arguments["first"] as? String == Hex.encode(CommandReply.envelopeDigest(of: junk[0])))
        #expect(arguments["last"] as? String == Hex.encode(CommandReply.envelopeDigest(of: tampered)), "the last forgery is named")
        #expect(summary.message.contains("tampered-rotate"))
        #expect(audit.filter { $0.commandID == "signed-but-refused" }.map(\.result) == ["role-too-low"])
        #expect(audit.count == CommandProcessor.unauthenticatedRepliesPerMinute + 2, "the summary replaces itself; it does not grow")

        // The next minute: the allowance is back, its forgeries get entries (and replies) of their own.
        h.clock.advance(milliseconds: 60_000)
        let next = h.envelope("restart", id: "next-minute").signed(by: SigningPrivateKey.generate())
        #expect(try h.reply(h.processor.process(next)).code == "unknown-key")
        #expect(try h.audit().filter { $0.commandID == "next-minute" }.map(\.result) == ["unknown-key"])
        FaultMatrix.record(fault: "audit flood then forgeries", expected: 2,
                           delivered: counts["unknown-key", default: 0] + counts["bad-signature", default: 0])
    }
}
