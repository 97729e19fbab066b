import ConcentratorCore
import Console
import Foundation
import Platform
import Testing
import TestSupport

/// Issue 16 §4 (80 columns everywhere, the pager, hints that name menus) and §1 (poll now, the
/// commissioning report) on a scripted terminal.
@Suite struct EightyColumnsAndPollTests {
    @Test func thePagersQLeavesNoStrayEnterAndCRLFIsOneKey() {
        // Export to the screen: 31 lines, two pages. "q" then Enter at the first page; then the
        // same with a CR LF terminal pressing Enter for the next page.
        let terminal = ScriptedTerminal([.line("export"), .line(""), .line(""), .line(""), .line("screen"), .line("q"),
                                         .line("export"), .line(""), .line(""), .line(""), .line("screen"), .raw([0x0D, 0x0A]),
                                         .line("q")])
        #expect(makeSession(terminal).run() == 0)
        #expect(terminal.output.contains("(1 more page not shown)"))
        #expect(!terminal.output.contains("type a number 1-14"), "no empty answer reached the main prompt:\n\(terminal.output)")
        #expect(terminal.inputLeft == 0)
    }

    @Test func longLabelsDefaultsAndDiffLinesAreWrappedNotCut() {
        let port = "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A10KZ9QX-if00-port0"
        var doc = configWithOneBus()
        doc.appendMeter(MeterEntry(id: "bus1-m1", bus: "bus1", address: .integer(1), profile: "abb-b23", pod: "IT001E00012345678",
                                   serialNumber: "SN-2026-000001", label: "cabinet 4, second row from the top, left").json())
        let terminal = ScriptedTerminal(lines: ["bus", "bus1", port, "", "", "", "", "", "bus", "bus1", "", "", "", "", "", "",
                                                "apply", "n", "q", "y"])
        let session = makeSession(terminal, document: configWithOneBus())
        #expect(session.run() == 0)
        #expect(terminal.output.contains("Serial port (device)\n  [\(port)]:\n> "), "the whole default, the answer on its own line")
        #expect(terminal.overlongLines.isEmpty, "\(terminal.overlongLines)")
        let diff = ConfigDiff.render(ConfigDiff.changes(from: configWithOneBus().root, to: doc.root))
        #expect(diff.count > 1 && diff.allSatisfy { $0.count <= 80 })
        #expect(diff.joined(separator: " ").contains("label=\"cabinet 4, second row from the top, left\""), "\(diff)")
    }

    @Test func eventsHaveADetailViewWithTheWholeMessage() {
        let long = "the meter stopped answering after the cabinet was opened; check the wiring of terminals A and B, "
            + "the termination resistor at the far end, and the meter's own display for a communication error code E-17"
        let events = (1...3).map { GatewayEvent(time: Timestamp(seconds: 1_800_000_000 + Int64($0)), kind: .meterOffline, severity: .warning,
                                                meter: MeterID("bus1-m\($0)"), message: $0 == 2 ? long : "no answer") }
        let agent = FakeAgent(running: true, answers: ["events": .success(ControlReply(events: events))])
        let terminal = ScriptedTerminal(lines: ["events", "", "9", "2", "", "q"])
        #expect(makeSession(terminal, agent: agent).run() == 0)
        #expect(terminal.output.contains("Event 2: meter_offline (10), warn"))
        let text = terminal.lines.joined(separator: " ").split(separator: " ").joined(separator: " ")
        #expect(text.contains(long), "the whole message in the detail view")
        #expect(terminal.output.contains("9 is outside 1-3 for the event number"))
        #expect(terminal.overlongLines.isEmpty, "\(terminal.overlongLines)")
    }

    @Test func hintsNameTheMenuNotAJSONPath() {
        var doc = configWithOneBus()
        doc.appendMeter(MeterEntry(id: "bus1-m1", bus: "bus1", address: .integer(1), profile: "abb-b23").json())
        let issue = ValidationIssue(path: "$.meters[0].address", problem: "already used", value: "1", expected: "1-247")
        #expect(IssueText.describe(issue, in: doc)
                == "meter bus1-m1, address: already used (got 1); allowed: 1-247. Fix in meters (menu 4) or import (menu 5).")
        #expect(IssueText.describe(ValidationIssue(path: "$.uplink.headEndKeys", problem: "missing"), in: doc)
                == "uplink, head-end keys: missing. Import them in keys (menu 9).")
        // The uplink form's "still needed" hint, as the installer sees it.
        let terminal = ScriptedTerminal(lines: ["uplink", "edit", "127.0.0.1", "none", "", "-", "", "q", "y"])
        #expect(makeSession(terminal).run() == 0)
        #expect(terminal.output.replacingOccurrences(of: "\n  ", with: " ").contains("Import them in keys (menu 9)"), "\(terminal.output)")
        #expect(!terminal.output.contains("$."), "no JSON path is shown")
    }

    @Test func testReadsPutTheVerdictFirstAndReadSeveralMeters() {
        var doc = configWithOneBus()
        for a in 1...2 { doc.appendMeter(MeterEntry(id: "bus1-m\(a)", bus: "bus1", address: .integer(a), profile: "abb-b23").json()) }
        let terminal = ScriptedTerminal(lines: ["read", "nope", "all", "q"])
        #expect(makeSession(terminal, document: doc).run() == 0)
        let lines = terminal.lines
        for id in ["bus1-m1", "bus1-m2"] {
            guard let first = lines.firstIndex(where: { $0.hasPrefix(id + "  ") }) else {
                Issue.record("no verdict line for \(id): \(lines)")
                continue
            }
            #expect(lines[first].hasPrefix("\(id)  CHECK: 3 values, 1 OUTSIDE, 1 NOT READ  (addr "), "\(lines[first])")
            #expect(lines[first + 1].hasPrefix("  voltage_l1") && lines[first + 1].contains("231.5") && lines[first + 1].contains(" ok "))
        }
        #expect(terminal.output.contains("2 meters read: 2 answered, 0 failed"))
        #expect(terminal.overlongLines.isEmpty, "\(terminal.overlongLines)")
    }

    static func pollResults() -> [MeterPollResult] {
        let t = Timestamp(seconds: 1_800_000_000)
        return [MeterPollResult(meter: "bus1-m1", bus: "bus1", address: "1", profile: "eastron-sdm630", answered: true, values: 24, errors: 0,
                                outside: [], responseMilliseconds: 85, failure: nil, archived: true, intervalStart: t),
                MeterPollResult(meter: "bus1-m2", bus: "bus1", address: "2", profile: "eastron-sdm630", answered: false, values: 0, errors: 24,
                                outside: [], responseMilliseconds: 1003, failure: "no response", archived: true, intervalStart: t),
                MeterPollResult(meter: "bus1-m3", bus: "bus1", address: "3", profile: "abb-b23", answered: true, values: 20, errors: 0,
                                outside: ["current_l1", "active_power_total"], responseMilliseconds: 140, failure: nil, archived: true,
                                intervalStart: t)]
    }

    @Test func pollNowShowsAPerMeterTableWithinEightyColumns() throws {
        let agent = FakeAgent(running: true, answers: ["poll": .success(ControlReply(poll: Self.pollResults()))])
        agent.progressLines["poll"] = [ControlReply(done: false, progress: ScanProgress(address: 0, done: 3, total: 3, found: 2))]
        let terminal = ScriptedTerminal(lines: ["poll", "", "q"])
        #expect(makeSession(terminal, agent: agent).run() == 0)
        let request = try #require(agent.requests.first { $0.op == "poll" })
        #expect(request.meters == nil, "all meters")
        let lines = terminal.lines
        #expect(lines.contains { $0.hasPrefix("bus1-m1") && $0.contains(" ok ") && $0.contains(" 24 ") && $0.contains(" all ") && $0.contains(" 85") })
        #expect(lines.contains { $0.hasPrefix("bus1-m2") && $0.contains("NO ANSWER") && $0.hasSuffix("no response") })
        #expect(lines.contains { $0.hasPrefix("bus1-m3") && $0.contains("OUTSIDE") && $0.contains("18 of 20") })
        #expect(lines.contains { $0.hasSuffix("outside:") } && lines.contains { $0.hasSuffix(" current_l1,") }
                && lines.contains { $0.hasSuffix(" active_power_total") }, "the reason continues in its column")
        #expect(terminal.output.contains("3 meters: 2 answered, 1 with every value plausible; 1 NO ANSWER; slowest 140 ms"))
        #expect(terminal.output.replacingOccurrences(of: "\n  ", with: " ").contains("3 snapshots archived as interval 2027-01-15T08:00:00Z; queued for the head-end."))
        #expect(terminal.output.contains("poll [####################] 3/3  2 answered"))
        #expect(terminal.overlongLines.isEmpty, "\(terminal.overlongLines)")
        let down = ScriptedTerminal(lines: ["poll", "q"])
        #expect(makeSession(down).run() == 0)
        #expect(down.output.contains("poll now needs the running agent"))
    }

    @Test func theReportIsSavedInTheStateDirectoryAndSentToTheHeadEnd() throws {
        let dir = TemporaryDirectory("console-report")
        let status = AgentStatus(device: "gw-test", version: "9.9.9", startedAt: Timestamp(seconds: 1_800_000_000),
                                 now: Timestamp(seconds: 1_800_000_100), clockSynchronised: true, buses: [], archive: nil)
        let agent = FakeAgent(running: true, answers: ["poll": .success(ControlReply(poll: Self.pollResults())),
                                                       "status": .success(ControlReply(status: status)),
                                                       "commissioning.report": .success(ControlReply(message: "recorded"))])
        let terminal = ScriptedTerminal(lines: ["report", "", "", "Anna Rossi", "cabinet 4, Via Roma 1", "q"])
        #expect(makeSession(terminal, document: configWithOneBus(directory: dir.path), agent: agent).run() == 0)
        let sent = try #require(agent.requests.first { $0.op == "commissioning.report" }?.report)
        #expect(sent.installer == "Anna Rossi" && sent.note == "cabinet 4, Via Roma 1" && sent.meters.count == 3)
        #expect(sent.keys.first?.id == "0a5b67549542c9a5" && sent.agentVersion == "9.9.9" && sent.uplinkResult == "not run")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.file("state/commissioning")).sorted()
        #expect(files == [sent.fileStem + ".json", sent.fileStem + ".txt"])
        let text = try String(contentsOfFile: dir.file("state/commissioning/\(sent.fileStem).txt"), encoding: .utf8)
        #expect(text.contains("installer  Anna Rossi") && text.contains("bus1-m2") && text.contains("NO ANSWER"))
        #expect(text.split(separator: "\n").allSatisfy { $0.count <= 80 })
        let json = try JSONDecoder().decode(CommissioningReport.self, from: Data(contentsOf: URL(fileURLWithPath: dir.file("state/commissioning/\(sent.fileStem).json"))))
        #expect(json == sent)
        #expect(terminal.output.contains("Sent: recorded."))
        #expect(terminal.overlongLines.isEmpty, "\(terminal.overlongLines)")
    }

    @Test func theReportEventTextStaysWithinTheEventLimit() throws {
        let t = Timestamp(seconds: 1_800_000_000)
        let meters = (1...64).map { a in
            MeterPollResult(meter: MeterID("bus1-meter-with-a-long-name-\(a)"), bus: "bus1", address: "\(a)", profile: "abb-b23", answered: false,
                            values: 0, errors: 1, outside: [], responseMilliseconds: 1000, failure: "no response", archived: false, intervalStart: t)
        }
        let report = CommissioningReport(device: "gw-1", time: t, installer: "Anna", note: String(repeating: "n", count: 300), agentVersion: nil,
                                         keys: [ReportedKey(role: "device signing", algorithm: "ed25519", id: "0a5b67549542c9a5", fingerprint: "")],
                                         buses: [], meters: meters, polledAt: t, uplinkResult: "passed", uplinkDetail: nil)
        let text = report.eventText
        #expect(text.utf8.count <= CommissioningReport.eventTextLimit)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let failed = try #require(parsed["failed"] as? [String])
        #expect(failed.count + (parsed["more"] as? Int ?? 0) == 64 && failed.count > 10)
        #expect(parsed["answered"] as? Int == 0 && parsed["meters"] as? Int == 64 && parsed["uplink"] as? String == "passed")
        #expect(parsed["signingKey"] as? String == "0a5b67549542c9a5" && (parsed["note"] as? String)?.count == 120)
        #expect(text.hasPrefix(#"{"answered":0,"failed":["#), "canonical: keys sorted, no spaces")
    }
}
