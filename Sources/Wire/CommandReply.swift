import ConcentratorCore
import Crypto

/// The stable codes of command replies (Docs/mqtt-api.md §11.5). A head-end acts on the code; the
/// message is for people. Codes are never renamed or reused.
public enum CommandReplyCode: String, Hashable, Sendable, CaseIterable {
    case ok
    // Refused: nothing was done.
    case badSignature = "bad-signature"
    case unknownKey = "unknown-key"
    case wrongTarget = "wrong-target"
    case expired
    case replayed
    case idReused = "id-reused"
    case roleTooLow = "role-too-low"
    case malformed
    case unknownVerb = "unknown-verb"
    case invalidArguments = "invalid-arguments"
    case unknownMeter = "unknown-meter"
    case notSupported = "not-supported"
    case busy
    case busBusy = "bus-busy"
    // Started, but did not complete.
    case meterError = "meter-error"
    case internalError = "internal"
    case configRolledBack = "config-rolled-back"

    /// The reply status this code goes with.
    public var status: CommandReply.Status {
        switch self {
        case .ok: return .ok
        case .meterError, .internalError, .configRolledBack: return .error
        default: return .rejected
        }
    }
}

/// A device's signed answer to one command message. Wire form: a `SignedCommandFrame` with magic
/// "CCUR", signed by the device's Ed25519 key, whose body is the canonical JSON object
/// `{"code":"…","commandId":"…","device":"…","envelope":"<sha-256 hex>","message":"…","result":{…},"status":"…","time":MS,"verb":"…"}`
/// (`verb` absent when the command's verb could not be read). `envelope` is the SHA-256 of the exact
/// command message answered, so a head-end never takes the refusal of a tampered copy for the answer
/// to its own command (issue 17 #6). Docs/mqtt-api.md §11.
public struct CommandReply: Hashable, Sendable {
    /// "CCUR": concentrator uplink reply.
    public static let magic: [UInt8] = [0x43, 0x43, 0x55, 0x52]
    public static let maximumBodyBytes = 1024 * 1024
    public static let memberNames: Set<String> = ["code", "commandId", "device", "envelope", "message", "result", "status", "time", "verb"]

    /// ok: done; rejected: refused before anything was done; error: started but did not complete.
    public enum Status: String, Hashable, Sendable {
        case ok, rejected, error
    }

    public var device: String
    public var commandID: String
    public var verb: String?
    public var status: Status
    /// A `CommandReplyCode` raw value; kept as text so a head-end can show codes newer than itself.
    public var code: String
    public var message: String
    /// The device's clock when it answered.
    public var time: Timestamp
    /// The verb's result (a JSON object, `{}` when there is none).
    public var result: JSONValue
    /// SHA-256 of the exact command message this reply answers (`envelopeDigest(of:)`); nil only in
    /// replies of devices from before issue 17, which a head-end must not match to a command.
    public var envelopeDigest: [UInt8]?

    public init(device: String, commandID: String, verb: String?, code: CommandReplyCode, message: String, time: Timestamp,
                result: JSONValue = .object([]), envelopeDigest: [UInt8]? = nil) {
        self.init(device: device, commandID: commandID, verb: verb, status: code.status, code: code.rawValue, message: message,
                  time: time, result: result, envelopeDigest: envelopeDigest)
    }

    public init(device: String, commandID: String, verb: String?, status: Status, code: String, message: String, time: Timestamp,
                result: JSONValue, envelopeDigest: [UInt8]? = nil) {
        self.device = device
        self.commandID = commandID
        self.verb = verb
        self.status = status
        self.code = code
        self.message = message
        self.time = time
        self.result = result
        self.envelopeDigest = envelopeDigest
    }

    /// The digest a reply carries for `message`: SHA-256 of the command message exactly as received.
    public static func envelopeDigest(of message: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: message)) }

    /// The canonical JSON body.
    public func body() -> [UInt8] {
        var members = [
            JSONMember(key: "code", value: .string(code)),
            JSONMember(key: "commandId", value: .string(commandID)),
            JSONMember(key: "device", value: .string(device)),
        ]
        if let envelopeDigest { members.append(JSONMember(key: "envelope", value: .string(Hex.encode(envelopeDigest)))) }
        members += [
            JSONMember(key: "message", value: .string(message)),
            JSONMember(key: "result", value: result),
            JSONMember(key: "status", value: .string(status.rawValue)),
            JSONMember(key: "time", value: CanonicalJSON.integer(time.milliseconds)),
        ]
        if let verb { members.append(JSONMember(key: "verb", value: .string(verb))) }
        return CanonicalJSON.render(.object(members))
    }

    /// The wire form, signed by the device key `key`.
    public func signed(by key: SigningPrivateKey) -> [UInt8] {
        SignedCommandFrame.encode(magic: Self.magic, body: body(), signedBy: key)
    }

    /// Parses and verifies a reply from device `device`, trusting only `deviceKeys` (the device's
    /// registered Ed25519 keys). Returns the reply and the id of the key that signed it.
    public static func verify(_ bytes: [UInt8], device: String,
                              deviceKeys: [SigningPublicKey]) throws(CommandMessageError) -> (reply: CommandReply, keyID: KeyID) {
        let frame = try SignedCommandFrame.parse(bytes, magic: magic, maximumBodyBytes: maximumBodyBytes)
        guard let key = deviceKeys.first(where: { $0.id == frame.keyID }) else { throw .unknownKey(frame.keyID) }
        guard frame.verifies(with: key) else { throw .badSignature(frame.keyID) }
        let reply = try decode(body: frame.bodyObject())
        guard reply.device == device else { throw .wrongDevice(reply.device) }
        return (reply, frame.keyID)
    }

    /// Decodes a reply body (without any signature check).
    public static func decode(body: JSONValue) throws(CommandMessageError) -> CommandReply {
        guard let members = body.members else { throw .malformedBody("the body is not an object") }
        if let unknown = members.first(where: { !memberNames.contains($0.key) }) {
            throw .malformedBody("unknown member \"\(unknown.key)\"")
        }
        func string(_ key: String) throws(CommandMessageError) -> String {
            guard let s = body[key]?.stringValue else { throw .malformedBody("\"\(key)\" must be a string") }
            return s
        }
        let device = try string("device")
        guard DeviceIdentifier.isValid(device) else { throw .malformedBody("\"device\" is not a device id") }
        let commandID = try string("commandId")
        guard let status = Status(rawValue: try string("status")) else { throw .malformedBody("\"status\" must be ok, rejected or error") }
        let code = try string("code")
        let message = try string("message")
        guard case .number(_, let text)? = body["time"], let time = Int64(text) else {
            throw .malformedBody("\"time\" must be an integer (milliseconds)")
        }
        guard let result = body["result"], result.members != nil else { throw .malformedBody("\"result\" must be an object") }
        let verb = body["verb"]?.stringValue
        if body["verb"] != nil, verb == nil { throw .malformedBody("\"verb\" must be a string") }
        var digest: [UInt8]?
        if let member = body["envelope"] {
            guard let text = member.stringValue, text.utf8.count == 64, let bytes = Hex.decode(text) else {
                throw .malformedBody("\"envelope\" must be 64 hexadecimal digits (SHA-256)")
            }
            digest = bytes
        }
        return CommandReply(device: device, commandID: commandID, verb: verb, status: status, code: code, message: message,
                            time: Timestamp(milliseconds: time), result: result, envelopeDigest: digest)
    }
}
