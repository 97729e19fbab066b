import Foundation
import Logging
import Testing
import ConcentratorCore
import Platform
import TestSupport
@testable import Agent

/// The agent in-process: configuration reloads and the control socket's answers.
@Suite(.serialized) struct AgentControlTests {
    final class Harness {
        let dir = TemporaryDirectory("agent")
        var configPath: String { dir.file("config.json") }
        var socketPath: String { dir.file("run/control.sock") }

        func writeConfig(deviceID: String = "gw-1", buses: [String] = ["bus1"], extra: String = "") throws {
            let busJSON = buses.map { #"{"name": "\#($0)", "device": "\#(dir.file($0 + ".tty"))"}"# }.joined(separator: ", ")
            try """
            {"device": {"id": "\(deviceID)", "stateDirectory": "\(dir.file("state"))", "runtimeDirectory": "\(dir.file("run"))"},
             "buses": [\(busJSON)], "meters": []\(extra)}
            """.write(toFile: configPath, atomically: true, encoding: .utf8)
        }

        func start() throws -> Agent {
            var logger = Logger(label: "agent-test")
            logger.logLevel = .error
            let agent = Agent(setup: try AgentSetup.load(configPath: configPath), options: AgentOptions(), logger: logger)
            try agent.start()
            return agent
        }
    }

    @Test func aReloadAppliesAValidConfigurationAndKeepsTheOldOneOtherwise() throws {
        let h = Harness()
        try h.writeConfig()
        let agent = try h.start()
        defer { agent.stop() }
        #expect(agent.status().buses.map(\.name) == ["bus1"])

        try h.writeConfig(buses: ["bus1", "bus2"])
        let applied = agent.reload()
        #expect((try? applied.get())?.contains("2 buses") == true, "\(applied)")
        #expect(agent.status().buses.map(\.name) == ["bus1", "bus2"])

        try #"{"device": {"id": "gw-1"}, "buses": [], "meters": [{"id": 7}]}"#.write(toFile: h.configPath, atomically: true, encoding: .utf8)
        guard case .failure(let invalid) = agent.reload() else { Issue.record("an invalid configuration was applied"); return }
        #expect(invalid.code == "invalid-config")
        #expect(invalid.message.contains("$.meters[0]"), "every problem is answered: \(invalid.message)")
        #expect(agent.status().buses.count == 2, "the running configuration stays")

        try h.writeConfig(deviceID: "gw-2", buses: ["bus1", "bus2"])
        guard case .failure(let restart) = agent.reload() else { Issue.record("a device id change was applied live"); return }
        #expect(restart.code == "restart-required")
        #expect(agent.status().device == "gw-1")
    }

    @Test func theControlSocketAnswersMistakesWithStableCodes() throws {
        let h = Harness()
        try h.writeConfig()
        let agent = try h.start()
        defer { agent.stop() }
        let client = try #require(ControlClient.connectIfRunning(path: h.socketPath))
        #expect(throws: ControlFailure(code: "unknown-op", message: "unknown operation \"fly\"; known: ping, status, read, scan, poll, relay, events, audit, reload, uplink.check, commissioning.report")) {
            try client.call(ControlRequest(op: "fly"))
        }
        #expect { try client.call(ControlRequest(op: "read", meter: "nope")) } throws: { ($0 as? ControlFailure)?.code == "unknown-meter" }
        #expect { try client.call(ControlRequest(op: "scan", bus: "bus9")) } throws: { ($0 as? ControlFailure)?.code == "unknown-bus" }
        #expect { try client.call(ControlRequest(op: "scan", bus: "bus1", from: 0, to: 300)) } throws: {
            ($0 as? ControlFailure)?.code == "bad-request"
        }
        let raw = try LineConnection.connect(path: h.socketPath)
        raw.send("this is not json")
        #expect(raw.receiveLine(timeout: .seconds(5))?.contains("bad-request") == true)
        #expect(try client.call(ControlRequest(op: "ping")).done)
        let events = try client.call(ControlRequest(op: "events", limit: 10)).events ?? []
        #expect(events.contains { $0.kind == .agentStarted })
    }

    @Test func aSecondAgentCannotTakeTheControlSocketOfARunningOne() throws {
        let h = Harness()
        try h.writeConfig()
        let first = try h.start()
        defer { first.stop() }
        #expect { _ = try h.start() } throws: { error in
            guard case AgentStartError.controlSocket(let e) = error else { return false }
            return e.description.contains("another agent")
        }
        #expect(ControlClient.connectIfRunning(path: h.socketPath) != nil, "the first agent still answers")
    }
}
