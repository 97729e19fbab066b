import ConcentratorCore
import Platform

/// A failed service call, in words for the installer: what failed and what to check.
public struct ServiceProblem: Error, Hashable, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Bus access when the agent is stopped (the console opens the port itself, under the same port
/// lock as the agent). Implemented by the `concentrator` executable with the Bus module.
public protocol DirectBusAccess: Sendable {
    /// Scans `addresses` on the bus `bus` of the configuration `configText` (its meters are ignored),
    /// with that configuration's line settings. A port that cannot be opened is a failure.
    func scan(configText: String, bus: String, addresses: [Int], timeoutMilliseconds: Int,
              cancellation: ActionCancellation, progress: @escaping @Sendable (ScanProgress) -> Void)
        -> Result<[ScanHit], ServiceProblem>
    /// Reads the meter `meter` of the configuration `configText` once.
    func read(configText: String, meter: String, cancellation: ActionCancellation) -> Result<MeterSnapshot, ServiceProblem>
}

/// What the installer needs about a head-end public key.
public struct HeadEndKeyInfo: Hashable, Sendable {
    public var algorithm: String
    public var role: String
    public var id: String
    public var fingerprint: String
    /// The key file's content (`concentrator-public-key/1`, Docs/mqtt-api.md "Key files").
    public var fileText: String

    public init(algorithm: String, role: String, id: String, fingerprint: String, fileText: String) {
        self.algorithm = algorithm
        self.role = role
        self.id = id
        self.fingerprint = fingerprint
        self.fileText = fileText
    }
}

/// Key handling that needs the cryptography of the Uplink module.
public protocol KeyServices: Sendable {
    /// Lines describing the device's public keys (ids, fingerprints, base64), nothing secret.
    /// With `create`, keys that do not exist yet are generated first (as the agent does at start).
    func deviceKeys(stateDirectory: String, deviceID: String, create: Bool) -> Result<[String], ServiceProblem>
    /// Checks a head-end public key (a valid curve point for its algorithm) and renders its file.
    /// The algorithm follows the role: `sealing` is X25519, every other role Ed25519.
    func headEndKey(role: String, publicKey: [UInt8]) -> Result<HeadEndKeyInfo, ServiceProblem>
    /// Reads an existing head-end key file.
    func headEndKeyFile(path: String) -> Result<HeadEndKeyInfo, ServiceProblem>
    /// The device's public keys (signing, agreement) with ids and fingerprints; nothing secret.
    func deviceKeyList(stateDirectory: String) -> Result<[ReportedKey], ServiceProblem>
    /// The mesh network key's fingerprint (the first 4 bytes of its SHA-256, in hex), as the agent
    /// reports it in its status; nil when this build cannot compute it.
    func meshKeyFingerprint(_ key: [UInt8]) -> String?
}

extension KeyServices {
    public func meshKeyFingerprint(_ key: [UInt8]) -> String? { nil }
}

/// Where a broker connection attempt stopped.
public enum BrokerProbeStage: Hashable, Sendable {
    /// The settings or their files (password, PSK, CA) could not be used.
    case settings
    /// No TCP connection (host not found, refused, unreachable).
    case network
    /// The TLS handshake failed.
    case tls
    /// The broker answered CONNACK with a refusal (credentials, authorisation, client id).
    case mqtt
}

/// The outcome of one MQTT connection attempt with the uplink settings.
public enum BrokerProbeResult: Hashable, Sendable {
    /// CONNACK success; the text says what was negotiated (TLS mode, session).
    case connected(String)
    case failed(BrokerProbeStage, detail: String, check: String)
}

/// One MQTT connect (TLS and CONNACK) with the working copy's uplink settings, implemented by the
/// executable with the Uplink module's MQTT client.
public protocol BrokerProbe: Sendable {
    func connect(uplink: UplinkSettings, deviceID: String, timeout: Duration, cancellation: ActionCancellation) -> BrokerProbeResult
}

/// Reading the archive (the executable uses the Archive module's exporter).
public protocol ArchiveExportService: Sendable {
    /// Streams archived values from `from` (inclusive) to `to` (exclusive) as `format` ("csv" or
    /// "json") in chunks to `sink`, which returns false to stop. Returns a one-line summary.
    func export(stateDirectory: String, from: Timestamp, to: Timestamp, meter: String?, format: String,
                sink: @escaping ([UInt8]) -> Bool) -> Result<String, ServiceProblem>
}

/// Operating-system actions the console offers (they need programs such as timedatectl and
/// journalctl, run by the executable).
public protocol SystemActions: Sendable {
    /// Sets the system time zone (an IANA name such as Europe/Rome).
    func setTimeZone(_ zone: String) -> Result<String, ServiceProblem>
    /// The newest `lines` lines of the agent's log.
    func agentLog(lines: Int) -> Result<[String], ServiceProblem>
}

/// Everything the console needs from outside its module.
public struct ConsoleServices: Sendable {
    /// The agent's configuration validator (`AgentSetup.validate`): nil when the text is valid.
    public var validate: @Sendable (_ text: String, _ source: String) -> ValidationFailure?
    public var directBus: any DirectBusAccess
    public var keys: any KeyServices
    public var broker: any BrokerProbe
    public var archive: any ArchiveExportService
    public var system: any SystemActions
    /// The running agent, through its control socket at the given path.
    public var agent: @Sendable (_ socketPath: String) -> any AgentAccess
    /// The real-time clock (shown on the time screen; defaults for exports).
    public var clock: any WallClock
    /// The serial ports that exist (for the bus form's help).
    public var serialPorts: @Sendable () -> [String]

    public init(validate: @escaping @Sendable (String, String) -> ValidationFailure?, directBus: any DirectBusAccess,
                keys: any KeyServices, broker: any BrokerProbe, archive: any ArchiveExportService, system: any SystemActions,
                agent: @escaping @Sendable (String) -> any AgentAccess = { ControlSocketAgent(path: $0) },
                clock: any WallClock = SystemClock(), serialPorts: @escaping @Sendable () -> [String] = { SerialPortList.present() }) {
        self.validate = validate
        self.directBus = directBus
        self.keys = keys
        self.broker = broker
        self.archive = archive
        self.system = system
        self.agent = agent
        self.clock = clock
        self.serialPorts = serialPorts
    }
}
