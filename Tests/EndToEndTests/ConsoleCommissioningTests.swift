import ConcentratorCore
import Foundation
import KeyFiles
import Testing
import TestSupport

/// The installer's whole commissioning session in a real 80×24 terminal (tmux): meter-sim with
/// 64 meters, a running agent without meters, a TLS broker with a password, and
/// `concentrator console` driven by keystrokes. Every captured screen must fit 80 columns, and
/// every bad answer must get a message and the same prompt again.
@Suite(.serialized) struct ConsoleCommissioningTests {
    /// A meter key in the console's paste format: the key in hex followed by its CRC-32 as Python's
    /// zlib.crc32 computes it. (The head-end keys come from the test's head-end, in the same format.)
    static let meterKey = "000102030405060708090a0b0c0d0e0f" + "cecee288"

    @Test func thePasteFormatIsHexThenZlibCRC32() {
        // zlib.crc32(bytes(range(16))) == 0xcecee288: the same check as the meter key above.
        #expect(ContractHeadEnd.pasteText(Array(0..<16)) == Self.meterKey)
    }

    @Test(.timeLimit(.minutes(3))) func commissioningSixtyFourMetersFromTheSerialConsole() async throws {
        let dir = TemporaryDirectory("e2e-console")
        let certificates = try await TestCertificates.generate(in: dir)
        var brokerSettings = MosquittoBroker.Configuration()
        brokerSettings.allowAnonymous = false
        brokerSettings.users = ["gw-test": "s3cret-pass"]
        brokerSettings.certificates = certificates
        brokerSettings.users["headend"] = "h3adend-pass"
        let broker = try await MosquittoBroker(brokerSettings)
        let port = broker.port
        // A head-end on the same broker, so the console's last step is a real round trip.
        let headEnd = ContractHeadEnd()
        try headEnd.start(port: port, username: "headend", password: "h3adend-pass", caFile: certificates.caFile)
        try await runOnDedicatedThread {
            try Self.commission(dir: dir, certificates: certificates, brokerPort: port, headEnd: headEnd)
        }
        await headEnd.stop()
        _ = broker
    }

    private static func commission(dir: TemporaryDirectory, certificates: TestCertificates, brokerPort: UInt16,
                                   headEnd: ContractHeadEnd) throws {
        let sim = try MeterSimProcess(name: "bus1", directory: dir, meters: mixedBusOf64)
        var builder = AgentConfigBuilder(buses: [.init(name: "bus1", device: sim.link, addresses: [])])
        builder.archive = #"{"intervalMinutes": 15, "retentionDays": 45}"#
        let config = try builder.write(to: dir)
        // One virtual minute per real second: a 15-minute boundary every 15 s.
        let agent = try AgentProcess(config: config, directory: dir, clockOrigin: Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000)),
                                     clockRate: 60)
        #expect(agent.waitUntilRunning(), "\(agent.log)")
        // The agent made its keys at start; the head-end learns the device's signing key.
        headEnd.register(device: "gw-test", key: try DeviceKeyStore(stateDirectory: dir.file("state")).load().signing.publicKey)
        let sealingKey = ContractHeadEnd.pasteText(headEnd.sealing.publicKey.rawRepresentation)
        let ackKey = ContractHeadEnd.pasteText(headEnd.ack.publicKey.rawRepresentation)
        let passwordFile = dir.file("broker-password")
        try "s3cret-pass\n".write(toFile: passwordFile, atomically: true, encoding: .utf8)
        chmod(passwordFile, 0o600)
        let csv = dir.file("meters.csv")
        try importFile().write(toFile: csv, atomically: true, encoding: .utf8)

        let console = try TmuxTerminal(command: "\(BuiltProducts.path("concentrator")) console --config \(config)", directory: dir)
        let ui = ConsoleDriver(console)

        try ui.expect("main:", containing: "agent running")
        try ui.rejects("frob", at: "main:")
        try ui.answer("status", then: "main:", containing: "meters: 0 configured")

        // Scan: 64 meters answer; add 1-40 with the recognised profiles.
        try ui.answer("scan", then: "Bus [bus1]:")
        try ui.rejects("bus9", at: "Bus [bus1]:")
        try ui.answer("", then: "Addresses [1-247]:")
        try ui.rejects("0-300", at: "Addresses [1-247]:")
        try ui.answer("1-70", then: "Timeout per address, ms [250]:")
        try ui.rejects("5", at: "Timeout per address, ms [250]:")
        try ui.answer("", then: "-- more", containing: "64 meters answered on bus1", timeout: .seconds(60))
        try ui.press("q", then: "Add which? all, none, or a list like 1-40,45 [all]:")
        try ui.rejects("1-300", at: "Add which? all, none, or a list like 1-40,45 [all]:")
        try ui.answer("1-40", then: "Meter id prefix (id = prefix + address) [bus1-m]:")
        try ui.rejects("bad id!", at: "Meter id prefix (id = prefix + address) [bus1-m]:")
        try ui.answer("", then: "main:", containing: "Added 40 meters to bus1")

        // CSV import: 24 good rows and exactly the 3 bad ones reported.
        try ui.answer("import", then: ">", containing: "CSV file (a path), or paste:")
        try ui.rejects("meters.csv", at: ">")
        try ui.answer(csv, then: "-- more", containing: "bus1-m41")
        try ui.press("Enter", then: "Answer (Y/n):")
        try ui.rejects("maybe", at: "Answer (Y/n):")
        try ui.answer("y", then: "main:", containing: "Added 24 meters")

        // Apply: the running agent reloads with 64 meters.
        try ui.answer("apply", then: "-- more", containing: "+ meters[bus1-m1]")
        try ui.press("q", then: "Answer (y/N):", containing: "Validation: ok (1 buses, 64 meters)")
        try ui.answer("y", then: "main:", containing: "Applied: configuration applied: 1 buses, 64 meters (was 1 buses, 0 meters)")

        // Test read through the agent: values, units and plausible ranges.
        try ui.answer("read", then: "Meter id:")
        try ui.rejects("nosuch", at: "Meter id:")
        let reading = try ui.answer("bus1-m1", then: "-- more", containing: "plausible")
        #expect(reading.contains { $0.hasPrefix("voltage_l1") && $0.contains(" V ") && $0.contains("207..253") && $0.hasSuffix("ok") },
                "\(reading)")
        try ui.press("q", then: "main:")

        // Ctrl-C stops a running scan, leaves a half-answered form without a change, and at the
        // main prompt leaves nothing at all.
        try ui.answer("scan", then: "Bus [bus1]:")
        try ui.answer("", then: "Addresses [1-247]:")
        try ui.answer("", then: "Timeout per address, ms [250]:")
        try console.type("")
        #expect(try console.wait { $0.contains("scan [") && console.lastLine($0).contains("ETA") } != nil, "a progress bar")
        try ui.press("C-c", then: "main:", containing: "Scan stopped; nothing was added.")
        try ui.answer("bus", then: "Bus to edit, add, remove, or Enter to go back [back]:")
        try ui.answer("bus1", then: "Serial port (device) [")
        try ui.press("C-c", then: "main:", containing: "Cancelled; nothing was changed by that step.")
        try ui.press("C-c", then: "main:", containing: "Nothing to cancel here. Type q to leave the console.")

        // Uplink settings, first with a port nobody listens on: the test stops at TCP and says what to check.
        let closedPort = freeLoopbackPort()
        try ui.answer("uplink", then: "edit, test, remove, or Enter to go back [back]:")
        try ui.rejects("frob", at: "edit, test, remove, or Enter to go back [back]:")
        try ui.answer("edit", then: "Broker host:")
        try ui.rejects("bad host", at: "Broker host:")
        try ui.answer("127.0.0.1", then: "TLS: none, ca or psk [none]:")
        try ui.rejects("tls", at: "TLS: none, ca or psk [none]:")
        try ui.answer("ca", then: ">", containing: "CA certificate file:")
        try ui.rejects("ca.crt", at: ">")
        try ui.answer(certificates.caFile, then: ">", containing: "Client certificate (- for none) [-]:")
        try ui.answer("", then: "Broker port [8883]:")
        try ui.rejects("99999", at: "Broker port [8883]:")
        try ui.answer(String(closedPort), then: ">", containing: "Username [-]:")
        try ui.answer("gw-test", then: ">", containing: "Password file (- for none) [-]:")
        try ui.answer(passwordFile, then: "Topic prefix [concentrator/v1]:")
        try ui.answer("", then: "main:", containing: "Uplink settings saved")
        try ui.answer("uplink", then: "edit, test, remove, or Enter to go back [back]:")
        let failed = try ui.answer("test", then: "main:", containing: "5 head-end ack round trip", timeout: .seconds(30))
        #expect(failed.contains { $0.hasPrefix("[FAIL] 2 TCP connection") }, "\(failed)")
        #expect(failed.contains { $0.contains("check: that the broker runs and listens on port \(closedPort)") }, "\(failed)")
        #expect(failed.contains { $0.hasPrefix("[ -- ] 4 MQTT CONNACK: not run") }, "\(failed)")

        // The right port (tested after the apply below, when the agent runs with this uplink).
        try ui.answer("uplink", then: "edit, test, remove, or Enter to go back [back]:")
        try ui.answer("edit", then: "Broker host [127.0.0.1]:")
        try ui.answer("", then: "TLS: none, ca or psk [ca]:")
        try ui.answer("", then: ">", containing: "CA certificate file [")
        try ui.answer("", then: ">", containing: "Client certificate (- for none) [-]:")
        try ui.answer("", then: "Broker port [\(closedPort)]:")
        try ui.answer(String(brokerPort), then: ">", containing: "Username [gw-test]:")
        try ui.answer("", then: ">", containing: "Password file (- for none) [")
        try ui.answer("", then: "Topic prefix [concentrator/v1]:")
        try ui.answer("", then: "main:", containing: "Uplink settings saved")

        // Head-end keys and a meter key, pasted as hex with their check digits.
        try ui.answer("keys", then: "headend, meter, create, or Enter to go back [back]:")
        try ui.answer("headend", then: "Role: sealing, ack, or a command role:")
        try ui.rejects("Sealing!", at: "Role: sealing, ack, or a command role:")
        try ui.answer("sealing", then: ">", containing: "Public key: 64 hex digits + 8 check digits:")
        try ui.rejects(String(sealingKey.dropLast()) + (sealingKey.hasSuffix("0") ? "1" : "0"), at: ">")
        try ui.answer(sealingKey, then: "Answer (y/N):", containing: "sealing x25519 key id \(headEnd.sealing.publicKey.id)")
        try ui.answer("y", then: "main:", containing: "Head-end sealing key \(headEnd.sealing.publicKey.id) staged")
        try ui.answer("keys", then: "headend, meter, create, or Enter to go back [back]:")
        try ui.answer("headend", then: "Role: sealing, ack, or a command role:")
        try ui.answer("ack", then: ">", containing: "Public key: 64 hex digits + 8 check digits:")
        try ui.answer(ackKey, then: "Answer (y/N):", containing: "ack ed25519 key id \(headEnd.ack.publicKey.id)")
        try ui.answer("y", then: "main:", containing: "Head-end ack key \(headEnd.ack.publicKey.id) staged")
        try ui.answer("keys", then: "headend, meter, create, or Enter to go back [back]:")
        try ui.answer("meter", then: "Meter id:")
        try ui.answer("bus1-m2", then: "Key kind: encryption or authentication [encryption]:")
        try ui.rejects("frob", at: "Key kind: encryption or authentication [encryption]:")
        try ui.answer("", then: ">", containing: "Key: 32 hex + 8 check digits (not shown):")
        try ui.answer(Self.meterKey, then: "main:", containing: "key of bus1-m2 is accepted")

        // Apply again: the uplink section and three key files.
        try ui.answer("apply", then: "Answer (y/N):", containing: "Validation: ok (1 buses, 64 meters)")
        try ui.answer("y", then: "main:", containing: "Applied: configuration applied")

        // The uplink test through the reloaded agent: every step passes, the last one a test batch to
        // the head-end and its signed ack back.
        try ui.answer("uplink", then: "edit, test, remove, or Enter to go back [back]:")
        let passed = try ui.answer("test", then: "main:", containing: "5 head-end ack round trip", timeout: .seconds(60))
        for step in ["[ ok ] 1 name resolution", "[ ok ] 2 TCP connection", "[ ok ] 3 TLS handshake", "[ ok ] 4 MQTT CONNACK",
                     "[ ok ] 5 head-end ack round trip"] {
            #expect(passed.contains { $0.hasPrefix(step) }, "\(step) in \(passed)")
        }
        #expect(headEnd.events.contains { $0.kind == .uplinkCheck }, "the test batch reached the head-end")

        // The reloaded agent archives all 64 meters.
        #expect(waitUntil(timeout: .seconds(60), poll: .milliseconds(250)) { agent.archivedLines.contains { $0.meters == 64 } },
                "\(agent.log.suffix(3000))")

        let history = try console.history()
        try history.write(toFile: dir.file("console-session.txt"), atomically: true, encoding: .utf8)
        #expect(!history.contains(String(Self.meterKey.prefix(16))), "the meter key was never echoed")
        let report = history.split(separator: "\n").map(String.init).filter { $0.range(of: #"^\s+\d+  bus1-m\d+ +"#, options: .regularExpression) != nil }
        let refused = report.filter { !$0.contains(" added ") }
        #expect(report.count == 27, "\(report)")
        #expect(refused.count == 3, "\(refused)")
        #expect(refused.map { $0.split(separator: " ").prefix(4).joined(separator: " ") }
                == ["6 bus1-m99 bad address", "11 bus1-m98 unknown profile", "16 bus1-m97 bad key"], "\(refused)")
        #expect(history.contains("27 rows: 24 added, 1 bad address, 1 unknown profile, 1 bad key"))
        try ui.answer("q", then: nil)
        #expect(waitUntil(timeout: .seconds(10)) { !console.isRunning }, "the console left")
        #expect(console.overlongLines.isEmpty, "lines wider than 80 columns: \(console.overlongLines)")
        #expect(console.captures.count > 50)

        let written = try String(contentsOfFile: config, encoding: .utf8)
        #expect(written.contains("\"headEndKeys\"") && written.contains("sealing-\(headEnd.sealing.publicKey.id).json"))
        let meterKeyFile = dir.file("state/keys/meters/bus1-m2.json")
        #expect(FileManager.default.fileExists(atPath: meterKeyFile))
        #expect(try FileManager.default.attributesOfItem(atPath: meterKeyFile)[.posixPermissions] as? Int == 0o600)
        #expect(agent.child.stop() == 0)
    }

    /// Rows for addresses 41–64 with their profiles (the first with a meter key), and three bad
    /// rows on lines 6, 11 and 16: an address out of range, an unknown profile, a key whose check
    /// digits are wrong.
    private static func importFile() -> String {
        var lines = ["id,bus,address,profile,pod,serialNumber,label,key"]
        for a in 41...64 {
            lines.append("bus1-m\(a),bus1,\(a),\(mixedProfile(a)),IT001E\(1000 + a),SN\(a),cabinet \(a / 10),\(a == 41 ? meterKey : "")")
        }
        lines.insert("bus1-m99,bus1,300,eastron-sdm120,,,,", at: 5)
        lines.insert("bus1-m98,bus1,98,no-such-meter,,,,", at: 10)
        lines.insert("bus1-m97,bus1,97,eastron-sdm120,,,," + meterKey.dropLast() + "0", at: 15)
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Steps of a console session: type, then wait for the next prompt; check rejections.
private struct ConsoleDriver {
    let console: TmuxTerminal

    init(_ console: TmuxTerminal) { self.console = console }

    @discardableResult
    func expect(_ prompt: String, containing: String? = nil, timeout: Duration = .seconds(20),
                sourceLocation: SourceLocation = #_sourceLocation) throws -> [String] {
        guard let screen = try console.waitForPrompt(prompt, containing: containing, timeout: timeout) else {
            Issue.record("waited for \"\(prompt)\"\(containing.map { " with \"\($0)\"" } ?? ""); the screen:\n\(try console.capture())",
                         sourceLocation: sourceLocation)
            throw HarnessError("the console did not reach \(prompt)")
        }
        return screen.split(separator: "\n").map(String.init)
    }

    /// Types `text` and Enter, then waits for `prompt` (nil: do not wait).
    @discardableResult
    func answer(_ text: String, then prompt: String?, containing: String? = nil, timeout: Duration = .seconds(20),
                sourceLocation: SourceLocation = #_sourceLocation) throws -> [String] {
        try console.type(text)
        guard let prompt else { return [] }
        return try expect(prompt, containing: containing, timeout: timeout, sourceLocation: sourceLocation)
    }

    /// Presses one key (the pager), then waits for `prompt`.
    func press(_ key: String, then prompt: String, containing: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try console.key(key)
        try expect(prompt, containing: containing, sourceLocation: sourceLocation)
    }

    /// Types a bad answer and checks for a message under it and the same prompt again.
    func rejects(_ bad: String, at prompt: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try console.type(bad)
        let echoed = (prompt + " " + bad).trimmingCharacters(in: .whitespaces)
        let screen = try console.wait { screen in
            let lines = screen.split(separator: "\n").map(String.init)
            guard let at = lines.lastIndex(where: { $0.trimmingCharacters(in: .whitespaces) == echoed }), at + 1 < lines.count else { return false }
            return lines[at + 1].hasPrefix("  ! ") && console.lastLine(screen).hasPrefix(prompt) && lines.count > at + 2
        }
        if screen == nil {
            Issue.record("no message and \"\(prompt)\" again after \"\(bad)\"; the screen:\n\(try console.capture())",
                         sourceLocation: sourceLocation)
        }
    }
}
