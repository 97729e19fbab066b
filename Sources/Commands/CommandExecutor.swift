import ConcentratorCore
import Wire

/// What running a command produced: the reply's code, message and result, and what must happen
/// only after the reply is stored and published (a restart, a reload that replaces the uplink, a
/// switch to new keys), so that the head-end hears the answer on the connection that asked.
public struct CommandOutcome: Sendable {
    public var code: CommandReplyCode
    public var message: String
    public var result: JSONValue
    public var afterReply: (@Sendable () -> Void)?

    public init(code: CommandReplyCode = .ok, message: String, result: JSONValue = .object([]),
                afterReply: (@Sendable () -> Void)? = nil) {
        self.code = code
        self.message = message
        self.result = result
        self.afterReply = afterReply
    }

    /// A refusal or failure found while running.
    public static func failed(_ code: CommandReplyCode, _ message: String) -> CommandOutcome {
        CommandOutcome(code: code, message: message)
    }

    /// A bus operation that failed, with the reply code of its kind.
    public static func failed(_ error: BusError) -> CommandOutcome {
        switch error {
        case .unknownMeter(let m): return .failed(.unknownMeter, "no meter \(m) on its bus")
        case .busBusy: return .failed(.busBusy, error.description)
        case .unsupported: return .failed(.notSupported, error.description)
        case .transaction, .portUnavailable: return .failed(.meterError, error.description)
        case .stopping, .cancelled: return .failed(.internalError, error.description)
        }
    }
}

/// The device side that runs verified commands. The processor calls it on its own thread, one
/// command at a time; blocking is expected.
public protocol CommandExecutor: AnyObject, Sendable {
    /// The configuration in force, to check arguments against.
    func commandContext() -> CommandContext
    /// Runs `action` of the command `envelope`, signed by the head-end key `signer` (verified,
    /// authorised, its counter persisted). A `CommandDevice` runs it in the verb's file.
    func execute(_ action: CommandAction, envelope: CommandEnvelope, signer: KeyID) -> CommandOutcome
}

/// Why an operation of a command failed, as text for the reply (for example an archive error).
public struct CommandOperationFailure: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) { self.description = description }
}

/// What the verbs run through: the device's buses (queued to their owners), uplink, configuration,
/// keys and clock (the agent). Blocking calls, made on the command thread. A nil result means the
/// part that would do it is not running (no bus for the meter, the bus, no uplink).
public protocol CommandDevice: CommandExecutor, MonitoringCommandDevice {
    /// The device's clock.
    func now() -> Timestamp
    /// The status document (`concentrator status --json`).
    func status() -> AgentStatus
    /// Whether the kernel reports the gateway's clock as synchronised (NTP).
    func gatewayClockSynchronised() -> Bool
    /// Reads a meter now through its bus owner.
    func readMeter(_ meter: MeterID, quantities: Set<QuantityID>?, startDeadline: Duration) -> Result<MeterSnapshot, BusError>?
    /// Switches (`connected` true or false) or reads (nil) a meter's relay.
    func setRelay(meter: MeterID, connected: Bool?, startDeadline: Duration) -> Result<Bool, BusError>?
    /// Reads a meter's clock and sets it when it drifted beyond `threshold`.
    func synchroniseClock(meter: MeterID, threshold: Duration, startDeadline: Duration) -> Result<MeterClockSync, BusError>?
    /// Probes `addresses` on `bus` with the device's Modbus profiles.
    func scan(bus: BusName, addresses: ClosedRange<UInt8>, timeout: Duration) -> Result<[ScanHit], BusError>?
    /// Queues backfill batches; returns how many.
    func queueBackfill(from: Timestamp, to: Timestamp, meters: [MeterID], series: [SeriesKind]) -> Result<Int, CommandOperationFailure>?
    /// The configuration file in force, the device's id and the deadline of a running trial.
    func configurationInForce() -> (path: String, deviceID: String, trialDeadline: Timestamp?)
    /// Edits, validates, writes and (after the reply) applies the configuration; `trial` makes the
    /// change roll back unless the head-end confirms it.
    func changeConfiguration(envelope: CommandEnvelope, signer: KeyID, trial: Bool,
                             edit: (JSONValue) throws(CommandRejection) -> JSONValue) -> CommandOutcome
    /// New device keys, switched to after the reply.
    func rotateKeys() -> CommandOutcome
    /// Restarts the agent (called after the reply is out).
    func requestRestart()
}

extension CommandDevice {
    public func execute(_ action: CommandAction, envelope: CommandEnvelope, signer: KeyID) -> CommandOutcome {
        action.run(on: self, envelope: envelope, signer: signer)
    }
}

/// Where replies go and who signs them: the uplink and the device key in force.
public protocol CommandReplyChannel: AnyObject, Sendable {
    /// The device's Ed25519 key that signs replies now (nil while the device keys are unusable).
    func replySigningKey() -> SigningPrivateKey?
    /// The head-end Ed25519 keys with their roles (from `uplink.headEndKeys`).
    func headEndSigningKeys() -> [(role: String, key: SigningPublicKey)]
    /// Publishes a signed reply (QoS 1) and waits for the broker's PUBACK, at most `timeout`.
    /// Returns false when it could not be published (the head-end may ask again with the same id).
    func publishReply(_ bytes: [UInt8], timeout: Duration) -> Bool
}
