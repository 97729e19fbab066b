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
}

/// The device side that runs verified commands (the agent: bus owners, archive, configuration, keys).
/// The processor calls it on its own thread, one command at a time; blocking is expected.
public protocol CommandExecutor: AnyObject, Sendable {
    /// The configuration in force, to check arguments against.
    func commandContext() -> CommandContext
    /// Runs `action` of the command `envelope`, signed by the head-end key `signer` (verified,
    /// authorised, its counter persisted).
    func execute(_ action: CommandAction, envelope: CommandEnvelope, signer: KeyID) -> CommandOutcome
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
