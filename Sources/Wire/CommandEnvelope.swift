import ConcentratorCore

/// A command from the head-end to one device, signed by a head-end Ed25519 command key. Wire form:
/// a `SignedCommandFrame` with magic "CCUC" whose body is the canonical JSON object
/// `{"args":{…},"counter":N,"device":"…","expiresAt":MS,"id":"…","issuedAt":MS,"verb":"…"}`.
/// Byte layout, rules and test vectors: Docs/mqtt-api.md §11.
public struct CommandEnvelope: Hashable, Sendable {
    /// "CCUC": concentrator uplink command.
    public static let magic: [UInt8] = [0x43, 0x43, 0x55, 0x43]
    /// The largest body a device accepts (a full configuration fits many times over).
    public static let maximumBodyBytes = 256 * 1024
    /// Counters and times are JSON integers; above 2^53 − 1 a JSON reader may round them.
    public static let maximumInteger: Int64 = 9_007_199_254_740_991
    /// The body members, all required; any other member is refused.
    public static let memberNames: Set<String> = ["args", "counter", "device", "expiresAt", "id", "issuedAt", "verb"]

    /// The target device id.
    public var device: String
    /// The command id: 1–64 of `A–Z a–z 0–9 . _ -`, unique per device (a UUID, say). Replies name it.
    public var id: String
    public var issuedAt: Timestamp
    /// The device refuses the command after this time (its own clock, with a small tolerance).
    public var expiresAt: Timestamp
    /// Strictly increasing per head-end key (1 … 2^53 − 1); the device persists the last one seen.
    public var counter: Int64
    /// What to do: `read`, `relay`, `config.set`, … (Docs/mqtt-api.md §11.4).
    public var verb: String
    /// The verb's arguments: a JSON object (`{}` for none).
    public var arguments: JSONValue

    public init(device: String, id: String, issuedAt: Timestamp, expiresAt: Timestamp, counter: Int64, verb: String,
                arguments: JSONValue = .object([])) {
        self.device = device
        self.id = id
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.counter = counter
        self.verb = verb
        self.arguments = arguments
    }

    /// The canonical JSON body (the bytes that get signed).
    public func body() -> [UInt8] {
        CanonicalJSON.render(.object([
            JSONMember(key: "args", value: arguments),
            JSONMember(key: "counter", value: CanonicalJSON.integer(counter)),
            JSONMember(key: "device", value: .string(device)),
            JSONMember(key: "expiresAt", value: CanonicalJSON.integer(expiresAt.milliseconds)),
            JSONMember(key: "id", value: .string(id)),
            JSONMember(key: "issuedAt", value: CanonicalJSON.integer(issuedAt.milliseconds)),
            JSONMember(key: "verb", value: .string(verb)),
        ]))
    }

    /// The wire form, signed by the head-end command key `key`.
    public func signed(by key: SigningPrivateKey) -> [UInt8] {
        SignedCommandFrame.encode(magic: Self.magic, body: body(), signedBy: key)
    }

    /// Whether `s` is a usable command id (the same alphabet and length as device ids).
    public static func isValidID(_ s: String) -> Bool { DeviceIdentifier.isValid(s) }

    /// Reads the command id and target device from a body without trusting or fully checking it, so
    /// that even a refused command can be answered under its id. Nil members when unreadable.
    public static func peekIdentity(_ body: [UInt8]) -> (id: String?, device: String?) {
        guard let value = try? JSONParser.parse(body), value.members != nil else { return (nil, nil) }
        let id = value["id"]?.stringValue.flatMap { isValidID($0) ? $0 : nil }
        let device = value["device"]?.stringValue.flatMap { DeviceIdentifier.isValid($0) ? $0 : nil }
        return (id, device)
    }

    /// Decodes a body strictly: exactly the seven members, each with its type and range.
    public static func decode(body: JSONValue) throws(CommandMessageError) -> CommandEnvelope {
        guard let members = body.members else { throw .malformedBody("the body is not an object") }
        if let unknown = members.first(where: { !memberNames.contains($0.key) }) {
            throw .malformedBody("unknown member \"\(unknown.key)\"; allowed: \(memberNames.sorted().joined(separator: ", "))")
        }
        func required(_ key: String) throws(CommandMessageError) -> JSONValue {
            guard let v = body[key] else { throw .malformedBody("missing member \"\(key)\"") }
            return v
        }
        func integer(_ key: String, from low: Int64) throws(CommandMessageError) -> Int64 {
            let v = try required(key)
            guard case .number(_, let text) = v, let i = Int64(text), (low...maximumInteger).contains(i) else {
                throw .malformedBody("\"\(key)\" must be an integer in \(low)…\(maximumInteger), got \(v.brief)")
            }
            return i
        }
        guard let device = try required("device").stringValue, DeviceIdentifier.isValid(device) else {
            throw .malformedBody("\"device\" must be a device id (1–64 of A–Z a–z 0–9 . _ -)")
        }
        guard let id = try required("id").stringValue, isValidID(id) else {
            throw .malformedBody("\"id\" must be 1–64 of A–Z a–z 0–9 . _ -")
        }
        let issued = try integer("issuedAt", from: 0)
        let expires = try integer("expiresAt", from: 0)
        guard expires > issued else { throw .malformedBody("\"expiresAt\" (\(expires)) must be after \"issuedAt\" (\(issued))") }
        let counter = try integer("counter", from: 1)
        guard let verb = try required("verb").stringValue, (1...32).contains(verb.utf8.count),
              verb.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2E }) else {
            throw .malformedBody("\"verb\" must be 1–32 of a–z and '.'")
        }
        let args = try required("args")
        guard args.members != nil else { throw .malformedBody("\"args\" must be an object, got \(args.typeName)") }
        return CommandEnvelope(device: device, id: id, issuedAt: Timestamp(milliseconds: issued), expiresAt: Timestamp(milliseconds: expires),
                               counter: counter, verb: verb, arguments: args)
    }
}
