import ConcentratorCore
import Foundation
import Platform
import Testing
import TestSupport

/// Edge monitoring's alarms end to end (issue 14, acceptance): a threshold crossing on meter-sim is
/// seen by the agent's live cadence, raised, stored with its state and sent at once as a
/// `meter_alarm` event batch through mosquitto to the real head-end, which shows it in `headend
/// status`; `alarm.ack` from `headend command` (operator role) moves its state; a restart of the agent
/// in the middle does not raise it twice; the value going back clears it. Latency is measured by
/// Benchmarks/alarm-latency.sh, not asserted here.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct AlarmEndToEndTests {
    static let monitoring = """
        {"alarms": [{"id": "overvoltage", "meters": ["bus1-m1"], "kind": "threshold", "quantity": "voltage_l1",
                     "above": 253, "hysteresis": 3, "severity": "error"}]}
        """
    static let polling = #"{"live": {"periodSeconds": 1, "quantities": ["voltage_l1"]}}"#

    /// `headend status --json`'s `alarms`.
    static func headEndAlarms(_ f: CommandField) throws -> [[String: Any]] {
        let r = try runCommand(BuiltProducts.path("headend"), ["status", "--config", f.headendConfig, "--json"])
        let object = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any]
        return object?["alarms"] as? [[String: Any]] ?? []
    }

    /// Waits until the head-end shows the alarm in `phase`; returns it.
    static func waitForHeadEnd(_ f: CommandField, phase: String, timeout: Duration = .seconds(45)) async throws -> [String: Any]? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let alarm = try headEndAlarms(f).first(where: { $0["rule"] as? String == "overvoltage" }), alarm["phase"] as? String == phase {
                return alarm
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        return nil
    }

    @Test func aThresholdCrossingReachesTheHeadEndAndIsAcknowledgedOnce() async throws {
        let f = try await CommandField(agentSections: ["monitoring": Self.monitoring, "polling": Self.polling], pods: ["bus1-m1": "IT001E00000001"])
        #expect(try await f.waitUntilCommandable(), "\(f.agent.log.suffix(2000))")
        // Nothing raised while the simulated voltage is normal (about 230 V).
        try await Task.sleep(for: .seconds(2))
        #expect(try Self.headEndAlarms(f).isEmpty)

        #expect(try f.sim.control("set 1 voltage_l1 260.5") == "ok set 1 voltage_l1 260.5")
        let raised = try await Self.waitForHeadEnd(f, phase: "raised")
        try #require(raised != nil, "no raised alarm at the head-end: \(f.agent.log.suffix(3000)) \(f.headend.stderr.suffix(2000))")
        #expect(raised?["device"] as? String == CommandField.device && raised?["meter"] as? String == "bus1-m1")
        #expect(raised?["value"] as? Double == 260.5 && raised?["threshold"] as? Double == 253 && raised?["severity"] as? String == "error")
        #expect(raised?["occurrence"] as? Int == 1)
        // The human status lists it too.
        let table = try runCommand(BuiltProducts.path("headend"), ["status", "--config", f.headendConfig]).stdout
        #expect(table.contains("alarms: 1 open") && table.contains("overvoltage@bus1-m1") && table.contains("260.5"), "\(table)")

        // The acknowledgement needs the operator role; a reader key is refused.
        let refused = try await f.command("alarm.ack", ["rule=overvoltage", "meter=bus1-m1"], role: "reader")
        #expect(refused.code == "role-too-low", "\(refused)")
        let unknown = try await f.command("alarm.ack", ["rule=nosuchrule", "meter=bus1-m1"], role: "operator")
        #expect(unknown.code == "invalid-arguments", "\(unknown)")
        let ack = try await f.command("alarm.ack", ["rule=overvoltage", "meter=bus1-m1"], role: "operator")
        #expect(ack.code == "ok" && ack.result["outcome"] as? String == "acknowledged" && ack.result["occurrence"] as? Int == 1, "\(ack)")
        #expect(try await Self.waitForHeadEnd(f, phase: "acknowledged") != nil)

        // The head-end's exports: the monthly report lists the open alarm; the CER document has the
        // meter under its POD (from the agent's meter_identity event), with the device id.
        let hour = IntervalSchedule(minutes: 60).start(containing: Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000)))
        let monthly = try runCommand(BuiltProducts.path("headend"), ["export", "--config", f.headendConfig, "--format", "monthly-csv",
                                                                     "--from", ISO8601.format(hour), "--to", ISO8601.format(hour.adding(seconds: 3600))])
        #expect(monthly.status == 0 && monthly.stdout.contains("overvoltage") && monthly.stdout.contains("bus1-m1"), "\(monthly)")
        let cer = try runCommand(BuiltProducts.path("headend"), ["export", "--config", f.headendConfig, "--format", "cer-json", "--time-zone",
                                                                 "Europe/Rome", "--from", ISO8601.format(hour), "--to", ISO8601.format(hour.adding(seconds: 3600))])
        let document = try JSONParser.parse(cer.stdout)
        let device = document["devices"]?.arrayValue?.first
        #expect(cer.status == 0 && document["devices"]?.arrayValue?.count == 1, "\(cer.stdout.prefix(1000)) \(cer.stderr)")
        #expect(device?["pod"]?.stringValue == "IT001E00000001" && device?["deviceId"]?.stringValue == "\(CommandField.device)/bus1-m1")
        #expect(device?["quarterHours"]?.arrayValue?.count == 4 && document["timeZone"]?.stringValue == "Europe/Rome")

        // A restart while the value is still over the limit: the state comes back, nothing is raised again.
        try f.restartAgent()
        #expect(try await f.waitUntilCommandable(), "\(f.agent.log.suffix(2000))")
        try await Task.sleep(for: .seconds(3))
        let again = try await f.command("alarm.ack", ["rule=overvoltage", "meter=bus1-m1"], role: "operator")
        #expect(again.code == "ok" && again.result["outcome"] as? String == "already-acknowledged", "\(again)")
        let afterRestart = try Self.headEndAlarms(f).first { $0["rule"] as? String == "overvoltage" }
        #expect(afterRestart?["phase"] as? String == "acknowledged" && afterRestart?["transitions"] as? Int == 2, "\(afterRestart ?? [:])")
        #expect(f.agent.log.contains("(1 open after restore)"), "\(f.agent.log.prefix(3000))")

        // Back to normal: cleared at the head-end; acknowledging now says it is not open.
        #expect(try f.sim.control("set 1 voltage_l1 auto") == "ok set 1 voltage_l1 auto")
        let cleared = try await Self.waitForHeadEnd(f, phase: "cleared")
        #expect(cleared?["transitions"] as? Int == 3, "\(cleared ?? [:])")
        let late = try await f.command("alarm.ack", ["rule=overvoltage", "meter=bus1-m1"], role: "operator")
        #expect(late.result["outcome"] as? String == "not-open" && late.result["phase"] as? String == "cleared", "\(late)")
        // The control socket, as the console's events screen reads it: the transitions in the recent
        // events, the alarm's state in `monitoring`.
        let client = try #require(try ControlClient.connectIfRunning(path: f.dir.file("run/control.sock")))
        let events = try client.call(ControlRequest(op: "events", limit: 50)).events ?? []
        #expect(events.contains { $0.kind == .meterAlarm && $0.meter == "bus1-m1" && $0.message.hasPrefix("alarm=cleared rule=overvoltage") },
                "\(events.map(\.message))")
        let report = try JSONParser.parse(try #require(try client.call(ControlRequest(op: "monitoring")).message))
        let alarm = report["alarms"]?.arrayValue?.first
        #expect(alarm?["rule"]?.stringValue == "overvoltage" && alarm?["phase"]?.stringValue == "cleared", "\(report)")
    }

    /// `schedule.set` and `schedule.get` from `headend command` (operator role): an override switches
    /// the simulated relay at once, survives a restart of the agent, and its removal leaves the output
    /// unmanaged.
    @Test func schedulesAreSetAndReadFromTheHeadEnd() async throws {
        let monitoring = """
            {"location": {"latitude": 41.9028, "longitude": 12.4964, "timeZone": "Europe/Rome"},
             "outputs": [{"id": "street", "kind": "relay", "meter": "bus1-m1"}]}
            """
        let f = try await CommandField(agentSections: ["monitoring": monitoring])
        #expect(try await f.waitUntilCommandable(), "\(f.agent.log.suffix(2000))")
        #expect(try f.sim.control("coil 1 off") == "ok coil 1 off")
        let initial = try await f.command("schedule.get", role: "operator")
        let first = (initial.result["outputs"] as? [[String: Any]])?.first
        #expect(initial.code == "ok" && initial.result["timeZone"] as? String == "Europe/Rome", "\(initial)")
        #expect(first?["output"] as? String == "street" && first?["source"] as? String == "unmanaged" && first?["meter"] as? String == "bus1-m1")

        let until = ISO8601.format(Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000)).adding(seconds: 3600))
        let override = #"{"override": {"output": "street", "state": "on", "until": "\#(until)"}}"#
        #expect(try await f.command("schedule.set", args: override, role: "reader").code == "role-too-low")
        let set = try await f.command("schedule.set", args: override, role: "operator")
        let after = (set.result["outputs"] as? [[String: Any]])?.first
        #expect(set.code == "ok" && after?["state"] as? String == "on" && after?["source"] as? String == "override", "\(set)")
        #expect(await Self.waitForCoil(f, "on"), "the override did not switch the relay: \(f.agent.log.suffix(2000))")
        let bad = try await f.command("schedule.set", args: #"{"override": {"output": "park", "state": "on", "until": "\#(until)"}}"#,
                                      role: "operator")
        #expect(bad.code == "invalid-arguments", "\(bad)")

        // The override is kept in the archive: it is still there after a restart.
        try f.restartAgent()
        #expect(try await f.waitUntilCommandable(), "\(f.agent.log.suffix(2000))")
        let kept = try await f.command("schedule.get", ["output=street"], role: "operator")
        let keptOutput = (kept.result["outputs"] as? [[String: Any]])?.first
        #expect(keptOutput?["source"] as? String == "override" && (keptOutput?["override"] as? [String: Any])?["until"] as? String == until,
                "\(kept)")
        #expect(keptOutput?["confirmed"] as? String == "on", "\(kept)")

        // Off by a new override, then removed: unmanaged, the relay stays where it was.
        let off = try await f.command("schedule.set", args: #"{"override": {"output": "street", "state": "off", "until": "\#(until)"}}"#,
                                      role: "operator")
        #expect(off.code == "ok", "\(off)")
        #expect(await Self.waitForCoil(f, "off"))
        let removed = try await f.command("schedule.set", args: #"{"remove": {"output": "street", "what": "override"}}"#, role: "operator")
        #expect((removed.result["outputs"] as? [[String: Any]])?.first?["source"] as? String == "unmanaged", "\(removed)")
        try await Task.sleep(for: .seconds(1))
        #expect(try f.sim.control("coil 1") == "ok coil 1 off")

        // The installer's console sets an override through the control socket; it is audited as `console`.
        let client = try #require(try ControlClient.connectIfRunning(path: f.dir.file("run/control.sock")))
        let fromConsole = try client.call(ControlRequest(op: "schedule.set",
                                                         arguments: #"{"override": {"output": "street", "state": "on", "until": "\#(until)"}}"#))
        #expect(fromConsole.error == nil && fromConsole.message?.contains("\"source\":\"override\"") == true, "\(fromConsole)")
        #expect(await Self.waitForCoil(f, "on"))
        do {
            _ = try client.call(ControlRequest(op: "schedule.set", arguments: #"{"override": {"output": "park"}}"#))
            Issue.record("an unknown output was accepted")
        } catch {
            #expect("\(error)".contains("bad-request") && "\(error)".contains("unknown output"), "\(error)")
        }
        let audit = try client.call(ControlRequest(op: "audit", limit: 50)).audit ?? []
        #expect(audit.contains { $0.role == "console" && $0.verb == "schedule.set" && $0.arguments.contains("street") }, "\(audit)")
    }

    static func waitForCoil(_ f: CommandField, _ state: String, timeout: Duration = .seconds(10)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? f.sim.control("coil 1")) == "ok coil 1 \(state)" { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }
}
