import ConcentratorCore
import Console
import Foundation
import Platform
import Testing
import TestSupport

/// The traps of issue 16 §2 ("scan and edit without traps"), one test each, on a scripted terminal
/// with fake services: what the console sends to the agent, and what the installer reads.
@Suite struct CommissioningTrapsTests {
    /// A configuration with meters on bus1 at the given addresses and profiles.
    static func config(_ meters: [(Int, String)], directory: String = "/tmp/console-test") -> ConfigDocument {
        var doc = configWithOneBus(directory: directory)
        for (address, profile) in meters {
            doc.appendMeter(MeterEntry(id: "bus1-m\(address)", bus: "bus1", address: .integer(address), profile: profile).json())
        }
        return doc
    }

    @Test func aScanAfterAnUnappliedLineChangeUsesTheWorkingCopysSettingsThroughTheAgent() throws {
        let agent = FakeAgent(running: true, answers: ["scan": .success(ControlReply(scan: [
            ScanHit(address: 10, profile: "eastron-sdm630", detail: "fc3@64514=112", verdict: "Eastron SDM630-Modbus V2")]))])
        // The bus goes from 38400 to 19200 in the working copy; then a scan of a list of addresses.
        let terminal = ScriptedTerminal(lines: ["bus", "bus1", "", "19200", "", "", "", "", "scan", "", "10-12,20", "", "none", "q", "y"])
        let session = makeSession(terminal, agent: agent)
        #expect(session.run() == 0)
        let scan = try #require(agent.requests.first { $0.op == "scan" })
        #expect(scan.line == ControlLineSettings(LineSettings(baud: 19_200)), "the working copy's line settings go with the scan")
        #expect(scan.addresses == [10, 11, 12, 20])
        #expect(terminal.flat.contains("with the working copy's line settings 19200 8N1 (not applied yet"))
        #expect(terminal.overlongLines.isEmpty, "\(terminal.overlongLines)")
    }

    @Test func aScanWithoutALineChangeSendsNoLineSettings() throws {
        let agent = FakeAgent(running: true, answers: ["scan": .success(ControlReply(scan: []))])
        let terminal = ScriptedTerminal(lines: ["scan", "", "1-3", "", "q"])
        #expect(makeSession(terminal, agent: agent).run() == 0)
        let scan = try #require(agent.requests.first { $0.op == "scan" })
        #expect(scan.line == nil && scan.addresses == [1, 2, 3])
        #expect(terminal.flat.contains("Scanning through the agent at 38400 8N1"))
    }

    @Test func aBusOrPortThatIsNotAppliedIsSaidPlainlyAndNotScanned() {
        let agent = FakeAgent(running: true, answers: ["scan": .success(ControlReply(scan: []))])
        let terminal = ScriptedTerminal(lines: ["bus", "add", "bus2", "/dev/ttyUSB0", "", "", "", "", "",
                                                "scan", "bus2",
                                                "bus", "bus1", "/dev/ttyUSB1", "", "", "", "", "",
                                                "scan", "bus1", "q", "y"])
        #expect(makeSession(terminal, agent: agent).run() == 0)
        #expect(!agent.calls.contains("scan"), "nothing is scanned on a bus the agent does not run as configured")
        #expect(terminal.flat.contains("bus bus2 is not applied yet: the running agent does not know it"))
        #expect(terminal.flat.contains("the port of bus bus1 changed in the working copy (/dev/ttyRS485-1 -> /dev/ttyUSB1)"))
        #expect(terminal.flat.contains("Apply first (apply (menu 13))"))
        #expect(!terminal.flat.contains("answered"), "never \"nothing answered\"")
        #expect(terminal.overlongLines.isEmpty, "\(terminal.overlongLines)")
    }

    @Test func aPortThatIsDownIsAFailureNeverAnEmptyBus() {
        let down = "bus bus1: the port is down: serial port /dev/ttyRS485-1: open: No such file or directory"
        let direct = ScriptedTerminal(lines: ["scan", "", "1-10", "", "q"])
        #expect(makeSession(direct, directBus: FakeDirectBus(portDown: down)).run() == 0)
        let agent = FakeAgent(running: true, answers: ["scan": .failure(ControlFailure(code: "port-unavailable", message: down))])
        let viaAgent = ScriptedTerminal(lines: ["scan", "", "1-10", "", "q"])
        #expect(makeSession(viaAgent, agent: agent).run() == 0)
        for terminal in [direct, viaAgent] {
            #expect(terminal.flat.contains("scan failed, nothing was learned: \(down)"), "\(terminal.output)")
            #expect(!terminal.flat.contains("0 answered") && !terminal.flat.contains("Nothing new to add"))
        }
    }

    @Test func addressListsAreReadTheSameEverywhere() throws {
        #expect(try AddressSelection.list("10-29,100-121,200-221", within: 1...247).get().count == 64)
        #expect(try AddressSelection.list(" 7 ", within: 1...247).get() == [7])
        #expect((try? AddressSelection.list("0-300", within: 1...247).get()) == nil)
        #expect((try? AddressSelection.list("5-2", within: 1...247).get()) == nil)
        #expect((try? AddressSelection.list("x", within: 1...247).get()) == nil)
        #expect(AddressSelection.text([1, 2, 3, 7, 10, 11, 5]) == "1-3,5,7,10-11")
        // The read and poll prompts take the same lists (meters configured at those addresses).
        let agent = FakeAgent(running: true, answers: ["poll": .success(ControlReply(poll: []))])
        let terminal = ScriptedTerminal(lines: ["poll", "1-2,4", "q"])
        let session = makeSession(terminal, document: Self.config([(1, "abb-b23"), (2, "abb-b23"), (3, "abb-b23"), (4, "abb-b23")]),
                                  agent: agent)
        #expect(session.run() == 0)
        #expect(agent.requests.first { $0.op == "poll" }?.meters == ["bus1-m1", "bus1-m2", "bus1-m4"])
    }

    @Test func theCombinedViewListsGarbledSilentNewAndDifferingAddresses() {
        let hits = [ScanHit(address: 1, profile: "eastron-sdm630", detail: "fc3@64514=112", verdict: "Eastron SDM630-Modbus V2"),
                    ScanHit(address: 2, profile: "eastron-sdm630", detail: "fc3@64514=112", verdict: "Eastron SDM630-Modbus V2"),
                    ScanHit(address: 4, detail: "fc3@64514=bad checksum", verdict: "garbled: bad checksum", garbled: true),
                    ScanHit(address: 5, profile: "abb-b23", detail: "fc3@35168=1110586144", verdict: "ABB B23/B24 three-phase")]
        let terminal = ScriptedTerminal(lines: ["scan", "", "1-5", "", "4", "all", "", "q", "y"])
        let session = makeSession(terminal, document: Self.config([(1, "eastron-sdm630"), (2, "abb-b23"), (3, "finder-7m")]),
                                  directBus: FakeDirectBus(hits: hits))
        #expect(session.run() == 0)
        let lines = terminal.lines
        /// The row of `address` with its continuation lines, spaces folded.
        func row(_ address: Int) -> String {
            guard let start = lines.firstIndex(where: { $0.hasPrefix(String(repeating: " ", count: 4 - String(address).count) + "\(address)  ") }) else { return "" }
            var text = lines[start]
            var next = start + 1
            while next < lines.count, lines[next].hasPrefix("      ") { text += " " + lines[next]; next += 1 }
            return text.split(separator: " ").joined(separator: " ")
        }
        #expect(row(1).contains("Eastron SDM630-Modbus V2") && row(1).contains("bus1-m1") && row(1).hasSuffix(" ok"), "\(row(1))")
        #expect(row(2).contains("MODEL DIFFERS: configured abb-b23"), "\(lines)")
        #expect(row(3).contains("(silent)") && row(3).contains("SILENT: configured, no answer"))
        #expect(row(4).contains("garbled: bad checksum") && row(4).contains("GARBLED"), "the bad-CRC address is listed, not left out")
        #expect(row(5).contains("NEW: abb-b23"))
        #expect(!terminal.flat.contains("fc3@"), "the answer column is a verdict, not raw probe output")
        #expect(terminal.flat.contains("5 probed: 3 answered (1 as configured, 1 new, 1 model differs), 1 garbled, 1 configured but silent"))
        // The garbled address is not offered for adding.
        #expect(terminal.flat.contains("address 4 is not among the ones offered"))
        #expect(session.working.meterIDs.contains("bus1-m5") && !session.working.meterIDs.contains("bus1-m4"))
        #expect(terminal.overlongLines.isEmpty, "\(terminal.overlongLines)")
    }

    @Test func importComparesRowsWithTheLastScanAndShowsProblemsOnly() throws {
        let dir = TemporaryDirectory("console-import-scan")
        let csv = dir.file("meters.csv")
        try """
            id,bus,address,profile
            bus1-m1,bus1,1,eastron-sdm630
            bus1-m2,bus1,2,abb-b23
            bus1-m3,bus1,3,finder-7m
            bus1-m9,bus1,300,finder-7m
            """.write(toFile: csv, atomically: true, encoding: .utf8)
        let hits = [ScanHit(address: 1, profile: "eastron-sdm630", detail: "", verdict: "Eastron SDM630-Modbus V2"),
                    ScanHit(address: 2, profile: "eastron-sdm630", detail: "", verdict: "Eastron SDM630-Modbus V2")]
        let terminal = ScriptedTerminal(lines: ["scan", "", "1-5", "", "none", "import", csv, "", "y", "q", "y"])
        let session = makeSession(terminal, directBus: FakeDirectBus(hits: hits))
        #expect(session.run() == 0)
        #expect(terminal.flat.contains("4 rows: 3 added, 1 bad address; 2 added differ from the last scan"))
        let report = terminal.lines.filter { $0.range(of: #"^\s+\d+  bus1-m\d"#, options: .regularExpression) != nil }
        #expect(report.count == 3, "problems only: \(report)")
        #expect(!report.contains { $0.contains("bus1-m1 ") }, "the row that matches the scan is not a problem")
        #expect(terminal.flat.contains("! model differs: the last scan found eastron-sdm630"))
        #expect(terminal.flat.contains("! did not answer in the last scan"))
        #expect(session.working.meterIDs == ["bus1-m1", "bus1-m2", "bus1-m3"])
        #expect(terminal.overlongLines.isEmpty, "\(terminal.overlongLines)")
    }

    @Test func theBusFormHasRS485SettingsAndListsThePortsThatExist() throws {
        let terminal = ScriptedTerminal(lines: ["bus", "bus1", "?", "", "", "", "", "", "on", "sideways", "low", "5", "200", "10", "q", "y"])
        let session = makeSession(terminal, serialPorts: ["/dev/ttyRS485-1 -> ttySC0", "/dev/ttyUSB0"])
        #expect(session.run() == 0)
        #expect(terminal.flat.contains("Ports on this gateway:") && terminal.lines.contains("    /dev/ttyRS485-1 -> ttySC0")
                && terminal.lines.contains("    /dev/ttyUSB0"), "\(terminal.lines)")
        let rs485 = try #require(session.working.bus(named: "bus1")?["rs485"])
        #expect(rs485["enabled"]?.boolValue == true && rs485["rtsActiveHigh"]?.boolValue == false)
        #expect(rs485["delayBeforeSendMilliseconds"]?.intValue == 5 && rs485["delayAfterSendMilliseconds"]?.intValue == 10)
        #expect(terminal.flat.contains("200 is outside 0-100 for the delay"))
        #expect(testValidator(session.working.text, "x") == nil, "the agent's validator accepts the block")
        let none = ScriptedTerminal(lines: ["bus", "bus1", "?", "q"])
        #expect(makeSession(none, serialPorts: []).run() == 0)
        #expect(none.output.contains("No serial port was found on this gateway"))
    }

    @Test func aKeyForAMeterWhoseProtocolUsesNoneIsFlagged() throws {
        var document = Self.config([])
        let csv = "id,bus,address,profile,key\nbus1-m1,bus1,1,eastron-sdm630,\(KeyTextTests.meterKeyText)\nbus1-m2,bus1,2,abb-b23,\n"
        let report = try MeterImport.run(csv: csv, into: &document, validate: { testValidator($0, "x") },
                                         usesKeys: { id in shippedProfiles.profile(id: id).map { $0.protocolKind == .dlms } }).get()
        #expect(report.rows.map(\.outcome) == [.badKey, .added])
        #expect(report.rows[0].detail.contains("uses no key"))
        let terminal = ScriptedTerminal(lines: ["keys", "meter", "bus1-m1", "q"])
        #expect(makeSession(terminal, document: Self.config([(1, "eastron-sdm630")])).run() == 0)
        #expect(terminal.flat.contains("meter bus1-m1 (profile eastron-sdm630) speaks a protocol that uses no key"))
    }
}
