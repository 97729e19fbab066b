import Foundation
import Testing
import ConcentratorCore
import TestSupport

/// A head-end with its keys and database, a device enrolled for the agent `gw-test`, and the
/// agent's `uplink` section pointing at it: the far end of the utility-meter chain tests.
final class ChainHeadEnd: @unchecked Sendable {
    let config: String
    let uplinkSection: String
    private let directory: TemporaryDirectory
    private var process: ChildProcess?

    /// A snapshot as `headend export --format json` writes it.
    struct Exported: Decodable {
        struct Value: Decodable {
            var quantity: String
            var value: Double?
        }
        var interval_start: String
        var meter: String
        var values: [Value]
    }

    init(directory: TemporaryDirectory, brokerPort: Int) throws {
        self.directory = directory
        let headend = BuiltProducts.path("headend")
        let keyDir = directory.file("headend-keys")
        guard try runCommand(headend, ["keys", "generate", "--dir", keyDir]).status == 0 else { throw HarnessError("headend keys generate failed") }
        let files = try FileManager.default.contentsOfDirectory(atPath: keyDir).sorted()
        func key(_ prefix: String, _ suffix: String) throws -> String {
            guard let f = files.first(where: { $0.hasPrefix(prefix) && $0.hasSuffix(suffix) }) else { throw HarnessError("no \(prefix)*\(suffix)") }
            return keyDir + "/" + f
        }
        config = directory.file("headend.json")
        try """
        {"broker": {"host": "127.0.0.1", "port": \(brokerPort), "clientId": "headend-meters"},
         "database": "\(directory.file("headend.sqlite"))",
         "keys": {"sealing": ["\(try key("sealing-", ".key"))"], "ack": "\(try key("ack-", ".key"))"}}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        uplinkSection = """
            {"broker": {"host": "127.0.0.1", "port": \(brokerPort), "keepaliveSeconds": 5},
             "headEndKeys": ["\(try key("sealing-", ".pub.json"))", "\(try key("ack-", ".pub.json"))"],
             "acknowledgementTimeoutSeconds": 10}
            """
    }

    /// Enrols the agent whose configuration is `agentConfig` and starts the head-end.
    func enrolAndStart(agentConfig: String) throws {
        let concentrator = BuiltProducts.path("concentrator"), headend = BuiltProducts.path("headend")
        let documents = try runCommand(concentrator, ["keys", "show", "--documents", "--config", agentConfig])
        try documents.stdout.write(toFile: directory.file("device-keys.json"), atomically: true, encoding: .utf8)
        let added = try runCommand(headend, ["devices", "add", "--id", "gw-test", "--key", directory.file("device-keys.json"), "--config", config])
        guard added.status == 0 else { throw HarnessError("headend devices add: \(added.stderr)") }
        process = try ChildProcess(headend, ["run", "--config", config], name: "headend", directory: directory)
    }

    func stop() { _ = process?.stop(signal: SIGTERM) }

    var log: String { process?.stderr ?? "" }

    /// Everything the head-end stored for `gw-test`.
    func export() throws -> [Exported] {
        let r = try runCommand(BuiltProducts.path("headend"), ["export", "--device", "gw-test", "--from", "2020-01-01", "--to", "2040-01-01",
                                                                "--format", "json", "--config", config])
        guard r.status == 0 else { throw HarnessError("headend export: \(r.stderr)") }
        return try JSONDecoder().decode([Exported].self, from: Data(r.stdout.utf8))
    }

    /// Polls the export until `done` holds for it (at most `timeout`).
    func waitForExport(timeout: Duration, _ done: ([Exported]) -> Bool) async -> [Exported] {
        let deadline = ContinuousClock.now + timeout
        var last: [Exported] = []
        while ContinuousClock.now < deadline {
            if let e = try? await runOnDedicatedThread({ try self.export() }) {
                last = e
                if done(e) { return e }
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
        return last
    }
}

/// Writes an agent configuration with meters of any protocol (JSON objects given as text), and
/// the per-meter key files the console would write (`<state>/keys/meters/<id>.json`, mode 0600).
struct ProtocolAgentConfig {
    var buses: [String]
    var meters: [String]
    var extraSections: [String: String] = [:]
    var profileDirectories: [String] = []
    var archive = #"{"intervalMinutes": 60, "retentionDays": 45}"#

    func write(to directory: TemporaryDirectory) throws -> String {
        var builder = AgentConfigBuilder(buses: [])
        builder.rawBuses = buses
        builder.rawMeters = meters
        builder.profileDirectories = profileDirectories
        builder.extraSections = extraSections
        builder.archive = archive
        return try builder.write(to: directory)
    }

    /// A key file in the console's format, mode 0600.
    static func writeKeyFile(directory: TemporaryDirectory, meter: String, secrets: [String: [UInt8]]) throws {
        let dir = directory.file("state/keys/meters")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var members = ["\"format\": \"\(MeterKeyDocument.format)\"", "\"meter\": \"\(meter)\""]
        for (k, v) in secrets.sorted(by: { $0.key < $1.key }) { members.append("\"\(k)\": \"\(hex(v))\"") }
        let path = dir + "/\(meter).json"
        try ("{" + members.joined(separator: ", ") + "}\n").write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
    }
}

/// Lower-case hex of `bytes`.
func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
