import ConcentratorCore
import Foundation
import Testing
import TestSupport

/// Issue 11 §5 and issue 15 §2 in a real 80×24 terminal (tmux) with real processes: the console on
/// a meter-sim line serving IEC 62056-21 and DLMS meters (the agent stopped, so the console opens
/// the port itself) scans IEC device addresses and HDLC server addresses with a progress bar, adds
/// what it found and test-reads a meter whose clock is 5 minutes behind; and, with the agent
/// listening to a simulated wireless receiver, lists the heard meters and adopts one with its key.
@Suite(.serialized) struct ConsoleProtocolCommissioningTests {
    /// A mode C meter with a clock in its readout (`0.9.1`/`0.9.2`), answering its device address
    /// (the same test model as the mixed-bus test's).
    static func writeIECProfile(_ dir: TemporaryDirectory) throws -> String {
        let profiles = dir.file("profiles")
        try FileManager.default.createDirectory(atPath: profiles, withIntermediateDirectories: true)
        try """
        {"id": "test-iec-clock", "name": "Mode C meter with a clock (test)", "manufacturer": "test", "source": "test",
         "protocol": "iec62056-21",
         "iec": {"mode": "C", "signOnBaud": 300, "maximumBaud": 9600, "identification": {"manufacturer": "SIM", "identPrefix": "TC"},
                 "registers": [{"obis": "1.8.0", "quantity": "active_energy_import", "unit": "kWh"},
                               {"obis": "2.8.0", "quantity": "active_energy_export", "unit": "kWh"}],
                 "clock": {}}}
        """.write(toFile: profiles + "/test-iec-clock.json", atomically: true, encoding: .utf8)
        return profiles
    }

    /// Every progress state the screen showed while `until` was not there yet (`2/4  found 1`).
    static func progressStates(_ console: TmuxTerminal, until: String, timeout: Duration) throws -> (states: Set<String>, done: Bool) {
        var states = Set<String>()
        let screen = try console.wait(timeout: timeout) { screen in
            for line in screen.split(separator: "\n") where line.hasPrefix("scan [") {
                if let bar = line.firstIndex(of: "]") { states.insert(String(line[line.index(after: bar)...]).trimmingCharacters(in: .whitespaces)) }
            }
            return console.lastLine(screen).contains(until)
        }
        return (states, screen != nil)
    }

    @Test(.timeLimit(.minutes(2))) func iecAndDLMSScansFindTheMetersAndATestReadShowsTheClockOffset() async throws {
        try await runOnDedicatedThread { try Self.scanAndRead() }
    }

    private static func scanAndRead() throws {
        let started = ContinuousClock.now
        let dir = TemporaryDirectory("e2e-console-iec-dlms")
        let profiles = try writeIECProfile(dir)
        // The meters' clock runs 5 minutes behind the gateway's.
        let origin = Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000) - 300_000)
        let sim = try MeterSimProcess(name: "bus1", directory: dir, meters: ["21:kamstrup-omnipower", "23:kamstrup-omnipower"], baud: 9600,
                                      turnaround: "5-10",
                                      extra: ["--profiles", profiles, "--iec-meters", "00000001:test-iec-clock", "--iec-meters", "00000003:test-iec-clock",
                                              "--iec-reaction", "200", "--clock-origin", ISO8601.format(origin)])
        defer { _ = sim.child.stop(signal: SIGTERM) }
        var config = ProtocolAgentConfig(buses: [#"{"name": "bus1", "device": "\#(sim.link)", "baud": 9600, "responseTimeoutMilliseconds": {"min": 200, "max": 1500}}"#], meters: [])
        config.profileDirectories = [profiles]
        let configPath = try config.write(to: dir)

        let console = try TmuxTerminal(command: "\(BuiltProducts.path("concentrator")) console --config \(configPath)", directory: dir)
        let ui = ConsoleDriver(console)
        try ui.expect("main:", containing: "not running")

        // IEC: addressed sign-on over four device addresses, two meters there.
        try ui.answer("scan", then: "Bus [bus1]:")
        try ui.answer("", then: "Addresses (a list such as 10-29,100-121) [1-247]:")
        try ui.rejects("iec 00/01", at: "Addresses (a list such as 10-29,100-121) [1-247]:")
        try ui.answer("iec 00000001-00000004", then: "Timeout per address, ms [1500]:")
        try ui.answer("800", then: nil)
        let iec = try progressStates(console, until: "(Y/n):", timeout: .seconds(40))
        var screen = try console.capture()
        #expect(iec.done, "\(screen)")
        #expect(iec.states.contains { $0.hasPrefix("4/4  found 2") }, "\(iec.states)")
        #expect(iec.states.contains { !$0.hasPrefix("4/4") }, "the bar moved while the scan ran: \(iec.states)")
        screen = try console.capture()
        #expect(screen.contains("2 iec62056-21 meters answered on bus1"), "\(screen)")
        #expect(screen.contains("4 probed: 2 answered (2 new), 0 garbled, 2 silent"), "\(screen)")
        #expect(screen.split(separator: "\n").contains { $0.hasPrefix("00000003") && $0.contains("NEW") && $0.contains("test-iec-clock") })
        try ui.answer("", then: "Meter id prefix (id = prefix + address) [bus1-i]:")
        try ui.answer("", then: "main:", containing: "Added 2 iec62056-21 meters to bus1")

        // DLMS: SNRM/UA over nine HDLC server addresses, two meters there.
        try ui.answer("scan", then: "Bus [bus1]:")
        try ui.answer("", then: "Addresses (a list such as 10-29,100-121) [1-247]:")
        try ui.answer("dlms 16-24", then: "Timeout per address, ms [500]:")
        try ui.answer("", then: nil)
        let dlms = try progressStates(console, until: "(Y/n):", timeout: .seconds(40))
        screen = try console.capture()
        #expect(dlms.done, "\(screen)")
        #expect(dlms.states.contains { $0.hasPrefix("9/9  found 2") }, "\(dlms.states)")
        #expect(screen.contains("9 probed: 2 answered (2 new), 0 garbled, 7 silent"), "\(screen)")
        try ui.answer("", then: "Meter id prefix (id = prefix + address) [bus1-d]:")
        try ui.answer("", then: ">", containing: "Profile for the meters the scan could not name, or skip [skip]:")
        try ui.answer("kamstrup-omnipower", then: "main:", containing: "Added 2 dlms meters to bus1")

        // The test read: values, the meter clock and its offset against the gateway's.
        try ui.answer("read", then: "Meters: ids, addresses such as 1-5,7, or all:")
        try console.type("bus1-d21 bus1-i00000003")
        try ui.pageThrough(until: "main:", containing: "2 meters read: 2 answered, 0 failed", timeout: .seconds(40))
        let history = try console.history()
        let clockLines = history.split(separator: "\n").filter { $0.contains("meter clock ") }.map(String.init)
        #expect(clockLines.count == 2, "\(history)")
        for line in clockLines {
            // 5 min behind, give or take the read's own duration.
            #expect(line.contains("behind the gateway") && (line.contains(" 5 min ") || line.contains(" 4 min 5")), "\(line)")
        }
        let words = history.split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ")
        #expect(words.contains("bus1-i00000003 OK: 2 values, all plausible"), "\(history)")
        #expect(words.contains("bus1-d21 OK: 10 values, all plausible"), "\(history)")
        #expect(console.overlongLines.isEmpty, "\(console.overlongLines)")
        try ui.answer("q", then: "Answer (y/N):")
        try console.type("y")
        #expect(ContinuousClock.now - started < .seconds(60), "the test took \(ContinuousClock.now - started)")
    }

    /// The agent listens to a receiver hearing three encrypted meters, one configured (the agent
    /// runs a receiver bus only with a wireless meter configured on it) and two not; the installer
    /// adopts one with its key and applies: the configuration names it, the key file is 0600 and
    /// holds the key, no screen showed it.
    @Test(.timeLimit(.minutes(2))) func aHeardWirelessMeterIsAdoptedWithItsKey() async throws {
        try await runOnDedicatedThread { try Self.adoptHeard() }
    }

    private static func adoptHeard() throws {
        let dir = TemporaryDirectory("e2e-console-heard")
        let key: [UInt8] = [0x51, 0x72, 0x89, 0x10, 0xE6, 0x6D, 0x83, 0xF8, 0xA2, 0x0B, 0x4C, 0x37, 0x95, 0xD1, 0x2E, 0x68]
        let keyText = KeyText.format(key)
        let sim = try MeterSimProcess(name: "radio", directory: dir, meters: [], baud: 57_600,
                                      extra: ["--wmbus", "3:sensus-iperl:mode5:4:\(keyText)", "--wmbus-id-base", "30000000"])
        defer { _ = sim.child.stop(signal: SIGTERM) }
        let config = try ProtocolAgentConfig(buses: [#"{"name": "radio", "device": "\#(sim.link)", "baud": 57600}"#],
                                             meters: [#"{"id": "w30000000", "bus": "radio", "protocol": "wmbus", "address": "30000000", "profile": "sensus-iperl"}"#])
            .write(to: dir)
        try ProtocolAgentConfig.writeKeyFile(directory: dir, meter: "w30000000", secrets: ["encryption": key])
        let agent = try AgentProcess(config: config, directory: dir)
        defer { _ = agent.child.stop() }
        #expect(agent.waitUntilRunning(), "\(agent.log.suffix(2000))")
        // Wait until the agent lists both meters as heard.
        let deadline = ContinuousClock.now + .seconds(30)
        var heard = ""
        while ContinuousClock.now < deadline {
            heard = try agent.tool(["status", "--json"]).stdout
            if heard.contains("30000001"), heard.contains("30000002") { break }
            Thread.sleep(forTimeInterval: 0.5)
        }
        #expect(heard.contains("30000001"), "\(agent.log.suffix(2000))")

        let console = try TmuxTerminal(command: "\(BuiltProducts.path("concentrator")) console --config \(config)", directory: dir)
        let ui = ConsoleDriver(console)
        try ui.expect("main:", containing: "agent running")
        try console.type("heard")
        try ui.pageThrough(until: ">", containing: "Adopt which? an id from the list, or Enter to go back [back]:")
        let list = try console.capture()
        #expect(list.contains("2 meters heard but not configured"), "\(list)")
        #expect(list.split(separator: "\n").contains { $0.hasPrefix("30000001 ") && $0.contains(" SEN ") && $0.contains("dBm") && $0.contains(" 5 ") && $0.contains("radio") },
                "\(list)")
        try ui.rejects("99999999", at: ">")
        try ui.answer("30000001", then: "Meter id [radio-w30000001]:")
        try ui.answer("", then: "Profile (SEN", containing: "[sensus-iperl]:")
        try ui.answer("", then: ">", containing: "Key: 32 hex + 8 check digits (not shown):")
        try ui.answer(keyText, then: "main:", containing: "Adopted 30000001 as radio-w30000001")
        try console.type("apply")
        try ui.pageThrough(until: "Answer (y/N):", containing: "Validation: ok (1 buses, 2 meters)")
        try ui.answer("y", then: "main:", containing: "Applied: configuration applied", timeout: .seconds(60))
        let written = try String(contentsOfFile: config, encoding: .utf8)
        #expect(written.contains("\"radio-w30000001\"") && written.contains("\"wmbus\""), "\(written)")
        let keyPath = dir.file("state/keys/meters/radio-w30000001.json")
        let attributes = try FileManager.default.attributesOfItem(atPath: keyPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try String(contentsOfFile: keyPath, encoding: .utf8).contains(hex(key)))
        let history = try console.history()
        #expect(!history.lowercased().contains(hex(key)) && !history.contains(keyText), "the key never shows")
        #expect(!agent.log.lowercased().contains(hex(key)))
        #expect(console.overlongLines.isEmpty, "\(console.overlongLines)")
        try ui.answer("q", then: nil)
    }
}
