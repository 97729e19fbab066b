import ConcentratorCore
import Foundation
import Testing
@testable import Wire

/// The command envelope ("CCUC") and reply ("CCUR") of Docs/mqtt-api.md §11: the documented vectors
/// (Ed25519 per RFC 8032 is deterministic, so they are exact), and every way a frame can be refused.
/// To print fresh vectors: `COMMAND_PRINT_VECTORS=1 swift test --skip-build --filter CommandCodecTests`.
@Suite struct CommandCodecTests {
    /// The documented head-end command key (role admin in the examples): seed a0 a1 … bf.
    static let commandKey = try! SigningPrivateKey(seed: (0..<32).map { UInt8(0xA0 + $0) })
    static let issued = ISO8601.parse("2026-11-21T10:00:00Z")!

    static let envelope = CommandEnvelope(
        device: Fixtures.deviceID, id: "cmd-0001", issuedAt: issued, expiresAt: issued.adding(seconds: 300), counter: 42, verb: "relay",
        arguments: .object([JSONMember(key: "meter", value: .string("m-1")), JSONMember(key: "action", value: .string("disconnect"))]))

    /// The reply to exactly the documented envelope: it carries that message's SHA-256 (issue 17 #6).
    static let reply = CommandReply(
        device: Fixtures.deviceID, commandID: "cmd-0001", verb: "relay", code: .ok, message: "meter m-1 relay disconnected",
        time: issued.adding(milliseconds: 1234),
        result: .object([JSONMember(key: "meter", value: .string("m-1")), JSONMember(key: "connected", value: .bool(false))]),
        envelopeDigest: CommandReply.envelopeDigest(of: envelope.signed(by: commandKey)))

    @Test func theDocumentedVectorsAreWhatTheCodecProduces() throws {
        let vectors = try DocVectorTests.documentedVectors()
        let envelopeBytes = Self.envelope.signed(by: Self.commandKey)
        let replyBytes = Self.reply.signed(by: Fixtures.deviceSigning)
        if ProcessInfo.processInfo.environment["COMMAND_PRINT_VECTORS"] != nil {
            print(DocVectorTests.block("headend-command-seed", Self.commandKey.seed)
                + DocVectorTests.block("headend-command-public", Self.commandKey.publicKey.rawRepresentation)
                + "command key id \(Self.commandKey.id)\n"
                + "envelope body: \(String(decoding: Self.envelope.body(), as: UTF8.self))\n"
                + DocVectorTests.block("command-envelope", envelopeBytes)
                + "reply body: \(String(decoding: Self.reply.body(), as: UTF8.self))\n"
                + DocVectorTests.block("command-reply", replyBytes))
        }
        #expect(vectors["headend-command-seed"] == Self.commandKey.seed)
        #expect(vectors["headend-command-public"] == Self.commandKey.publicKey.rawRepresentation)
        #expect(vectors["command-envelope"] == envelopeBytes)
        #expect(vectors["command-reply"] == replyBytes)
    }

    @Test func theDocumentedReplyNamesTheSHA256OfTheDocumentedEnvelope() throws {
        let vectors = try DocVectorTests.documentedVectors()
        let envelope = try #require(vectors["command-envelope"])
        let reply = try CommandReply.verify(try #require(vectors["command-reply"]), device: "gw-0001",
                                            deviceKeys: [Fixtures.deviceSigning.publicKey]).reply
        // The digest as printed in Docs/mqtt-api.md §11.9 (computed there with Python's hashlib).
        #expect(reply.envelopeDigest.map(Hex.encode) == "39a3d8791ec7687409576c109a11dd98da64e9895a551816a4d430f0cb335302")
        #expect(reply.envelopeDigest == CommandReply.envelopeDigest(of: envelope))
        var copy = envelope
        copy[copy.count - 1] ^= 0x01
        #expect(Hex.encode(CommandReply.envelopeDigest(of: copy)) == "80166b7b29c4dcdc6f9f4297878b0b6c725b8278bdf9ffe974c76f8e972bd1a6")
    }

    @Test func theDocumentedEnvelopeVerifiesAndDecodes() throws {
        let bytes = try #require(try DocVectorTests.documentedVectors()["command-envelope"])
        let frame = try SignedCommandFrame.parse(bytes, magic: CommandEnvelope.magic, maximumBodyBytes: CommandEnvelope.maximumBodyBytes)
        let publicKey = try SigningPublicKey(rawRepresentation: try #require(try DocVectorTests.documentedVectors()["headend-command-public"]))
        #expect(frame.keyID == publicKey.id)
        #expect(frame.verifies(with: publicKey))
        // The body is read from the signed bytes, exactly as they are.
        let decoded = try CommandEnvelope.decode(body: frame.bodyObject())
        #expect(decoded.device == "gw-0001" && decoded.id == "cmd-0001" && decoded.counter == 42 && decoded.verb == "relay")
        #expect(decoded.issuedAt == Self.issued && decoded.expiresAt == Self.issued.adding(seconds: 300))
        #expect(decoded.arguments["action"]?.stringValue == "disconnect")
        #expect(String(decoding: frame.body, as: UTF8.self)
            == #"{"args":{"action":"disconnect","meter":"m-1"},"counter":42,"device":"gw-0001","expiresAt":1795255500000,"id":"cmd-0001","issuedAt":1795255200000,"verb":"relay"}"#)
    }

    @Test func theDocumentedReplyVerifiesWithTheDeviceKeyOnly() throws {
        let bytes = try #require(try DocVectorTests.documentedVectors()["command-reply"])
        let device = Fixtures.deviceSigning.publicKey
        let (reply, key) = try CommandReply.verify(bytes, device: "gw-0001", deviceKeys: [device])
        #expect(reply.body() == Self.reply.body() && reply.code == "ok" && key == device.id)
        #expect(throws: CommandMessageError.unknownKey(device.id)) {
            try CommandReply.verify(bytes, device: "gw-0001", deviceKeys: [Self.commandKey.publicKey])
        }
        #expect(throws: CommandMessageError.wrongDevice("gw-0001")) {
            try CommandReply.verify(bytes, device: "gw-0002", deviceKeys: [device])
        }
    }

    @Test func everyTruncationIsAFrameErrorAndEveryAlteredByteIsCaught() throws {
        let bytes = Self.envelope.signed(by: Self.commandKey)
        let key = Self.commandKey.publicKey
        for n in 0..<bytes.count {
            #expect(throws: CommandMessageError.self) {
                try SignedCommandFrame.parse(Array(bytes[..<n]), magic: CommandEnvelope.magic, maximumBodyBytes: CommandEnvelope.maximumBodyBytes)
            }
        }
        for i in 0..<bytes.count {
            var altered = bytes
            altered[i] ^= 0x01
            let verified: Bool
            do {
                let frame = try SignedCommandFrame.parse(altered, magic: CommandEnvelope.magic, maximumBodyBytes: CommandEnvelope.maximumBodyBytes)
                verified = frame.verifies(with: key)
            } catch {
                verified = false
            }
            #expect(!verified, "byte \(i) altered and still accepted")
        }
        #expect(throws: CommandMessageError.self) {
            try SignedCommandFrame.parse(bytes + [0], magic: CommandEnvelope.magic, maximumBodyBytes: CommandEnvelope.maximumBodyBytes)
        }
        // A reply can never pass as an envelope: the magic differs and is signed.
        #expect(throws: CommandMessageError.self) {
            try SignedCommandFrame.parse(Self.reply.signed(by: Self.commandKey), magic: CommandEnvelope.magic, maximumBodyBytes: 1 << 20)
        }
    }

    @Test func bodiesBreakingARuleAreMalformed() throws {
        let valid = String(decoding: Self.envelope.body(), as: UTF8.self)
        let edits: [(String, String, String)] = [
            (#""counter":42"#, #""counter":0"#, "counter"),
            (#""counter":42"#, #""counter":9007199254740992"#, "counter"),
            (#""counter":42"#, #""counter":42.5"#, "counter"),
            (#""expiresAt":1795255500000"#, #""expiresAt":1795255200000"#, "expiresAt"),
            (#""verb":"relay""#, #""verb":"Relay""#, "verb"),
            (#""id":"cmd-0001""#, #""id":"cmd 0001""#, "id"),
            (#""device":"gw-0001""#, #""device":"""#, "device"),
            (#""args":{"action":"disconnect","meter":"m-1"}"#, #""args":[]"#, "args"),
            (#""verb":"relay""#, #""verb":"relay","colour":"red""#, "unknown member"),
            (#""verb":"relay""#, #""verb":"relay","verb":"restart""#, "duplicate key"),
            (#""args":{"action":"disconnect","meter":"m-1"}"#, #""args":{"action":"disconnect","action":"connect"}"#, "duplicate key"),
        ]
        for (old, new, words) in edits {
            let text = valid.replacingOccurrences(of: old, with: new)
            #expect(text != valid, "edit \(old) did not apply")
            let frame = try SignedCommandFrame.parse(SignedCommandFrame.encode(magic: CommandEnvelope.magic, body: Array(text.utf8),
                                                                               signedBy: Self.commandKey),
                                                     magic: CommandEnvelope.magic, maximumBodyBytes: CommandEnvelope.maximumBodyBytes)
            do {
                _ = try CommandEnvelope.decode(body: frame.bodyObject())
                Issue.record("\(new) was accepted")
            } catch {
                guard case .malformedBody(let reason) = error else { Issue.record("\(new): \(error)"); continue }
                #expect(reason.contains(words), "\(new): \(reason)")
            }
        }
    }

    @Test func theIdentityOfAnUntrustedBodyCanBeReadLeniently() {
        #expect(CommandEnvelope.peekIdentity(Self.envelope.body()) == ("cmd-0001", "gw-0001"))
        #expect(CommandEnvelope.peekIdentity(Array(#"{"id":"x-1","counter":"nonsense"}"#.utf8)) == ("x-1", nil))
        #expect(CommandEnvelope.peekIdentity(Array(#"{"id":"not an id"}"#.utf8)) == (nil, nil))
        #expect(CommandEnvelope.peekIdentity(Array("not json".utf8)) == (nil, nil))
    }

    /// Bounded random input (a fixed seed): frames and bodies never crash a decoder, they give a value or a typed error.
    @Test func randomInputGivesTypedErrorsOnly() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        let valid = Self.envelope.signed(by: Self.commandKey)
        let body = Self.envelope.body()
        var decoded = 0, refused = 0
        for round in 0..<3000 {
            var bytes: [UInt8]
            switch round % 3 {
            case 0: bytes = (0..<Int(next() % 300)).map { _ in UInt8(truncatingIfNeeded: next()) }
            case 1:
                bytes = valid
                for _ in 0..<(1 + Int(next() % 4)) { bytes[Int(next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: next()) }
            default:
                var b = body
                for _ in 0..<(1 + Int(next() % 6)) { b[Int(next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: next()) }
                bytes = SignedCommandFrame.encode(magic: CommandEnvelope.magic, body: b, signedBy: Self.commandKey)
            }
            if let frame = try? SignedCommandFrame.parse(bytes, magic: CommandEnvelope.magic, maximumBodyBytes: CommandEnvelope.maximumBodyBytes) {
                _ = CommandEnvelope.peekIdentity(frame.body)
                do {
                    let e = try CommandEnvelope.decode(body: frame.bodyObject())
                    decoded += 1
                    // Whatever decodes keeps every rule of §11.2.
                    #expect(DeviceIdentifier.isValid(e.device) && CommandEnvelope.isValidID(e.id) && e.counter >= 1)
                    #expect(e.expiresAt > e.issuedAt && e.arguments.members != nil)
                } catch {
                    refused += 1
                }
            }
            #expect((try? CommandReply.verify(bytes, device: "gw-0001", deviceKeys: [Fixtures.deviceSigning.publicKey])) == nil)
        }
        #expect(decoded > 0 && refused > 0, "the mutations reach both outcomes: \(decoded) decoded, \(refused) refused")
    }

    @Test func everyReplyCodeHasItsStatus() {
        #expect(CommandReplyCode.ok.status == .ok)
        #expect(CommandReplyCode.replayed.status == .rejected && CommandReplyCode.busBusy.status == .rejected)
        #expect(CommandReplyCode.meterError.status == .error && CommandReplyCode.configRolledBack.status == .error)
        #expect(Set(CommandReplyCode.allCases.map(\.rawValue)).count == CommandReplyCode.allCases.count)
    }
}
