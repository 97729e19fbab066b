import ConcentratorCore
import Foundation
@testable import HeadEnd
import Platform
import Testing
import TestSupport
import Wire

/// The head-end's side of commands that does not need a device: counters that only grow (across
/// runs, and even when the database is replaced), and the default command key in headend.json.
@Suite("Head-end commands")
struct HeadEndCommandTests {
    @Test("counters grow per key, persist across opens, and start at the clock in milliseconds")
    func countersOnlyGrow() throws {
        let dir = TemporaryDirectory("headend-counters")
        let path = dir.file("headend.sqlite")
        let a = SigningPrivateKey.generate().id, b = SigningPrivateKey.generate().id
        let now = Timestamp(milliseconds: 1_795_255_200_000)
        var db = try HeadEndDatabase.open(path: path)
        #expect(try db.nextCommandCounter(keyID: a, now: now) == 1_795_255_200_000)
        #expect(try db.nextCommandCounter(keyID: a, now: now) == 1_795_255_200_001, "the same millisecond: one more")
        #expect(try db.nextCommandCounter(keyID: b, now: now) == 1_795_255_200_000, "each key has its own counter")
        db.close()
        db = try HeadEndDatabase.open(path: path)
        defer { db.close() }
        #expect(try db.nextCommandCounter(keyID: a, now: now.adding(seconds: -3600)) == 1_795_255_200_002,
                "a clock set back never lowers a counter")
        #expect(try db.nextCommandCounter(keyID: a, now: now.adding(seconds: 1)) == 1_795_255_201_000)
        // A fresh database (the old one lost) still continues above what devices have seen, thanks to the clock.
        let fresh = try HeadEndDatabase.open(path: dir.file("fresh.sqlite"))
        defer { fresh.close() }
        #expect(try fresh.nextCommandCounter(keyID: a, now: now.adding(seconds: 2)) > 1_795_255_201_000)
    }

    @Test("keys.command names the default command key; it must be an absolute path")
    func commandKeyInTheConfiguration() throws {
        let text = HeadEndSetupTests.validConfiguration.replacingOccurrences(
            of: #""ack": "/etc/headend/keys/ack.key""#, with: #""ack": "/etc/headend/keys/ack.key", "command": "/etc/headend/keys/admin.key""#)
        #expect(try HeadEndConfigurationLoader.load(text: text, source: "h.json").commandKeyFile == "/etc/headend/keys/admin.key")
        #expect(try HeadEndConfigurationLoader.load(text: HeadEndSetupTests.validConfiguration, source: "h.json").commandKeyFile == nil)
        let relative = text.replacingOccurrences(of: "/etc/headend/keys/admin.key", with: "admin.key")
        #expect(throws: ValidationFailure.self) { try HeadEndConfigurationLoader.load(text: relative, source: "h.json") }
    }

    @Test("a reply answers a command only when it names the published message (issue 17 #6)")
    func repliesAreMatchedByDigest() {
        let published = CommandReply.envelopeDigest(of: Array("the real envelope".utf8))
        let copy = CommandReply.envelopeDigest(of: Array("a tampered copy".utf8))
        let time = Timestamp(milliseconds: 1_795_255_200_000)
        func reply(_ code: CommandReplyCode, verb: String = "relay", id: String = "c-1", digest: [UInt8]?) -> CommandReply {
            CommandReply(device: "gw-1", commandID: id, verb: verb, code: code, message: "", time: time, envelopeDigest: digest)
        }
        #expect(CommandSender.answers(reply(.ok, digest: published), id: "c-1", verb: "relay", digest: published))
        #expect(!CommandSender.answers(reply(.badSignature, digest: copy), id: "c-1", verb: "relay", digest: published),
                "the refusal of a tampered copy with the same id")
        #expect(!CommandSender.answers(reply(.ok, digest: copy), id: "c-1", verb: "relay", digest: published))
        #expect(!CommandSender.answers(reply(.ok, digest: nil), id: "c-1", verb: "relay", digest: published), "no digest: no match")
        #expect(!CommandSender.answers(reply(.ok, id: "c-2", digest: published), id: "c-1", verb: "relay", digest: published))
        // The stored reply of a repeated keys.rotate names the first envelope (the device lost the old key).
        #expect(CommandSender.answers(reply(.ok, verb: "keys.rotate", digest: copy), id: "c-1", verb: "keys.rotate", digest: published))
        #expect(!CommandSender.answers(reply(.badSignature, verb: "keys.rotate", digest: copy), id: "c-1", verb: "keys.rotate",
                                       digest: published))
    }
}
