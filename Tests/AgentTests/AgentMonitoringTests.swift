@testable import Agent
import ConcentratorCore
import Foundation
import Platform
import Testing
import TestSupport
import Wire

/// Edge monitoring in the running agent's lifecycle: `alarm.ack` and `schedule.get` through the
/// agent's own executor, and a reload that replaces the rules (or removes monitoring).
@Suite(.serialized) struct AgentMonitoringTests {
    static func writeConfig(_ h: AgentCommandTests.Harness, monitoring: String?) throws {
        try """
        {"device": {"id": "gw-1", "stateDirectory": "\(h.dir.file("state"))", "runtimeDirectory": "\(h.dir.file("run"))"},
         "buses": [{"name": "bus1", "device": "\(h.dir.file("bus1.tty"))"}],
         "meters": [{"id": "m-1", "bus": "bus1", "address": 1, "profile": "generic-template", "pod": "IT001E00000001"}]
         \(monitoring.map { #", "monitoring": \#($0)"# } ?? "")}
        """.write(toFile: h.configPath, atomically: true, encoding: .utf8)
    }

    static func rules(_ id: String) -> String {
        """
        {"location": {"latitude": 45.4642, "longitude": 9.19, "timeZone": "Europe/Rome"},
         "alarms": [{"id": "\(id)", "meters": ["m-1"], "kind": "threshold", "quantity": "voltage_l1", "above": 253}],
         "outputs": [{"id": "street", "kind": "relay", "meter": "m-1"}],
         "schedules": [{"id": "night", "output": "street", "windows": [{"from": {"event": "sunset"}, "to": {"event": "sunrise"}}]}]}
        """
    }

    @Test func alarmAckAndScheduleGetRunInTheAgentAndAReloadReplacesTheRules() throws {
        let h = AgentCommandTests.Harness()
        try Self.writeConfig(h, monitoring: Self.rules("overvoltage"))
        let (agent, processor) = try h.start()
        defer { agent.stop() }

        let notOpen = try h.send(processor, "alarm.ack", #"{"rule": "overvoltage", "meter": "m-1"}"#)
        #expect(notOpen.code == "ok" && notOpen.result["outcome"]?.stringValue == "not-open" && notOpen.result["phase"]?.stringValue == "inactive",
                "\(notOpen)")
        let schedules = try h.send(processor, "schedule.get")
        let street = schedules.result["outputs"]?.arrayValue?.first
        #expect(schedules.result["timeZone"]?.stringValue == "Europe/Rome" && street?["source"]?.stringValue == "schedule"
                && street?["schedule"]?["origin"]?.stringValue == "config", "\(schedules)")
        #expect(street?["nextChange"]?.stringValue != nil)
        // The console's view through the control socket.
        let report = try JSONParser.parse(try #require(agent.monitoringReport()))
        #expect(report["alarms"]?.arrayValue == [] && report["schedules"]?["outputs"]?.arrayValue?.count == 1)

        // A reload with a renamed rule: the old one is gone, the new one answers.
        try Self.writeConfig(h, monitoring: Self.rules("high-voltage"))
        guard case .success = agent.reload() else { Issue.record("reload failed"); return }
        #expect(try h.send(processor, "alarm.ack", #"{"rule": "overvoltage", "meter": "m-1"}"#).code == "invalid-arguments")
        #expect(try h.send(processor, "alarm.ack", #"{"rule": "high-voltage", "meter": "m-1"}"#).result["outcome"]?.stringValue == "not-open")

        // Without the section: the verbs say monitoring does not run, the console gets nothing.
        try Self.writeConfig(h, monitoring: nil)
        guard case .success = agent.reload() else { Issue.record("reload failed"); return }
        #expect(try h.send(processor, "alarm.ack", #"{"rule": "high-voltage", "meter": "m-1"}"#).code == "not-supported")
        #expect(try h.send(processor, "schedule.get").code == "not-supported")
        #expect(agent.monitoringReport() == nil)
    }

    @Test func anUnknownTimeZoneIsAConfigurationError() throws {
        let h = AgentCommandTests.Harness()
        try Self.writeConfig(h, monitoring: #"{"location": {"latitude": 45, "longitude": 9, "timeZone": "Europe/Atlantis"}}"#)
        do {
            _ = try AgentSetup.load(configPath: h.configPath, extraProfileDirectories: [BuiltProducts.profilesDirectory])
            Issue.record("loaded with a zone that does not exist")
        } catch {
            #expect(error.description.hasPrefix("monitoring.location.timeZone: ") && error.description.contains("Europe/Atlantis"), "\(error)")
        }
    }
}
