import ConcentratorCore
import Console
import Foundation
import Platform
import Testing
import TestSupport

/// The events screen's `alarms` and `schedules` (edge monitoring), from the control socket's
/// `monitoring` report: what the installer sees, in 80 columns; and the field view of an alarm event.
@Suite struct MonitoringScreenTests {
    static let report = """
        {"alarms": [{"kind": "threshold", "meter": "m1", "phase": "raised", "rule": "overvoltage", "severity": 2,
                     "since": "2026-06-01T10:02:00Z", "threshold": 253, "value": 260.5},
                    {"kind": "communication-lost", "meter": "m2", "phase": "pending", "rule": "comm", "severity": 2,
                     "since": "2026-06-01T10:05:00Z", "threshold": null, "value": 0}],
         "schedules": {"timeZone": "Europe/Rome", "now": "2026-06-01T10:06:00Z", "nowLocal": "2026-06-01T12:06:00+02:00",
                       "outputs": [{"output": "street", "kind": "relay", "meter": "m1", "state": "off", "source": "schedule",
                                    "nextChange": "2026-06-01T19:10:00Z", "nextChangeLocal": "2026-06-01T21:10:00+02:00",
                                    "confirmed": "off", "attempts": 0, "failureAlarmed": false}]}}
        """

    @Test func alarmsAndSchedulesAreShownFromTheMonitoringReport() {
        let agent = FakeAgent(running: true, answers: ["monitoring": .success(ControlReply(message: Self.report))])
        let terminal = ScriptedTerminal([.line("events"), .line("alarms"), .line("events"), .line("schedules"), .line(""), .line("q")])
        let session = makeSession(terminal, document: configWithOneBus(), agent: agent)
        #expect(session.run() == 0)
        let out = terminal.output
        #expect(out.contains("overvoltage@m1") && out.contains("raised") && out.contains("260.5") && out.contains("253"), "\(out)")
        #expect(out.contains("comm@m2") && out.contains("pending"))
        #expect(out.contains("06-01 10:02"), "the since column fits: \(out)")
        #expect(out.contains("1 open, 1 pending or cleared"))
        #expect(out.contains("time zone Europe/Rome") && out.contains("street") && out.contains("2026-06-01 21:10+02:00"), "\(out)")
        #expect(terminal.overlongLines.isEmpty, "\(terminal.overlongLines)")
    }

    @Test func anOverrideIsSetFromTheSchedulesView() throws {
        let after = #"{"outputs": [{"output": "street", "state": "on", "source": "override", "nextChangeLocal": "2026-06-01T18:06:00+02:00"}]}"#
        let agent = FakeAgent(running: true, answers: ["monitoring": .success(ControlReply(message: Self.report)),
                                                       "schedule.set": .success(ControlReply(message: after))])
        let terminal = ScriptedTerminal([.line("events"), .line("schedules"), .line("park"), .line("street"), .line("dim"), .line("on"),
                                         .line("200"), .line("6"), .line("q")])
        let session = makeSession(terminal, document: configWithOneBus(), agent: agent)
        #expect(session.run() == 0)
        #expect(terminal.output.contains("the output must be one of") && terminal.output.contains("the state must be one of"), "\(terminal.output)")
        #expect(terminal.output.contains("street: on by override, next change 2026-06-01T18:06:00+02:00"), "\(terminal.output)")
        let request = try #require(agent.requests.first { $0.op == "schedule.set" })
        let args = try JSONParser.parse(try #require(request.arguments))
        #expect(args["override"]?["output"]?.stringValue == "street" && args["override"]?["state"]?.stringValue == "on")
        // The console's clock (the fake services' manual clock) plus 6 hours.
        #expect(args["override"]?["until"]?.stringValue == ISO8601.format(Timestamp(seconds: 1_800_000_000 + 6 * 3600)))
        #expect(terminal.overlongLines.isEmpty, "\(terminal.overlongLines)")
    }

    @Test func withoutMonitoringTheScreenSaysSo() {
        let agent = FakeAgent(running: true, answers: ["monitoring": .failure(ControlFailure(code: "unsupported", message: "edge monitoring does not run"))])
        let terminal = ScriptedTerminal([.line("events"), .line("alarms"), .line("q")])
        let session = makeSession(terminal, document: configWithOneBus(), agent: agent)
        #expect(session.run() == 0)
        #expect(terminal.output.contains("no alarms: edge monitoring does not run"), "\(terminal.output)")
    }

    @Test func anAlarmEventsFieldsAreListedOnePerLine() {
        let lines = MonitoringView.fields("output=street state=on result=retrying source=schedule attempts=2 detail=meter m1 did not answer")
        #expect(lines == ["  output     street", "  state      on", "  result     retrying", "  source     schedule", "  attempts   2",
                          "  detail     meter m1 did not answer"])
    }
}
