import ConcentratorCore
import Console
import Platform
import TestSupport

/// The agent's validation rules with the shipped profiles (what `AgentSetup.validate` does,
/// without the Agent module).
let shippedProfiles = ProfileLibrary.load(directories: [BuiltProducts.profilesDirectory])

@Sendable func testValidator(_ text: String, _ source: String) -> ValidationFailure? {
    let context = ConfigurationContext(profiles: Array(shippedProfiles.profiles.values))
    do {
        _ = try ConfigurationLoader.load(text: text, source: source, context: context)
        return nil
    } catch {
        return error
    }
}

/// A configuration with one bus and no meters.
func configWithOneBus(directory: String = "/tmp/console-test") -> ConfigDocument {
    try! ConfigDocument(text: """
    {
      "device": {"id": "gw-test", "stateDirectory": "\(directory)/state", "runtimeDirectory": "\(directory)/run"},
      "buses": [{"name": "bus1", "device": "/dev/ttyRS485-1", "baud": 38400}],
      "meters": [],
      "archive": {"intervalMinutes": 60}
    }
    """)
}

/// An agent that answers from a table; records the operations it was asked.
final class FakeAgent: AgentAccess, @unchecked Sendable {
    var running: Bool
    var answers: [String: Result<ControlReply, ControlFailure>]
    /// Progress lines sent before the answer, by operation.
    var progressLines: [String: [ControlReply]] = [:]
    private(set) var calls: [String] = []
    private(set) var requests: [ControlRequest] = []
    private let lock = ConditionLock()

    init(running: Bool = true, answers: [String: Result<ControlReply, ControlFailure>] = [:]) {
        self.running = running
        self.answers = answers
    }

    var isRunning: Bool { running }

    func call(_ request: ControlRequest, timeout: Duration, cancellation: ActionCancellation?,
              progress: @escaping (ControlReply) -> Void) -> Result<ControlReply, ControlFailure> {
        lock.withLock {
            calls.append(request.op)
            requests.append(request)
        }
        guard running else { return .failure(ControlFailure(code: "not-running", message: "not running")) }
        for line in progressLines[request.op] ?? [] { progress(line) }
        return answers[request.op] ?? .failure(ControlFailure(code: "unknown-op", message: "unknown operation \"\(request.op)\""))
    }
}

struct FakeDirectBus: DirectBusAccess {
    var hits: [ScanHit] = []
    /// The port is down: a scan fails (it must never report "nothing answered").
    var portDown: String?
    func scan(configText: String, bus: String, addresses: [Int], timeoutMilliseconds: Int, cancellation: ActionCancellation,
              progress: @escaping @Sendable (ScanProgress) -> Void) -> Result<[ScanHit], ServiceProblem> {
        if let portDown { return .failure(ServiceProblem(portDown)) }
        let found = hits.filter { addresses.contains(Int($0.address)) }
        for (i, a) in addresses.enumerated() {
            progress(ScanProgress(address: UInt8(a), done: i + 1, total: addresses.count, found: found.filter { Int($0.address) <= a }.count))
        }
        return .success(found)
    }

    func read(configText: String, meter: String, cancellation: ActionCancellation) -> Result<MeterSnapshot, ServiceProblem> {
        .success(MeterSnapshot(meter: MeterID(meter), intervalStart: Timestamp(seconds: 0), gatewayTime: Timestamp(seconds: 1_800_000_000),
                               values: [QuantityValue(quantity: "voltage_l1", value: 231.5), QuantityValue(quantity: "current_l1", value: 150),
                                        QuantityValue(quantity: "active_energy_import", error: MeterErrorCode(rawValue: 0x102))]))
    }
}

struct FakeKeys: KeyServices {
    func deviceKeys(stateDirectory: String, deviceID: String, create: Bool) -> Result<[String], ServiceProblem> {
        .success(["  device \(deviceID)", "  signing   ed25519  id 0a5b67549542c9a5"])
    }

    func headEndKey(role: String, publicKey: [UInt8]) -> Result<HeadEndKeyInfo, ServiceProblem> {
        guard publicKey.first != 0xFF else { return .failure(ServiceProblem("X25519 public key is not a valid public key")) }
        let id = KeyText.hex(Array(publicKey.prefix(8)))
        return .success(HeadEndKeyInfo(algorithm: role == "sealing" ? "x25519" : "ed25519", role: role, id: id,
                                       fingerprint: "sha256:" + KeyText.hex(publicKey), fileText: "{\"role\": \"\(role)\"}\n"))
    }

    func headEndKeyFile(path: String) -> Result<HeadEndKeyInfo, ServiceProblem> { .failure(ServiceProblem("no such file")) }

    func deviceKeyList(stateDirectory: String) -> Result<[ReportedKey], ServiceProblem> {
        .success([ReportedKey(role: "device signing", algorithm: "ed25519", id: "0a5b67549542c9a5",
                              fingerprint: "sha256:0a5b67549542c9a5" + String(repeating: "0", count: 48))])
    }
}

struct FakeBroker: BrokerProbe {
    var result: BrokerProbeResult = .connected("CONNACK accepted")
    func connect(uplink: UplinkSettings, deviceID: String, timeout: Duration, cancellation: ActionCancellation) -> BrokerProbeResult { result }
}

struct FakeArchive: ArchiveExportService {
    func export(stateDirectory: String, from: Timestamp, to: Timestamp, meter: String?, format: String,
                sink: @escaping ([UInt8]) -> Bool) -> Result<String, ServiceProblem> {
        var text = "interval_start,meter,quantity,value,unit,quality\n"
        for hour in 0..<30 { text += "\(ISO8601.format(from.adding(seconds: Int64(hour) * 3600))),bus1-m1,voltage_l1,230.\(hour),V,ok\n" }
        _ = sink(Array(text.utf8))
        return .success("30 snapshots")
    }
}

struct FakeSystem: SystemActions {
    func setTimeZone(_ zone: String) -> Result<String, ServiceProblem> { .failure(ServiceProblem("needs root")) }
    func agentLog(lines: Int) -> Result<[String], ServiceProblem> { .success(["log line 1", "log line 2"]) }
}

/// A console session on a scripted terminal with fake services.
func makeSession(_ terminal: ScriptedTerminal, document: ConfigDocument = configWithOneBus(), agent: FakeAgent = FakeAgent(running: false),
                 directBus: FakeDirectBus = FakeDirectBus(), broker: FakeBroker = FakeBroker(),
                 configPath: String = "/tmp/console-test/config.json",
                 serialPorts: [String] = ["/dev/ttyRS485-1 -> ttySC0", "/dev/ttyUSB0"]) -> ConsoleSession {
    let services = ConsoleServices(validate: testValidator, directBus: directBus, keys: FakeKeys(), broker: broker, archive: FakeArchive(),
                                   system: FakeSystem(), agent: { _ in agent }, clock: ManualClock(Timestamp(seconds: 1_800_000_000)),
                                   serialPorts: { serialPorts })
    return ConsoleSession(ui: ConsoleUI(terminal: terminal), services: services, configPath: configPath, document: document,
                          fileText: document.text)
}
