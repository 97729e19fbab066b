import ConcentratorCore
import Console
import Foundation
import Platform
import Testing
import TestSupport

/// Issue 11 §5 and issue 15 §2 at the console: IEC 62056-21 and DLMS scans from the scan screen's
/// address prompt, the meter clock and its offset in a test read, and adopting a heard wireless
/// M-Bus meter (the agent's status as its control socket sends it) with its key staged 0600.
@Suite struct ProtocolScanAndHeardTests {
    // MARK: - The address prompt

    @Test func theAddressPromptNamesModbusIECOrDLMSTargets() throws {
        #expect(try ScanTarget.parse("10-12,20", modbusLimits: 1...247).get() == .modbus([10, 11, 12, 20]))
        #expect(try ScanTarget.parse("iec 00000001-00000003", modbusLimits: 1...247).get() == .iec(["00000001", "00000002", "00000003"]))
        #expect(try ScanTarget.parse("IEC 7-9, ABC", modbusLimits: 1...247).get() == .iec(["7", "8", "9", "ABC"]))
        #expect(try ScanTarget.parse("dlms 16-18,40", modbusLimits: 1...247).get() == .dlms([16, 17, 18, 40]))
        // Refusals: out of the HDLC server range, sign-on characters, nothing after the word, too many.
        for bad in ["dlms 1-20", "dlms", "iec", "iec 12/34", "iec a?b", "iec 1-1500", "0-300", "dlms 16-17000"] {
            guard case .failure = ScanTarget.parse(bad, modbusLimits: 1...247) else {
                Issue.record("\"\(bad)\" was accepted")
                continue
            }
        }
        #expect(ScanTarget.iec(["00000001", "00000002", "00000003", "00000004"]).text == "iec 00000001-00000004")
        #expect(ScanTarget.dlms([16, 17, 18, 40]).text == "dlms 16-18,40")
        #expect(ScanTarget.iec(["1"]).defaultTimeoutMilliseconds == 1500)
    }

    // MARK: - IEC scan on the port directly (agent stopped)

    @Test func anIECScanShowsProgressFindsTheMetersAndAddsThemWithTheirProtocol() throws {
        let hits = [ScanHit(address: 0, profile: "iskraemeco-me162", detail: "/ISK5ME162 mode C", verdict: "Iskraemeco ME162",
                            protocolKind: .iec62056_21, deviceAddress: "00000002"),
                    ScanHit(address: 0, detail: "wrong BCC", verdict: "garbled: malformed", garbled: true, protocolKind: .iec62056_21,
                            deviceAddress: "00000003")]
        let direct = FakeDirectBus(protocolHits: hits)
        let terminal = ScriptedTerminal(lines: ["scan", "", "iec 00000001-00000004", "", "", "", "q", "y"])
        let session = makeSession(terminal, directBus: direct)
        #expect(session.run() == 0)
        #expect(direct.protocolTargets.targets == [.iec(["00000001", "00000002", "00000003", "00000004"])])
        #expect(terminal.output.contains("Timeout per address, ms [1500]: "))
        #expect(terminal.output.contains("scan [####################] 4/4  found 2  at 00000004"))
        #expect(terminal.lines.contains { $0.hasPrefix("00000002") && $0.contains("NEW") && $0.contains("iskraemeco-me162") })
        #expect(terminal.lines.contains { $0.hasPrefix("00000003") && $0.contains("GARBLED") })
        #expect(terminal.output.contains("4 probed: 1 answered (1 new), 1 garbled, 2 silent"))
        let added = try #require(session.working.meter(id: "bus1-i00000002"), "\(terminal.output)")
        #expect(added["protocol"]?.stringValue == "iec62056-21")
        #expect(added["address"]?.stringValue == "00000002")
        #expect(session.working.meterIDs == ["bus1-i00000002"], "the garbled address is not added")
        #expect(terminal.overlongLines.isEmpty, "\(terminal.overlongLines)")
        #expect(terminal.inputLeft == 0)
    }

    // MARK: - DLMS scan through the agent

    @Test func aDLMSScanGoesThroughTheAgentAndAsksTheProfileTheScanCannotName() throws {
        let found = [16, 17].map { a in
            ScanHit(address: 0, detail: "HDLC server \(a): UA", verdict: "DLMS/COSEM meter (HDLC)", protocolKind: .dlms, deviceAddress: String(a))
        }
        let agent = FakeAgent(running: true, answers: ["scan": .success(ControlReply(scan: found))])
        agent.progressLines["scan"] = [ControlReply(done: false, progress: ScanProgress(address: 0, done: 5, total: 5, found: 2, deviceAddress: "20"))]
        let terminal = ScriptedTerminal(lines: ["scan", "", "dlms 16-20", "", "", "bus1-d", "nope", "landis-gyr-e450", "q", "y"])
        let session = makeSession(terminal, agent: agent)
        #expect(session.run() == 0)
        let request = try #require(agent.requests.first { $0.op == "scan" })
        #expect(request.meterProtocol == .dlms && request.addresses == [16, 17, 18, 19, 20] && request.timeoutMilliseconds == 500)
        #expect(terminal.output.contains("scan [####################] 5/5  found 2  at 20"))
        #expect(terminal.lines.contains { $0.hasPrefix("Profile for the meters the scan could not name, or skip [skip]:") })
        #expect(terminal.output.contains("! unknown profile \"nope\"; ? lists them"))
        let meter = try #require(session.working.meter(id: "bus1-d17"), "\(terminal.output)")
        #expect(meter["protocol"]?.stringValue == "dlms" && meter["address"]?.intValue == 17 && meter["profile"]?.stringValue == "landis-gyr-e450")
        #expect(terminal.output.contains("need their keys: keys (menu 9)"))
        #expect(terminal.overlongLines.isEmpty, "\(terminal.overlongLines)")
    }

    // MARK: - The meter clock in a test read

    @Test func theTestReadShowsTheMeterClockAndItsOffsetAgainstTheGateway() {
        let gateway = Timestamp(seconds: 1_800_000_000)
        func snapshot(_ meterOffsetSeconds: Int64?, unsynced: Bool = false) -> MeterSnapshot {
            MeterSnapshot(meter: MeterID("d1"), intervalStart: gateway, gatewayTime: gateway,
                          meterTime: meterOffsetSeconds.map { gateway.adding(seconds: $0) }, clockUnsynced: unsynced,
                          values: [QuantityValue(quantity: "active_energy_import", value: 1234.5)])
        }
        // 1_800_000_000 s is 2027-01-15T08:00:00Z; 302 s earlier is 07:54:58.
        #expect(MeterClockOffset.line(snapshot(-302)) == "meter clock 2027-01-15T07:54:58Z: 5 min 2 s behind the gateway")
        #expect(MeterClockOffset.line(snapshot(3725))?.contains("1 h 2 min ahead of the gateway") == true)
        #expect(MeterClockOffset.line(snapshot(0))?.contains("in step with the gateway (0 s off)") == true)
        #expect(MeterClockOffset.line(snapshot(-90, unsynced: true))?.hasSuffix("the gateway clock is NOT synchronised") == true)
        #expect(MeterClockOffset.line(snapshot(nil)) == nil)
        #expect(MeterClockOffset.size(-4_500) == "4.5 s" && MeterClockOffset.size(172_800_000 + 3_600_000) == "2 d 1 h")
        let lines = ReadingView.lines(snapshot(-302), meter: nil)
        #expect(lines.count == 3 && lines[1].hasPrefix("  meter clock ") && lines[1].count <= 80 && lines[2].contains("1234.5"))
    }

    // MARK: - Heard wireless meters

    /// The agent's status as its control socket sends it (JSON), with a receiver bus hearing three
    /// meters; one of them is configured in the working copy by its 8-digit id.
    static func statusReply() throws -> ControlReply {
        let now = Timestamp(seconds: 1_800_000_000)
        var radio = BusStatus(name: BusName("radio"), device: "/dev/ttyUSB0", line: "57600 8N1", portOpen: true, meters: [],
                              cyclesCompleted: 0, queuedTasks: 0, pendingCommits: 0)
        radio.heard = [
            HeardMeterStatus(address: "123456994CAE7C07", id: "12345699", manufacturer: "SEN", medium: 7, lastRSSI: -71, count: 4,
                             lastHeard: now.adding(seconds: -20), securityMode: 5),
            HeardMeterStatus(address: "332255444CAE6807", id: "33225544", manufacturer: "SEN", medium: 7, lastRSSI: -60, count: 9,
                             lastHeard: now.adding(seconds: -3), securityMode: 0),
            HeardMeterStatus(address: "300000014CAE6807", id: "30000001", manufacturer: "SEN", medium: 7, lastRSSI: -50, count: 2,
                             lastHeard: now, securityMode: 5),
        ]
        let status = AgentStatus(device: "gw-test", version: "t", startedAt: now, now: now, clockSynchronised: true, buses: [radio], archive: nil)
        // Through JSON as the control socket carries it (Codable both ways).
        let wire = try JSONEncoder().encode(ControlReply(status: status))
        #expect(String(decoding: wire, as: UTF8.self).contains("\"heard\""))
        return try JSONDecoder().decode(ControlReply.self, from: wire)
    }

    static func radioConfig() -> ConfigDocument {
        try! ConfigDocument(text: """
        {
          "device": {"id": "gw-test", "stateDirectory": "/tmp/console-test/state", "runtimeDirectory": "/tmp/console-test/run"},
          "buses": [{"name": "radio", "device": "/dev/ttyUSB0", "baud": 57600}],
          "meters": [{"id": "w30000001", "bus": "radio", "protocol": "wmbus", "address": "30000001", "profile": "sensus-iperl"}],
          "archive": {"intervalMinutes": 60}
        }
        """)
    }

    @Test func theHeardListShowsUnconfiguredMetersStrongestFirst() throws {
        let reply = try Self.statusReply()
        let status = try #require(reply.status)
        let rows = HeardMeterAdoption.rows(status, configuredAddresses: HeardMeterAdoption.configuredAddresses(Self.radioConfig().meters))
        #expect(rows.map(\.meter.id) == ["33225544", "12345699"], "the configured 30000001 is left out; -60 dBm before -71 dBm")
        let lines = HeardMeterAdoption.lines(rows, now: status.now)
        #expect(lines.count == 3, "\(lines)")
        #expect(lines[1].hasPrefix("33225544 ") && lines[1].contains(" SEN ") && lines[1].contains("-60 dBm") && lines[1].contains("none") && lines[1].contains("0:03 ago"))
        #expect(lines[2].contains("water") && lines[2].contains("-71 dBm") && lines[2].contains(" 5 "))
        #expect(HeardMeterAdoption.fittingProfiles(rows[1].meter, in: Array(shippedProfiles.profiles.values)) == ["sensus-iperl"])
        #expect(try HeardMeterAdoption.find("123456994cae7c07", in: rows).get().meter.id == "12345699")
        guard case .failure = HeardMeterAdoption.find("99999999", in: rows) else {
            Issue.record("an id that was not heard is found")
            return
        }
    }

    @Test func adoptingAHeardMeterAddsItWithItsKeyStaged0600AndNeverShown() throws {
        let agent = FakeAgent(running: true, answers: ["status": .success(try Self.statusReply())])
        let terminal = ScriptedTerminal(lines: ["heard", "77777777", "12345699", "", "", "00" + KeyTextTests.meterKeyText.dropFirst(2).uppercased() + "x",
                                                KeyTextTests.meterKeyText, "q", "y"])
        let session = makeSession(terminal, document: Self.radioConfig(), agent: agent)
        #expect(session.run() == 0)
        #expect(terminal.output.contains("! no heard meter \"77777777\": type an id from the list"))
        #expect(terminal.output.contains("Profile (SEN water) [sensus-iperl]: "))
        let meter = try #require(session.working.meter(id: "radio-w12345699"), "\(terminal.output)")
        #expect(meter["protocol"]?.stringValue == "wmbus" && meter["address"]?.stringValue == "123456994CAE7C07"
            && meter["profile"]?.stringValue == "sensus-iperl")
        let keyFile = try #require(session.pendingFiles.first { $0.path.hasSuffix("keys/meters/radio-w12345699.json") })
        #expect(keyFile.mode == 0o600)
        #expect(keyFile.text.contains("\"encryption\": \"000102030405060708090a0b0c0d0e0f\""))
        #expect(!terminal.output.lowercased().contains("0405060708090a0b"), "the key is never echoed")
        #expect(terminal.overlongLines.isEmpty, "\(terminal.overlongLines)")
        #expect(terminal.inputLeft == 0)
    }

    @Test func withTheAgentStoppedTheHeardScreenSaysWhyAndChangesNothing() {
        let terminal = ScriptedTerminal(lines: ["16", "q"])
        let session = makeSession(terminal, document: Self.radioConfig())
        #expect(session.run() == 0)
        #expect(terminal.output.replacingOccurrences(of: "\n    ", with: " ").contains("only the running agent listens to the wireless receivers"))
        #expect(session.unappliedCount == 0)
    }

    // MARK: - Key import for DLMS and wireless meters

    @Test func keysImportForADLMSMeterStagesAKeyFile0600() throws {
        let document = try ConfigDocument(text: """
        {
          "device": {"id": "gw-test", "stateDirectory": "/tmp/console-test/state", "runtimeDirectory": "/tmp/console-test/run"},
          "buses": [{"name": "bus1", "device": "/dev/ttyRS485-1", "baud": 9600}],
          "meters": [{"id": "d21", "bus": "bus1", "protocol": "dlms", "address": 21, "profile": "landis-gyr-e450"}],
          "archive": {"intervalMinutes": 60}
        }
        """)
        let terminal = ScriptedTerminal(lines: ["keys", "meter", "d21", "authentication", KeyTextTests.meterKeyText, "q", "y"])
        let session = makeSession(terminal, document: document)
        #expect(session.run() == 0)
        let file = try #require(session.pendingFiles.first { $0.path == "/tmp/console-test/state/keys/meters/d21.json" })
        #expect(file.mode == 0o600 && file.text.contains("\"authentication\": \"000102030405060708090a0b0c0d0e0f\""))
        #expect(!terminal.output.contains("000102030405060708090a0b0c0d0e0f"))
    }
}
