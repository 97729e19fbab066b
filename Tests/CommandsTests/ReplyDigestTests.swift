import Archive
@testable import Commands
import ConcentratorCore
import Logging
import Platform
import Testing
import TestSupport
import Wire

/// Issue 17 #6: every reply names the exact message it answers (SHA-256 of the envelope as received),
/// so the refusal of a tampered copy can never pass for the answer to the real command.
@Suite struct ReplyDigestTests {
    static let relayDisconnect = json(("meter", .string("m-1")), ("action", .string("disconnect")))

    @Test func aTamperedCopyIsRefusedUnderItsOwnDigestAndTheRealCommandUnderItsOwn() throws {
        let h = try CommandHarness()
        let real = h.envelope("relay", Self.relayDisconnect, id: "confuse").signed(by: h.operatorKey)
        var copy = real
        copy[copy.count - 1] ^= 0x01  // one bit of the signature
        let refused = try h.reply(h.processor.process(copy))
        let answered = try h.reply(h.processor.process(real))
        #expect(refused.commandID == "confuse" && refused.code == "bad-signature")
        #expect(refused.envelopeDigest == CommandReply.envelopeDigest(of: copy))
        #expect(answered.code == "ok" && answered.envelopeDigest == CommandReply.envelopeDigest(of: real))
        #expect(refused.envelopeDigest != answered.envelopeDigest, "the refusal must not name the real message")
        #expect(h.executor.ran.count == 1)
    }

    @Test func aResendWithTheSameIDGetsTheStoredOutcomeAnsweringTheResend() throws {
        let h = try CommandHarness()
        let first = h.envelope("relay", Self.relayDisconnect, id: "again").signed(by: h.operatorKey)
        let resend = h.envelope("relay", Self.relayDisconnect, id: "again").signed(by: h.operatorKey)  // new counter: new bytes
        let original = try h.reply(h.processor.process(first))
        h.clock.advance(milliseconds: 5_000)
        let handling = h.processor.process(resend)
        let repeated = try h.reply(handling)
        #expect(!handling.ran && handling.code == "duplicate" && h.executor.ran.count == 1, "ran twice")
        #expect(repeated.envelopeDigest == CommandReply.envelopeDigest(of: resend))
        var expected = original
        expected.envelopeDigest = repeated.envelopeDigest
        #expect(repeated == expected, "everything but the digest is the stored outcome (code, result, time)")
        // The same bytes again: the same reply, byte for byte.
        #expect(h.processor.process(first).reply == h.channel.published.first)
    }

    @Test func afterAKeyChangeARepeatGetsTheStoredReplyAsItWas() throws {
        let h = try CommandHarness()
        let bytes = h.envelope("keys.rotate", id: "rotate").signed(by: h.admin)
        let stored = try #require(h.processor.process(bytes).reply)
        // The device now signs with a new key (what keys.rotate does); the old one is gone.
        let rotated = RecordingChannel(device: SigningPrivateKey.generate(), keys: h.channel.keys)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let processor = CommandProcessor(deviceID: CommandHarness.deviceID, archive: h.archive, clock: h.clock, logger: logger,
                                         channel: rotated, executor: h.executor)
        let handling = processor.process(h.envelope("keys.rotate", id: "rotate").signed(by: h.admin))
        #expect(handling.code == "duplicate" && handling.reply == stored, "signed by the old key, which the head-end has")
    }

    @Test func anAmendedReplyNamesTheSameMessage() throws {
        let h = try CommandHarness()
        let bytes = h.envelope("config.set", json(("patch", json()))).signed(by: h.admin)
        #expect(h.processor.process(bytes).code == "ok")
        let id = try #require(try h.audit().last?.commandID)
        h.processor.amendReply(commandID: id, keyID: h.admin.id.hex, verb: "config.set", code: .configRolledBack, message: "rolled back")
        let amended = try CommandReply.verify(try #require(h.channel.published.last), device: CommandHarness.deviceID,
                                              deviceKeys: [h.device.publicKey]).reply
        #expect(amended.code == "config-rolled-back" && amended.envelopeDigest == CommandReply.envelopeDigest(of: bytes))
    }
}
