import ConcentratorCore
import Console
import Foundation
import Platform
import Testing
import TestSupport

/// Whole screens driven by keystrokes on a scripted terminal: bad input at every prompt gets a
/// message and the same prompt again; every line fits 80 columns; Ctrl-C cancels the step only.
@Suite struct SessionFlowTests {
    /// Checks that after the prompt line `promptWithAnswer` a problem line follows, then the same
    /// prompt again.
    private func expectReprompt(_ terminal: ScriptedTerminal, _ prompt: String, badAnswer: String, again: String? = nil,
                                sourceLocation: SourceLocation = #_sourceLocation) {
        let lines = terminal.lines
        guard let index = lines.firstIndex(of: prompt + badAnswer) else {
            Issue.record("no prompt \"\(prompt + badAnswer)\" in:\n\(terminal.output)", sourceLocation: sourceLocation)
            return
        }
        var next = index + 1
        #expect(lines[next].hasPrefix("  ! "), "a message after the bad answer \(badAnswer)", sourceLocation: sourceLocation)
        while next < lines.count, lines[next].hasPrefix("  ! ") || lines[next].hasPrefix("    ") { next += 1 }
        #expect(next < lines.count && lines[next].hasPrefix(again ?? prompt), "the prompt again after \(badAnswer): \(lines[next])",
                sourceLocation: sourceLocation)
    }

    @Test func scanAndAddWhatWasFoundWithBadInputAtEveryPrompt() {
        let hits = [ScanHit(address: 1, profile: "eastron-sdm630", detail: "fc4@64512=630"), ScanHit(address: 2, profile: "abb-b23", detail: "x"),
                    ScanHit(address: 3, profile: "carlo-gavazzi-em24", detail: "x"), ScanHit(address: 4, profile: nil, detail: "fc3@0=exception")]
        let terminal = ScriptedTerminal(lines: ["frob", "3", "bus9", "", "0-300", "1-10", "5", "", "1-300", "all", "bad id!", "",
                                                "nope", "finder-7m", "q", "maybe", "y"])
        let session = makeSession(terminal, directBus: FakeDirectBus(hits: hits))
        #expect(session.run() == 0)
        expectReprompt(terminal, "main: ", badAnswer: "frob")
        expectReprompt(terminal, "Bus [bus1]: ", badAnswer: "bus9")
        expectReprompt(terminal, "Addresses (a list such as 10-29,100-121) [1-247]: ", badAnswer: "0-300")
        expectReprompt(terminal, "Timeout per address, ms [250]: ", badAnswer: "5")
        expectReprompt(terminal, "Add which? all, none, or a list like 1-40,45 [all]: ", badAnswer: "1-300")
        expectReprompt(terminal, "Meter id prefix (id = prefix + address) [bus1-m]: ", badAnswer: "bad id!")
        expectReprompt(terminal, "Profile for it, or skip [skip]: ", badAnswer: "nope")
        expectReprompt(terminal, "Answer (y/N): ", badAnswer: "maybe")
        #expect(session.working.meterIDs == ["bus1-m1", "bus1-m2", "bus1-m3", "bus1-m4"])
        #expect(session.working.meter(id: "bus1-m4")?["profile"]?.stringValue == "finder-7m")
        #expect(terminal.output.contains("scan [####################] 10/10  found 4"))
        #expect(terminal.overlongLines.isEmpty, "\(terminal.overlongLines)")
        #expect(terminal.inputLeft == 0)
    }

    @Test func addEditAndRemoveAMeterWithBadInputAtEveryPrompt() {
        let terminal = ScriptedTerminal(lines: [
            "4", "frob", "add", "bad id!", "m1", "bus9", "bus1", "300", "7", "nope", "eastron-sdm630", String(repeating: "p", count: 70), "POD-7", "-", "cabinet A",
            "4", "edit", "m9", "m1", "", "", "8", "", "", "", "-",
            "4", "remove", "m1", "n",
            "q", "y",
        ])
        let session = makeSession(terminal)
        #expect(session.run() == 0)
        expectReprompt(terminal, "add, edit, remove, or Enter to go back [back]: ", badAnswer: "frob")
        expectReprompt(terminal, "Meter id: ", badAnswer: "bad id!")
        expectReprompt(terminal, "Bus [bus1]: ", badAnswer: "bus9")
        expectReprompt(terminal, "Modbus address: ", badAnswer: "300")
        expectReprompt(terminal, "Profile: ", badAnswer: "nope")
        expectReprompt(terminal, "> ", badAnswer: String(repeating: "p", count: 70), again: "Point of delivery (POD) [-]:")
        expectReprompt(terminal, "Meter to edit: ", badAnswer: "m9")
        let meter = session.working.meter(id: "m1")
        #expect(meter?["address"]?.intValue == 8)
        #expect(meter?["pod"]?.stringValue == "POD-7")
        #expect(meter?["label"] == nil, "- cleared the label")
        #expect(terminal.overlongLines.isEmpty, "\(terminal.overlongLines)")
    }

    @Test func csvImportFromAFileReportsEachRow() throws {
        let dir = TemporaryDirectory("console-import")
        let csv = dir.file("meters.csv")
        try "id,bus,address,profile\nm1,bus1,1,abb-b23\nm2,bus1,300,abb-b23\n".write(toFile: csv, atomically: true, encoding: .utf8)
        let terminal = ScriptedTerminal(lines: ["5", "meters.csv", dir.file("none.csv"), csv, "", "y", "q", "y"])
        let session = makeSession(terminal)
        #expect(session.run() == 0)
        expectReprompt(terminal, "> ", badAnswer: "meters.csv", again: "CSV file (a path), or paste:")
        expectReprompt(terminal, "> ", badAnswer: dir.file("none.csv"), again: "CSV file (a path), or paste:")
        #expect(terminal.output.contains("2 rows: 1 added, 1 bad address"))
        #expect(session.working.meterIDs == ["m1"])
        #expect(terminal.overlongLines.isEmpty, "\(terminal.overlongLines)")
    }

    @Test func ctrlCCancelsTheStepNotTheConsoleAndChangesNothing() {
        let terminal = ScriptedTerminal([.interrupt, .line("4"), .line("add"), .line("m1"), .interrupt, .line("status"), .line("q")])
        let session = makeSession(terminal)
        #expect(session.run() == 0)
        #expect(terminal.output.contains("Nothing to cancel here"))
        #expect(terminal.output.contains("Cancelled; nothing was changed by that step."))
        #expect(session.working == configWithOneBus())
        #expect(terminal.output.contains("Status"), "the console went on after Ctrl-C")
    }

    @Test func aCancelledScanAddsNothing() {
        let terminal = ScriptedTerminal([.line("scan"), .line(""), .line("1-10"), .line(""), .line("q")], cancelDuringActions: true)
        let session = makeSession(terminal, directBus: FakeDirectBus(hits: [ScanHit(address: 1, profile: "abb-b23", detail: "")]))
        #expect(session.run() == 0)
        #expect(terminal.output.contains("Scan stopped; nothing was added."))
        #expect(session.working.meters.isEmpty)
    }

    @Test func uplinkTestReportsEachStepAndWhatToCheck() {
        let terminal = ScriptedTerminal(lines: ["uplink", "edit", "bad host", "127.0.0.1", "tls", "none", "99999", "1", "-", "",
                                                "uplink", "test", "q", "y"])
        let broker = FakeBroker(result: .failed(.mqtt, detail: "bad username or password: CONNACK reason code 0x86",
                                                check: "the username and the password file"))
        let session = makeSession(terminal, broker: broker)
        #expect(session.run() == 0)
        expectReprompt(terminal, "Broker host: ", badAnswer: "bad host")
        expectReprompt(terminal, "TLS: none, ca or psk [none]: ", badAnswer: "tls")
        expectReprompt(terminal, "Broker port [1883]: ", badAnswer: "99999")
        #expect(terminal.output.contains("[ ok ] 1 name resolution: 127.0.0.1 -> 127.0.0.1"))
        // Port 1 on loopback refuses: the test stops at the TCP step and says what to check.
        #expect(terminal.output.contains("[FAIL] 2 TCP connection: no TCP connection to port 1"))
        #expect(terminal.output.contains("check: that the broker runs and listens on port 1"))
        #expect(terminal.output.contains("[ -- ] 4 MQTT CONNACK: not run"))
        #expect(terminal.overlongLines.isEmpty, "\(terminal.overlongLines)")
    }

    @Test func keysAreCheckedAndSecretsNeverEchoed() {
        let sealing = KeyText.format(Array(1...32))
        let meterKey = KeyTextTests.meterKeyText
        var doc = configWithOneBus()
        // A meter whose profile this build does not have (DLMS/COSEM profiles come with that
        // protocol): the console cannot tell that its protocol uses no key, so it takes the key.
        doc.appendMeter(MeterEntry(id: "m1", bus: "bus1", address: .integer(1), profile: "landis-e450-dlms").json())
        let terminal = ScriptedTerminal(lines: ["keys", "headend", "Bad!", "sealing", String(sealing.dropLast()) + "0",
                                                KeyText.format([0xFF] + Array(1...31)), sealing, "y",
                                                "keys", "meter", "m1", "", "00" + meterKey.dropFirst(2).dropLast(2) + "00", meterKey,
                                                "apply", "q", "y"])
        let session = makeSession(terminal, document: doc)
        #expect(session.run() == 0)
        expectReprompt(terminal, "Role: sealing, ack, or a command role: ", badAnswer: "Bad!")
        expectReprompt(terminal, "> ", badAnswer: String(sealing.dropLast()) + "0", again: "Public key: 64 hex digits")
        expectReprompt(terminal, "> ", badAnswer: KeyText.format([0xFF] + Array(1...31)), again: "Public key: 64 hex digits")
        #expect(terminal.output.contains("not a valid public key"))
        #expect(!terminal.output.contains(String(meterKey.prefix(12))), "the meter key is never shown")
        #expect(terminal.output.contains("> " + String(repeating: "*", count: 40)))
        #expect(session.working.headEndKeyFiles == ["/tmp/console-test/headend-keys/sealing-0102030405060708.json"])
        #expect(session.pendingFiles.map(\.path) == ["/tmp/console-test/headend-keys/sealing-0102030405060708.json",
                                                     "/tmp/console-test/state/keys/meters/m1.json"])
        #expect(session.pendingFiles[1].mode == 0o600)
        #expect(session.pendingFiles[1].text.contains(KeyText.hex(Array(0..<16))))
        #expect(terminal.output.contains("+ file /tmp/console-test/state/keys/meters/m1.json"))
        #expect(terminal.overlongLines.isEmpty, "\(terminal.overlongLines)")
    }

    @Test func everyOtherScreenFitsEightyColumns() {
        let status = AgentStatus(device: "gw-test", version: "0.1.0", startedAt: Timestamp(seconds: 1_800_000_000),
                                 now: Timestamp(seconds: 1_800_003_600), clockSynchronised: false,
                                 buses: [BusStatus(name: "bus1", device: "/dev/ttyRS485-1-with-a-rather-long-name", line: "38400 8N1", portOpen: true,
                                                   meters: [MeterStatus(id: "bus1-m1-with-a-long-id", address: "1", profile: "abb-b23", state: .offline,
                                                                        lastError: String(repeating: "no response ", count: 10),
                                                                        responseTimeoutMilliseconds: 100)],
                                                   cyclesCompleted: 1, queuedTasks: 0, pendingCommits: 0)],
                                 archive: ArchiveStatus(path: "/var/lib/concentrator/archive.sqlite", fileBytes: 1 << 20,
                                                        newestInterval: Timestamp(seconds: 1_800_000_000), oldestInterval: nil, lastError: nil))
        let events = (0..<30).map { GatewayEvent(time: Timestamp(seconds: 1_800_000_000 + Int64($0)), kind: .meterOffline, severity: .warning,
                                                 meter: MeterID("bus1-m\($0)"), message: String(repeating: "no answer ", count: 12)) }
        let agent = FakeAgent(running: true, answers: ["status": .success(ControlReply(status: status)),
                                                       "events": .success(ControlReply(events: events)),
                                                       "read": .failure(ControlFailure(code: "unknown-meter", message: "no meter"))])
        var doc = configWithOneBus()
        doc.appendMeter(MeterEntry(id: "m1", bus: "bus1", address: .integer(1), profile: "abb-b23").json())
        let terminal = ScriptedTerminal([.line("status"), .line("bus"), .line(""), .line("read"), .line("m1"), .line("time"), .line(""),
                                         .line("events"), .line(""), .key("\r"), .line(""), .line("events"), .line("log"), .line("export"),
                                         .line("yesterday"), .line(""), .line(""), .line("x"), .line(""), .line("screen"), .key("q"),
                                         .line("keys"), .line(""), .line("?"), .line("q")])
        let session = makeSession(terminal, document: doc, agent: agent)
        #expect(session.run() == 0)
        #expect(terminal.output.contains("meters: 1 configured, 0 online, 1 offline, 0 in error, 0 not polled yet"))
        #expect(terminal.output.contains("is not in the running configuration"))
        #expect(terminal.output.contains("-- more (1/2)"))
        #expect(terminal.output.contains("log line 2"))
        expectReprompt(terminal, "From (UTC) [2027-01-14T08:00:00Z]: ", badAnswer: "yesterday")
        expectReprompt(terminal, "Meter (- for all) [-]: ", badAnswer: "x")
        #expect(terminal.output.contains("2027-01-14T08:00:00Z,bus1-m1,voltage_l1,230.0,V,ok"))
        #expect(terminal.overlongLines.isEmpty, "\(terminal.overlongLines)")
        #expect(terminal.inputLeft == 0)
    }

    @Test func theCommandsFromTheHeadEndAreShownWithRoleAndOutcome() {
        let audit = [
            CommandAuditRecord(time: Timestamp(seconds: 1_800_000_100), commandID: "c-2", keyID: "0ab627fcc68eba3a", role: "reader",
                               verb: "relay", arguments: #"{"action":"disconnect","meter":"m1"}"#, result: "role-too-low",
                               message: "the reader role may not relay"),
            CommandAuditRecord(time: Timestamp(seconds: 1_800_000_000), commandID: "c-1", keyID: "1ce56a48c82ff991", role: "operator",
                               verb: "read", arguments: #"{"meters":["m1"]}"#, result: "ok", message: "1 meter read"),
        ]
        let agent = FakeAgent(running: true, answers: ["audit": .success(ControlReply(audit: audit))])
        let terminal = ScriptedTerminal([.line("events"), .line("frob"), .line("commands"), .key("q"), .line("q")])
        let session = makeSession(terminal, document: configWithOneBus(), agent: agent)
        #expect(session.run() == 0)
        #expect(terminal.output.contains("relay") && terminal.output.contains("role-too-low") && terminal.output.contains("reader"))
        #expect(terminal.output.contains("2 commands, newest first"))
        expectReprompt(terminal, "events, alarms, schedules, commands or log [events]: ", badAnswer: "frob")
        #expect(terminal.overlongLines.isEmpty, "\(terminal.overlongLines)")
    }

    @Test func theTestReadShowsUnitsAndPlausibleRanges() {
        var doc = configWithOneBus()
        doc.appendMeter(MeterEntry(id: "m1", bus: "bus1", address: .integer(1), profile: "abb-b23").json())
        let terminal = ScriptedTerminal(lines: ["read", "nope", "m1", "q"])
        let session = makeSession(terminal, document: doc)
        #expect(session.run() == 0)
        expectReprompt(terminal, "Meters: ids, addresses such as 1-5,7, or all: ", badAnswer: "nope")
        let lines = terminal.lines
        #expect(lines.contains { $0.hasPrefix("  voltage_l1") && $0.contains("231.5") && $0.contains(" V ") && $0.contains(" ok ")
                                 && $0.hasSuffix("207..253") })
        #expect(lines.contains { $0.hasPrefix("  current_l1") && $0.contains("150") && $0.contains(" OUTSIDE ") && $0.hasSuffix("0..100") })
        #expect(lines.contains { $0.hasPrefix("  active_energy_import") && $0.contains("ERROR modbus exception 2") })
        #expect(lines.contains { $0.hasPrefix("m1  CHECK: 3 values, 1 OUTSIDE, 1 NOT READ") }, "the verdict first")
    }
}
