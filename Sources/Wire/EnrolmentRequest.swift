import ConcentratorCore
import FoundationEssentials

/// Why an enrolment request was refused. Never carries key bytes.
public enum EnrolmentError: Error, Hashable, Sendable, CustomStringConvertible {
    case frame(CommandMessageError)
    case malformedBody(String)
    /// The signer is not the request's own Ed25519 device key.
    case signerNotInRequest(KeyID)
    case badSignature(KeyID)
    /// The request names another device than the topic it came on.
    case wrongDevice(String)

    public var description: String {
        switch self {
        case .frame(let e): return "enrolment request: \(e)"
        case .malformedBody(let why): return "enrolment request: malformed body: \(why)"
        case .signerNotInRequest(let k): return "enrolment request signed by key \(k), which is not its own device signing key"
        case .badSignature(let k): return "enrolment request: the signature by key \(k) does not verify"
        case .wrongDevice(let d): return "enrolment request names device \(d), not the one of its topic"
        }
    }
}

/// A device's request to be registered at the head-end (Docs/mqtt-api.md §12), published on
/// `<prefix>/<device>/enrol`: its public key documents, device id, installer, site note and time,
/// in the signed frame of §11.1 with the magic "CCUE", signed by the device's own Ed25519 key (the
/// one the request carries). The signature proves the sender holds that key; whether the key is
/// the right gateway's is what the operator decides by comparing its fingerprint with the one the
/// installer reads out from the console.
public struct EnrolmentRequest: Hashable, Sendable {
    /// "CCUE": concentrator uplink enrolment.
    public static let magic: [UInt8] = [0x43, 0x43, 0x55, 0x45]
    public static let maximumBodyBytes = 16_384
    public static let formatVersion = 1

    public var deviceID: String
    public var installer: String
    public var note: String
    public var time: Timestamp
    /// The device's public keys: its Ed25519 signing key and its X25519 agreement key (role `device`).
    public var keys: [PublicKeyDocument]

    public init(deviceID: String, installer: String, note: String, time: Timestamp, keys: [PublicKeyDocument]) {
        self.deviceID = deviceID
        self.installer = installer
        self.note = note
        self.time = time
        self.keys = keys
    }

    /// The request's Ed25519 key, which signs it and the device's batches.
    public var signingKey: PublicKeyDocument? { keys.first { $0.algorithm == .ed25519 } }

    /// The fingerprint of the signing key: what the operator compares before approving.
    public var fingerprint: String { signingKey.map { publicKeyFingerprint($0.publicKey) } ?? "" }

    /// The canonical JSON body: `device`, `installer`, `keys` (the §9 documents), `note`, `time`
    /// (ms), `v` (1), members sorted, no whitespace.
    public var body: [UInt8] {
        let documents = keys.map { doc -> JSONValue in
            var members = [JSONMember(key: "algorithm", value: .string(doc.algorithm.rawValue)),
                           JSONMember(key: "format", value: .string(PublicKeyDocument.format)),
                           JSONMember(key: "id", value: .string(doc.id.hex)),
                           JSONMember(key: "publicKey", value: .string(Data(doc.publicKey).base64EncodedString())),
                           JSONMember(key: "role", value: .string(doc.role))]
            if let device = doc.device { members.append(JSONMember(key: "device", value: .string(device))) }
            return .object(members)
        }
        return CanonicalJSON.render(.object([
            JSONMember(key: "device", value: .string(deviceID)),
            JSONMember(key: "installer", value: .string(installer)),
            JSONMember(key: "keys", value: .array(documents)),
            JSONMember(key: "note", value: .string(note)),
            JSONMember(key: "time", value: CanonicalJSON.integer(time.milliseconds)),
            JSONMember(key: "v", value: CanonicalJSON.integer(Self.formatVersion)),
        ]))
    }

    /// The signed frame, by the device key `key` (whose public half must be among `keys`).
    public func encoded(signedBy key: SigningPrivateKey) -> [UInt8] {
        SignedCommandFrame.encode(magic: Self.magic, body: body, signedBy: key)
    }

    /// Parses and verifies a request received on the topic of `topicDevice`: the frame, the body,
    /// that the signer is the request's own Ed25519 device key, and the signature.
    public static func verify(_ bytes: [UInt8], topicDevice: String) throws(EnrolmentError) -> EnrolmentRequest {
        let frame: SignedCommandFrame
        do { frame = try SignedCommandFrame.parse(bytes, magic: magic, maximumBodyBytes: maximumBodyBytes) } catch { throw .frame(error) }
        let json: JSONValue
        do { json = try frame.bodyObject() } catch { throw .frame(error) }
        guard json["v"]?.intValue == formatVersion else { throw .malformedBody("\"v\" must be \(formatVersion)") }
        guard let device = json["device"]?.stringValue, DeviceIdentifier.isValid(device) else {
            throw .malformedBody("\"device\" must be 1…64 of [A-Za-z0-9._-]")
        }
        guard device == topicDevice else { throw .wrongDevice(device) }
        guard let installer = json["installer"]?.stringValue, installer.count <= 64,
              let note = json["note"]?.stringValue, note.count <= 120 else {
            throw .malformedBody("\"installer\" (at most 64 characters) and \"note\" (at most 120) are needed")
        }
        guard let time = json["time"]?.intValue else { throw .malformedBody("\"time\" must be an integer of milliseconds") }
        guard let items = json["keys"]?.arrayValue, (1...4).contains(items.count) else {
            throw .malformedBody("\"keys\" must list 1 to 4 public key documents")
        }
        var keys: [PublicKeyDocument] = []
        for (index, item) in items.enumerated() {
            let doc: PublicKeyDocument
            do { doc = try PublicKeyDocument.parse(JSONWriter.render(item, pretty: false), path: "keys[\(index)]") } catch {
                throw .malformedBody("\(error)")
            }
            guard doc.role == "device", doc.device == device else {
                throw .malformedBody("keys[\(index)] must have role \"device\" and name device \(device)")
            }
            keys.append(doc)
        }
        let request = EnrolmentRequest(deviceID: device, installer: installer, note: note, time: Timestamp(milliseconds: Int64(time)), keys: keys)
        guard let signing = request.signingKey, signing.id == frame.keyID, let key = signing.signingKey else {
            throw .signerNotInRequest(frame.keyID)
        }
        guard frame.verifies(with: key) else { throw .badSignature(frame.keyID) }
        return request
    }
}
