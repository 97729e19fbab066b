import ConcentratorCore
import Foundation
import KeyFiles
import Logging
import MQTT
import Platform
import TestSupport
import Wire

/// The real processes of the command plane on loopback: mosquitto, meter-sim (a generic-template
/// meter with a relay and a clock at address 1, an SDM120 at address 2), `headend run`, the agent
/// (`concentrator run`, real clock) and `headend command` runs. Keys come from `headend keys generate`.
final class CommandField: @unchecked Sendable {
    static let device = "gw-test"
    let dir = TemporaryDirectory("e2e-commands")
    let broker: MosquittoBroker
    let sim: MeterSimProcess
    let headendConfig: String
    let agentConfig: String
    /// Private key file of each head-end role (sealing, ack, reader, operator, admin).
    let keyFiles: [String: String]
    let headend: ChildProcess
    private(set) var agent: AgentProcess!

    /// `agentSections`: more top-level sections of the agent's config.json (name → JSON text).
    /// `dlmsMeter`: a Landis+Gyr E450 (HLS-GMAC, a disconnect control) at HDLC address 21 as well, meter `bus1-d21`.
    init(trialSeconds: Int = 300, agentSections: [String: String] = [:], pods: [String: String] = [:], headendArguments: [String] = [],
         dlmsMeter: Bool = false,
         beforeHeadEndStarts: (_ headendConfig: String, _ dir: TemporaryDirectory) throws -> Void = { _, _ in },
         beforeAgentStarts: (CommandField) throws -> Void = { _ in }) async throws {
        broker = try await MosquittoBroker()
        var simExtra: [String] = []
        if dlmsMeter {
            try """
            encryption-key=\(hex(MixedBusEndToEndTests.encryptionKey))
            authentication-key=\(hex(MixedBusEndToEndTests.authenticationKey))

            """.write(toFile: dir.file("dlms-secrets"), atomically: true, encoding: .utf8)
            simExtra = ["--dlms-secrets", dir.file("dlms-secrets")]
        }
        sim = try MeterSimProcess(name: "bus1", directory: dir, meters: ["1:generic-template", "2:eastron-sdm120"] + (dlmsMeter ? ["21:landis-gyr-e450"] : []),
                                  baud: 115_200, turnaround: "1-3", extra: simExtra)
        let keys = dir.file("headend-keys")
        let generated = try runCommand(BuiltProducts.path("headend"), ["keys", "generate", "--dir", keys])
        guard generated.status == 0 else { throw HarnessError("headend keys generate: \(generated.stderr)") }
        let files = try FileManager.default.contentsOfDirectory(atPath: keys)
        var privateFiles: [String: String] = [:]
        var publicFiles: [String] = []
        for file in files {
            let role = String(file.prefix { $0 != "-" })
            if file.hasSuffix(".key") { privateFiles[role] = keys + "/" + file }
            if file.hasSuffix(".pub.json") { publicFiles.append(keys + "/" + file) }
        }
        keyFiles = privateFiles
        var builder = AgentConfigBuilder(buses: [.init(name: "bus1", device: sim.link, baud: 115_200, addresses: [1, 2],
                                                       profile: { $0 == 1 ? "generic-template" : "eastron-sdm120" })])
        builder.deviceID = Self.device
        builder.extraSections["uplink"] = """
            {"broker": {"host": "127.0.0.1", "port": \(broker.port), "keepaliveSeconds": 5},
             "headEndKeys": [\(publicFiles.sorted().map { "\"\($0)\"" }.joined(separator: ", "))],
             "acknowledgementTimeoutSeconds": 10, "configTrialSeconds": \(trialSeconds)}
            """
        for (name, text) in agentSections { builder.extraSections[name] = text }
        builder.pods = pods
        if dlmsMeter {
            builder.rawMeters = [#"{"id": "bus1-d21", "bus": "bus1", "protocol": "dlms", "address": 21, "profile": "landis-gyr-e450"}"#]
            try ProtocolAgentConfig.writeKeyFile(directory: dir, meter: "bus1-d21",
                                                 secrets: ["encryption": MixedBusEndToEndTests.encryptionKey,
                                                           "authentication": MixedBusEndToEndTests.authenticationKey])
        }
        agentConfig = try builder.write(to: dir)
        headendConfig = dir.file("headend.json")
        try """
            {"broker": {"host": "127.0.0.1", "port": \(broker.port), "clientId": "headend-e2e", "keepaliveSeconds": 10},
             "database": "\(dir.file("headend.sqlite"))",
             "keys": {"sealing": ["\(privateFiles["sealing"]!)"], "ack": "\(privateFiles["ack"]!)", "command": "\(privateFiles["admin"]!)"},
             "ingest": {"registryPollSeconds": 1}}
            """.write(toFile: headendConfig, atomically: true, encoding: .utf8)
        // The device's keys exist after `keys show`; register their documents at the head-end.
        let shown = try runCommand(BuiltProducts.path("concentrator"), ["keys", "show", "--config", agentConfig])
        guard shown.status == 0 else { throw HarnessError("keys show: \(shown.stderr)") }
        let deviceKeys = try DeviceKeyStore(stateDirectory: dir.file("state")).load()
        let documents = deviceKeys.publicDocuments(deviceID: Self.device).map { $0.rendered() }
        try ("[" + documents.joined(separator: ",") + "]").write(toFile: dir.file("device-keys.json"), atomically: true, encoding: .utf8)
        let added = try runCommand(BuiltProducts.path("headend"), ["devices", "add", "--config", headendConfig, "--id", Self.device,
                                                                   "--key", dir.file("device-keys.json")])
        guard added.status == 0 else { throw HarnessError("devices add: \(added.stderr)") }
        try beforeHeadEndStarts(headendConfig, dir)
        headend = try ChildProcess(BuiltProducts.path("headend"), ["run", "--config", headendConfig] + headendArguments, name: "headend",
                                   directory: dir)
        guard headend.waitForOutput("subscribed to", inStderr: true, timeout: .seconds(20)) else {
            throw HarnessError("headend run did not subscribe: \(headend.stderr)")
        }
        try beforeAgentStarts(self)
        // Test hooks on: `stallBus` makes a bus thread hang, so that `bus-busy` can be provoked.
        agent = try AgentProcess(config: agentConfig, directory: dir, environment: ["CONCENTRATOR_TEST_HOOKS": "1"])
        guard agent.waitUntilRunning() else { throw HarnessError("the agent did not start: \(agent.log)") }
    }

    /// Stops the agent (SIGTERM, its state written) and starts it again on the same configuration.
    func restartAgent() throws {
        guard agent.child.stop() == 0 else { throw HarnessError("the agent did not stop cleanly: \(agent.log.suffix(2000))") }
        agent = try AgentProcess(config: agentConfig, directory: dir, name: "agent-2", environment: ["CONCENTRATOR_TEST_HOOKS": "1"])
        guard agent.waitUntilRunning() else { throw HarnessError("the agent did not start again: \(agent.log)") }
    }

    /// Makes the agent's bus thread hang for `milliseconds` (the control socket's test-only `test.stall`).
    func stallBus(_ bus: String = "bus1", milliseconds: Int) throws {
        guard let client = try ControlClient.connectIfRunning(path: dir.file("run/control.sock")) else {
            throw HarnessError("the agent's control socket does not answer")
        }
        _ = try client.call(ControlRequest(op: "test.stall", bus: BusName(bus), durationMilliseconds: milliseconds))
    }

    /// The result of one `headend command … --json` run.
    struct Answer: CustomStringConvertible {
        let status: Int32
        let stdout: String
        let stderr: String
        /// The reply body, when one was printed.
        let reply: [String: Any]?
        let printed: [String: Any]?

        var code: String? { reply?["code"] as? String }
        var result: [String: Any] { reply?["result"] as? [String: Any] ?? [:] }
        var description: String { "status \(status): \(stdout.prefix(1500)) \(stderr.prefix(1500))" }
    }

    /// Runs `headend command DEVICE VERB` with `--arg` pairs (or `--args JSON`) signed with the key of `role`.
    func command(_ verb: String, _ pairs: [String] = [], args: String? = nil, role: String = "admin", id: String? = nil,
                 timeout: Int = 20) async throws -> Answer {
        var arguments = ["command", "--config", headendConfig, Self.device, verb, "--json", "--timeout", String(timeout),
                         "--key", keyFiles[role]!]
        for pair in pairs { arguments += ["--arg", pair] }
        if let args { arguments += ["--args", args] }
        if let id { arguments += ["--id", id] }
        let fixed = arguments
        let r = try await runOnDedicatedThread { try runCommand(BuiltProducts.path("headend"), fixed, timeout: .seconds(Int64(timeout) + 30)) }
        let printed = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any]
        return Answer(status: r.status, stdout: r.stdout, stderr: r.stderr, reply: printed?["reply"] as? [String: Any], printed: printed)
    }

    /// Pings until the agent answers (its uplink connected and subscribed to its command topic).
    func waitUntilCommandable(timeout: Duration = .seconds(40)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await command("ping", timeout: 3).code == "ok" { return true }
        }
        return false
    }

    /// The device's current signing key (replies verify with it).
    var deviceSigningKey: SigningPublicKey { get throws { try DeviceKeyStore(stateDirectory: dir.file("state")).load().signing.publicKey } }
}

/// A raw MQTT peer for crafted command messages: publishes bytes to the device's command topic and
/// collects what arrives on its reply topic.
final class CommandWire: @unchecked Sendable {
    let client: MQTTClient
    let topics = UplinkTopics(deviceID: CommandField.device)!
    private let lock = ConditionLock()
    private var received: [[UInt8]] = []

    init(port: UInt16) async throws {
        client = try await CommandField.connectedClient(port: port, name: "wire")
        try await client.subscribe(filter: topics.reply)
        Task { [self] in
            for await message in client.messages { lock.withLock { received.append(message.payload) } }
        }
    }

    func send(_ bytes: [UInt8]) async throws { _ = try await client.publish(topic: topics.command, payload: bytes) }

    /// The replies received so far that verify with `key` and name `commandID`, as (reply, raw bytes).
    func replies(to commandID: String, key: SigningPublicKey) -> [(CommandReply, [UInt8])] {
        lock.withLock { received }.compactMap { bytes in
            guard let (reply, _) = try? CommandReply.verify(bytes, device: CommandField.device, deviceKeys: [key]),
                  reply.commandID == commandID else { return nil }
            return (reply, bytes)
        }
    }

    func stop() async { await client.stop() }
}

extension CommandField {
    /// A test MQTT client on the loopback broker at `port`, connected (or given up after 10 s).
    static func connectedClient(port: UInt16, name: String) async throws -> MQTTClient {
        var logger = Logger(label: name)
        logger.logLevel = .warning
        let client = MQTTClient(settings: MQTTClientSettings(host: "127.0.0.1", port: port, clientID: "\(name)-\(UUID().uuidString.prefix(8))",
                                                             keepaliveSeconds: 10, cleanStart: true), logger: logger)
        try client.start()
        let deadline = ContinuousClock.now + .seconds(10)
        while !client.isConnected, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        return client
    }
}
