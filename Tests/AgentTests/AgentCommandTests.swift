@testable import Agent
import Archive
import Commands
import ConcentratorCore
import Foundation
import Logging
import Platform
import Testing
import TestSupport
import Wire

/// The agent's command executor in-process: a bus that cannot start work in time answers `bus-busy`
/// at the start deadline (the work is abandoned before it starts); configuration edits validate before anything is written, and a
/// configuration trial survives a restart of the agent.
@Suite(.serialized) struct AgentCommandTests {
    final class Harness: @unchecked Sendable {
        let dir = TemporaryDirectory("agent-commands")
        let device = SigningPrivateKey.generate()
        let admin = SigningPrivateKey.generate()
        var configPath: String { dir.file("config.json") }
        var counter: Int64 = 0

        /// One bus on a port that does not exist, one meter with a relay (generic-template).
        func writeConfig() throws {
            try """
            {"device": {"id": "gw-1", "stateDirectory": "\(dir.file("state"))", "runtimeDirectory": "\(dir.file("run"))"},
             "buses": [{"name": "bus1", "device": "\(dir.file("bus1.tty"))"}],
             "meters": [{"id": "m-1", "bus": "bus1", "address": 1, "profile": "generic-template"}]}
            """.write(toFile: configPath, atomically: true, encoding: .utf8)
        }

        func start() throws -> (Agent, CommandProcessor) {
            var logger = Logger(label: "agent-command-test")
            logger.logLevel = .critical
            let agent = Agent(setup: try AgentSetup.load(configPath: configPath, extraProfileDirectories: [BuiltProducts.profilesDirectory]),
                              options: AgentOptions(), logger: logger)
            try agent.start()
            let channel = Channel(device: device, admin: admin)
            let processor = CommandProcessor(deviceID: "gw-1", archive: agent.archive!, clock: SystemClock(), logger: logger, channel: channel,
                                             executor: AgentCommandExecutor(agent: agent))
            return (agent, processor)
        }

        func send(_ processor: CommandProcessor, _ verb: String, _ args: String = "{}") throws -> CommandReply {
            counter += 1
            let now = SystemClock().now()
            let envelope = CommandEnvelope(device: "gw-1", id: "t-\(counter)", issuedAt: now, expiresAt: now.adding(seconds: 60),
                                           counter: counter, verb: verb, arguments: try JSONParser.parse(args))
            let handling = processor.process(envelope.signed(by: admin))
            return try CommandReply.verify(try #require(handling.reply), device: "gw-1", deviceKeys: [device.publicKey]).reply
        }
    }

    /// The test's head-end: one admin key; replies are only collected.
    final class Channel: CommandReplyChannel, @unchecked Sendable {
        let device: SigningPrivateKey
        let admin: SigningPrivateKey
        init(device: SigningPrivateKey, admin: SigningPrivateKey) {
            self.device = device
            self.admin = admin
        }
        func replySigningKey() -> SigningPrivateKey? { device }
        func headEndSigningKeys() -> [(role: String, key: SigningPublicKey)] { [("admin", admin.publicKey)] }
        func publishReply(_ bytes: [UInt8], timeout: Duration) -> Bool { true }
    }

    @Test func aBusThatCannotStartInTimeAnswersBusBusyAndSendsNothing() throws {
        let h = Harness()
        try h.writeConfig()
        let (agent, processor) = try h.start()
        defer { agent.stop() }
        let bus = try #require(agent.currentBuses.first)
        bus.injectStall(.seconds(3))
        let started = ContinuousClock.now
        let read = try h.send(processor, "read", #"{"meters": ["m-1"], "startDeadlineMilliseconds": 300}"#)
        #expect(read.code == "bus-busy" && read.status == .rejected, "\(read)")
        #expect(ContinuousClock.now - started < .seconds(2), "answered at the start deadline, not after the stall")
        let relay = try h.send(processor, "relay", #"{"meter": "m-1", "action": "disconnect", "startDeadlineMilliseconds": 300}"#)
        #expect(relay.code == "bus-busy", "\(relay)")
        // The console sees both in the audit log, newest first, through the control socket.
        let client = try #require(ControlClient.connectIfRunning(path: h.dir.file("run/control.sock")))
        let audit = try client.call(ControlRequest(op: "audit", limit: 2)).audit ?? []
        #expect(audit.map(\.verb) == ["relay", "read"] && audit.allSatisfy { $0.result == "bus-busy" && $0.role == "admin" }, "\(audit)")
    }

    @Test func configurationEditsValidateFirstAndATrialSurvivesARestart() throws {
        let h = Harness()
        try h.writeConfig()
        var (agent, processor) = try h.start()
        let original = try String(contentsOfFile: h.configPath, encoding: .utf8)

        let unknownProfile = try h.send(processor, "meters.add",
                                        #"{"meters": [{"id": "m-2", "bus": "bus1", "address": 2, "profile": "no-such-meter"}]}"#)
        #expect(unknownProfile.code == "invalid-arguments" && unknownProfile.message.contains("$.meters[1].profile"), "\(unknownProfile)")
        let duplicate = try h.send(processor, "meters.add", #"{"meters": [{"id": "m-1", "bus": "bus1", "address": 2, "profile": "eastron-sdm120"}]}"#)
        #expect(duplicate.code == "invalid-arguments", "\(duplicate)")
        let moved = try h.send(processor, "config.set", #"{"patch": {"device": {"id": "gw-2"}}}"#)
        #expect(moved.code == "invalid-arguments" && moved.message.contains("device.id"), "\(moved)")
        #expect(try String(contentsOfFile: h.configPath, encoding: .utf8) == original, "nothing written")

        let added = try h.send(processor, "meters.add", #"{"meters": [{"id": "m-2", "bus": "bus1", "address": 2, "profile": "eastron-sdm120"}]}"#)
        #expect(added.code == "ok", "\(added)")
        #expect(waitUntil(timeout: .seconds(10)) { agent.setup.config.meters.count == 2 }, "applied after the reply")
        #expect(try String(contentsOfFile: h.configPath + ".previous", encoding: .utf8) == original)
        #expect(agent.configTrial == nil, "meters.add has no trial")

        let set = try h.send(processor, "config.set", #"{"patch": {"archive": {"retentionDays": 30}}}"#)
        #expect(set.code == "ok" && set.result["trialSeconds"]?.intValue == 300, "\(set)")
        #expect(waitUntil(timeout: .seconds(10)) { agent.configTrial != nil && agent.setup.config.archive.retentionDays == 30 })
        #expect(try h.send(processor, "config.set", #"{"patch": {"archive": {"retentionDays": 40}}}"#).code == "busy")
        let get = try h.send(processor, "config.get")
        #expect(get.result["trialDeadline"] != nil && get.result["config"]?["archive"]?["retentionDays"]?.intValue == 30, "\(get)")

        agent.stop()
        (agent, processor) = try h.start()
        defer { agent.stop() }
        #expect(agent.configTrial?.commandID == "t-\(h.counter - 2)", "the trial resumed after the restart")
    }

    /// Issue 17 #8: the agent registers its command thread with the watchdog, beside the buses.
    @Test func theCommandThreadIsWatched() throws {
        let h = Harness()
        try h.writeConfig()
        let (agent, _) = try h.start()
        defer { agent.stop() }
        #expect(agent.progress.names.contains("commands"), "\(agent.progress.names)")
        #expect(agent.progress.names.contains("bus bus1"))
    }
}
