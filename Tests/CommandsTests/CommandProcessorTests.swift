import Archive
@testable import Commands
import ConcentratorCore
import Foundation
import Platform
import Testing
import TestSupport
import Wire

/// The device's checks of Docs/mqtt-api.md §11.3, each refusal produced by a crafted command and
/// answered with its code, and none of them changing state: no counter raised, nothing run.
@Suite struct CommandProcessorTests {
    /// One crafted refusal: what to send, the code expected, and whether a reply can be given.
    struct Case: Sendable {
        let name: String
        let code: String
        let bytes: @Sendable (CommandHarness) -> [UInt8]
    }

    static let relayDisconnect = json(("meter", .string("m-1")), ("action", .string("disconnect")))

    static let refusals: [Case] = [
        Case(name: "a key the device does not know", code: "unknown-key") { h in
            h.envelope("ping").signed(by: SigningPrivateKey.generate())
        },
        Case(name: "the ack key, which can never command", code: "unknown-key") { h in h.envelope("ping").signed(by: h.ack) },
        Case(name: "an altered signature", code: "bad-signature") { h in
            var b = h.envelope("ping").signed(by: h.admin)
            b[b.count - 1] ^= 0x40
            return b
        },
        Case(name: "an altered body", code: "bad-signature") { h in
            var b = h.envelope("relay", relayDisconnect).signed(by: h.operatorKey)
            let at = Array(b).firstRange(of: Array("disconnect".utf8))!.lowerBound
            b.replaceSubrange(at..<(at + 10), with: Array("reconnect!".utf8))
            return b
        },
        Case(name: "a body breaking the envelope rules", code: "malformed") { h in
            SignedCommandFrame.encode(magic: CommandEnvelope.magic, body: Array(#"{"id":"bad-1","device":"gw-1","verb":"ping"}"#.utf8),
                                      signedBy: h.admin)
        },
        Case(name: "another device", code: "wrong-target") { h in h.envelope("ping", device: "gw-2").signed(by: h.admin) },
        Case(name: "an expired command", code: "expired") { h in
            var e = h.envelope("ping")
            e.issuedAt = h.clock.now().adding(seconds: -3600)
            e.expiresAt = h.clock.now().adding(seconds: -600)
            return e.signed(by: h.admin)
        },
        Case(name: "a command from the future", code: "expired") { h in
            var e = h.envelope("ping")
            e.issuedAt = h.clock.now().adding(seconds: 900)
            e.expiresAt = h.clock.now().adding(seconds: 1200)
            return e.signed(by: h.admin)
        },
        Case(name: "a validity of more than a day", code: "expired") { h in
            var e = h.envelope("ping")
            e.expiresAt = e.issuedAt.adding(seconds: 2 * 86_400)
            return e.signed(by: h.admin)
        },
        Case(name: "a counter not above the last one seen", code: "replayed") { h in
            h.envelope("relay", relayDisconnect, counter: 5).signed(by: h.operatorKey)
        },
        Case(name: "an unknown verb", code: "unknown-verb") { h in h.envelope("reboot.now").signed(by: h.admin) },
        Case(name: "a reader disconnecting a meter", code: "role-too-low") { h in h.envelope("relay", relayDisconnect).signed(by: h.reader) },
        Case(name: "an operator changing the configuration", code: "role-too-low") { h in
            h.envelope("config.set", json(("patch", json()))).signed(by: h.operatorKey)
        },
        Case(name: "a relay action that does not exist", code: "invalid-arguments") { h in
            h.envelope("relay", json(("meter", .string("m-1")), ("action", .string("toggle")))).signed(by: h.operatorKey)
        },
        Case(name: "an unknown argument", code: "invalid-arguments") { h in
            h.envelope("relay", json(("meter", .string("m-1")), ("action", .string("status")), ("force", .bool(true)))).signed(by: h.operatorKey)
        },
        Case(name: "a meter that is not configured", code: "unknown-meter") { h in
            h.envelope("relay", json(("meter", .string("m-9")), ("action", .string("disconnect")))).signed(by: h.operatorKey)
        },
        Case(name: "a meter without a relay", code: "not-supported") { h in
            h.envelope("relay", json(("meter", .string("m-2")), ("action", .string("disconnect")))).signed(by: h.operatorKey)
        },
        Case(name: "an id another key already ran", code: "id-reused") { h in
            h.envelope("relay", relayDisconnect, id: "used-by-admin").signed(by: h.operatorKey)
        },
    ]

    @Test(arguments: refusals.indices)
    func everyRefusalIsAnsweredWithItsCodeAndChangesNothing(_ index: Int) throws {
        let c = Self.refusals[index]
        let h = try CommandHarness()
        // State before: one command of the operator key ran (counter 10), one of the admin key under "used-by-admin".
        let first = h.processor.process(h.envelope("ping", counter: 10).signed(by: h.operatorKey))
        #expect(first.code == "ok")
        #expect(h.processor.process(h.envelope("ping", id: "used-by-admin").signed(by: h.admin)).code == "ok")
        let countersBefore = try [h.reader, h.operatorKey, h.admin, h.ack].map { try h.counter(of: $0) }
        let ranBefore = h.executor.ran.count
        let auditBefore = try h.audit().count

        let handling = h.processor.process(c.bytes(h))

        #expect(handling.code == c.code, "\(c.name): \(handling.code)")
        #expect(!handling.ran, "\(c.name) ran")
        let reply = try h.reply(handling)
        #expect(reply.code == c.code && reply.status == .rejected && reply.device == CommandHarness.deviceID, "\(c.name)")
        #expect(!reply.message.isEmpty)
        #expect(h.executor.ran.count == ranBefore, "\(c.name): something ran")
        #expect(try [h.reader, h.operatorKey, h.admin, h.ack].map { try h.counter(of: $0) } == countersBefore, "\(c.name): a counter moved")
        let audit = try h.audit()
        #expect(audit.count == auditBefore + 1 && audit.last?.result == c.code, "\(c.name): \(audit.last.map { "\($0)" } ?? "none")")
        // A refusal is not stored: the id stays free for a corrected command.
        if let id = audit.last?.commandID, id != "used-by-admin" { #expect(try h.archive.reader.commandReply(id: id) == nil) }
    }

    @Test func messagesWithoutAReadableIDAreAuditedButNotAnswered() throws {
        let h = try CommandHarness()
        for bytes in [Array("garbage".utf8), Array(SignedCommandFrame.encode(magic: CommandEnvelope.magic, body: Array(#"{"verb":"ping"}"#.utf8),
                                                                             signedBy: h.admin)),
                      Array(h.envelope("ping").signed(by: h.admin).prefix(40))] {
            let handling = h.processor.process(bytes)
            #expect(handling.reply == nil && !handling.ran && handling.code == "malformed")
        }
        #expect(h.channel.published.isEmpty)
        #expect(try h.audit().count == 3)
        #expect(h.executor.ran.isEmpty)
    }

    @Test func theSameBytesTwiceRunOnceAndGetTheStoredReply() throws {
        let h = try CommandHarness()
        let bytes = h.envelope("relay", Self.relayDisconnect, id: "twice").signed(by: h.operatorKey)
        let first = h.processor.process(bytes)
        // Later commands move the counter on; the repeat is still answered from the store.
        #expect(h.processor.process(h.envelope("ping").signed(by: h.operatorKey)).code == "ok")
        h.clock.advance(milliseconds: 60_000)
        let second = h.processor.process(bytes)
        #expect(first.ran && first.code == "ok")
        #expect(!second.ran && second.code == "duplicate")
        #expect(second.reply == first.reply, "the stored reply, byte for byte")
        #expect(h.executor.ran.filter { if case .relay = $0 { return true } else { return false } }.count == 1)
        let audit = try h.audit().filter { $0.commandID == "twice" }
        #expect(audit.map(\.result) == ["ok", "duplicate"])
        #expect(audit.first?.role == "operator" && audit.first?.verb == "relay" && audit.first?.arguments.contains("disconnect") == true)
        #expect(h.channel.published.filter { $0 == first.reply }.count == 2, "published both times")
    }

    @Test func theCounterIsDurableBeforeTheCommandRuns() throws {
        let h = try CommandHarness()
        let seen = Locked<Int64?>(nil)
        h.executor.during = { [archive = h.archive, key = h.admin.id] _ in
            seen.set(try? archive.reader.counterValue("command:\(key.hex)"))
        }
        let e = h.envelope("restart")
        #expect(h.processor.process(e.signed(by: h.admin)).code == "ok")
        #expect(seen.value == e.counter)
    }

    @Test func afterReplyWorkRunsOnceTheReplyIsPublished() throws {
        let h = try CommandHarness()
        let publishedWhenRun = Locked<Int>(-1)
        h.executor.outcome = CommandOutcome(message: "restarting") { [channel = h.channel] in publishedWhenRun.set(channel.published.count) }
        let handling = h.processor.process(h.envelope("restart").signed(by: h.admin))
        #expect(handling.published && publishedWhenRun.value == 1)
    }

    @Test func outcomesOtherThanOKAreStoredWithTheirCode() throws {
        let h = try CommandHarness()
        h.executor.outcome = .failed(.busBusy, "bus bus1 stayed busy")
        let e = h.envelope("read", json(("meters", .array([.string("m-1")]))))
        let handling = h.processor.process(e.signed(by: h.reader))
        let reply = try h.reply(handling)
        #expect(reply.code == "bus-busy" && reply.status == .rejected && handling.ran)
        #expect(try h.counter(of: h.reader) == e.counter, "documented: a bus-busy command has used its counter")
        #expect(try h.archive.reader.commandReply(id: e.id)?.reply == handling.reply)
    }

    @Test func anAmendedReplyReplacesTheStoredOne() throws {
        let h = try CommandHarness()
        let e = h.envelope("config.set", json(("patch", json())))
        let bytes = e.signed(by: h.admin)
        #expect(h.processor.process(bytes).code == "ok")
        h.processor.amendReply(commandID: e.id, keyID: h.admin.id.hex, verb: "config.set", code: .configRolledBack, message: "rolled back")
        let again = h.processor.process(bytes)
        #expect(try h.reply(again).code == "config-rolled-back" && !again.ran)
    }

    @Test func argumentsAreCheckedAndTyped() throws {
        let context = RecordingExecutor().commandContext()
        let read = try CommandAction.parse(verb: .read, arguments: json(("meters", .array([.string("m-1"), .string("m-1")])),
                                                                        ("quantities", .array([.string("voltage_l1")]))), context: context)
        #expect(read == .read(meters: ["m-1"], quantities: ["voltage_l1"], startDeadline: .seconds(10)))
        let backfill = try CommandAction.parse(verb: .backfill, arguments: json(("from", .string("2026-11-01")),
                                                                                ("to", .number(1_795_255_200_000, text: "1795255200000"))),
                                               context: context)
        #expect(backfill == .backfill(from: ISO8601.parse("2026-11-01")!, to: Timestamp(milliseconds: 1_795_255_200_000),
                                      meters: ["m-1", "m-2"], series: [.interval]))
        #expect(try CommandAction.parse(verb: .timeSync, arguments: json(), context: context)
            == .timeSync(meters: ["m-1"], threshold: .seconds(10), startDeadline: .seconds(10)))
        let bad: [(CommandVerb, JSONValue, CommandReplyCode, String)] = [
            (.read, json(), .invalidArguments, "$.args.meters"),
            (.read, json(("meters", .array([.string("m-1")])), ("quantities", .array([.string("volts")]))), .invalidArguments, "unknown quantity"),
            (.backfill, json(("from", .string("2026-11-01")), ("to", .string("2026-12-31"))), .invalidArguments, "46 days"),
            (.backfill, json(("from", .string("yesterday")), ("to", .string("2026-12-31"))), .invalidArguments, "not a time"),
            (.scan, json(("bus", .string("bus9"))), .invalidArguments, "unknown bus"),
            (.scan, json(("bus", .string("bus1")), ("from", .number(20, text: "20")), ("to", .number(10, text: "10"))), .invalidArguments, "ends before"),
            (.timeSync, json(("meters", .array([.string("m-2")]))), .notSupported, "clock"),
            (.configSet, json(("config", json()), ("patch", json())), .invalidArguments, "exactly one"),
            (.ping, json(("x", .null)), .invalidArguments, "unknown key"),
        ]
        for (verb, args, code, words) in bad {
            do {
                _ = try CommandAction.parse(verb: verb, arguments: args, context: context)
                Issue.record("\(verb) \(JSONWriter.render(args, pretty: false)) accepted")
            } catch {
                #expect(error.code == code && error.message.contains(words), "\(verb): \(error)")
            }
        }
    }
}

/// A value shared with a closure that runs elsewhere.
final class Locked<T: Sendable>: @unchecked Sendable {
    private let lock = ConditionLock()
    private var stored: T
    init(_ value: T) { stored = value }
    func set(_ value: T) { lock.withLock { stored = value } }
    var value: T { lock.withLock { stored } }
}
