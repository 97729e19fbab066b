import ConcentratorCore
import FoundationEssentials

/// Why a key file could not be used. Names the file and what to fix; never contains key bytes.
public enum KeyFileError: Error, Hashable, Sendable, CustomStringConvertible {
    case file(FileError)
    /// A private key file readable or writable by group or others.
    case insecurePermissions(path: String, mode: UInt32)
    case malformed(path: String, reason: String)
    /// The file's "id" does not match its key (a copy-paste mistake or a corrupted file).
    case idMismatch(path: String, declared: String, computed: KeyID)
    /// The device seals to exactly one head-end key; the configured files hold another number.
    case sealingKeyCount(Int)

    public var description: String {
        switch self {
        case .file(let e): return "\(e)"
        case .insecurePermissions(let p, let m):
            return "\(p) has mode \(String(m, radix: 8)); private keys must be 600 (run: chmod 600 \(p))"
        case .malformed(let p, let r): return "\(p): \(r)"
        case .idMismatch(let p, let d, let c): return "\(p): declared id \(d) but the key's id is \(c)"
        case .sealingKeyCount(let n): return "the head-end key files hold \(n) sealing keys; exactly one is needed"
        }
    }
}

/// A public key as a small JSON file: how head-end keys reach a device (paths in the config) and
/// how a device's keys reach the head-end (`concentrator keys show --json`). Format: Docs/mqtt-api.md, "Key files".
public struct PublicKeyDocument: Hashable, Sendable {
    public static let format = "concentrator-public-key/1"

    public enum Algorithm: String, Hashable, Sendable {
        case ed25519
        case x25519
    }

    public var algorithm: Algorithm
    /// "sealing" (head-end X25519), "ack" or a command role (head-end Ed25519), "device" (a device's keys).
    public var role: String
    /// The device the key belongs to, for role "device".
    public var device: String?
    public var publicKey: [UInt8]

    public init(algorithm: Algorithm, role: String, device: String? = nil, publicKey: [UInt8]) {
        self.algorithm = algorithm
        self.role = role
        self.device = device
        self.publicKey = publicKey
    }

    public init(_ key: SigningPublicKey, role: String, device: String? = nil) {
        self.init(algorithm: .ed25519, role: role, device: device, publicKey: key.rawRepresentation)
    }

    public init(_ key: AgreementPublicKey, role: String, device: String? = nil) {
        self.init(algorithm: .x25519, role: role, device: device, publicKey: key.rawRepresentation)
    }

    public var id: KeyID { KeyID(publicKey: publicKey) }

    public func rendered() -> String {
        var members = [JSONMember(key: "format", value: .string(Self.format)),
                       JSONMember(key: "algorithm", value: .string(algorithm.rawValue)),
                       JSONMember(key: "role", value: .string(role))]
        if let device { members.append(JSONMember(key: "device", value: .string(device))) }
        members.append(JSONMember(key: "id", value: .string(id.hex)))
        members.append(JSONMember(key: "publicKey", value: .string(Data(publicKey).base64EncodedString())))
        return JSONWriter.render(.object(members), pretty: true) + "\n"
    }

    /// Parses a document; `path` only names the source in errors.
    public static func parse(_ text: String, path: String) throws(KeyFileError) -> PublicKeyDocument {
        let json: JSONValue
        do { json = try JSONParser.parse(text) } catch { throw .malformed(path: path, reason: "not JSON: \(error)") }
        guard json["format"]?.stringValue == format else { throw .malformed(path: path, reason: "\"format\" must be \"\(format)\"") }
        guard let algorithm = json["algorithm"]?.stringValue.flatMap(Algorithm.init(rawValue:)) else {
            throw .malformed(path: path, reason: "\"algorithm\" must be \"ed25519\" or \"x25519\"")
        }
        guard let role = json["role"]?.stringValue, !role.isEmpty,
              role.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }) else {
            throw .malformed(path: path, reason: "\"role\" must be a lower-case word (sealing, ack, device, or a command role)")
        }
        guard role == "device" || (algorithm == .x25519) == (role == "sealing") else {
            throw .malformed(path: path, reason: "role \"\(role)\" does not fit an \(algorithm.rawValue) key")
        }
        let device = json["device"]?.stringValue
        if role == "device" {
            guard let device, DeviceIdentifier.isValid(device) else {
                throw .malformed(path: path, reason: "a device key needs \"device\": 1…64 of [A-Za-z0-9._-]")
            }
        }
        guard let b64 = json["publicKey"]?.stringValue, let raw = Data(base64Encoded: b64), raw.count == 32 else {
            throw .malformed(path: path, reason: "\"publicKey\" must be 32 bytes in base64")
        }
        let doc = PublicKeyDocument(algorithm: algorithm, role: role, device: device, publicKey: Array(raw))
        if let declared = json["id"]?.stringValue, declared.lowercased() != doc.id.hex {
            throw .idMismatch(path: path, declared: declared, computed: doc.id)
        }
        do {
            switch algorithm {
            case .ed25519: _ = try SigningPublicKey(rawRepresentation: doc.publicKey)
            case .x25519: _ = try AgreementPublicKey(rawRepresentation: doc.publicKey)
            }
        } catch {
            throw .malformed(path: path, reason: "\(error)")
        }
        return doc
    }

    /// The key as an Ed25519 key, if it is one.
    public var signingKey: SigningPublicKey? {
        algorithm == .ed25519 ? try? SigningPublicKey(rawRepresentation: publicKey) : nil
    }

    /// The key as an X25519 key, if it is one.
    public var agreementKey: AgreementPublicKey? {
        algorithm == .x25519 ? try? AgreementPublicKey(rawRepresentation: publicKey) : nil
    }
}

/// The head-end's public keys as a device knows them: the one sealing key it seals batches to, and
/// Ed25519 keys with roles (acks, commands). Loaded from the files the config names.
public struct HeadEndKeys: Hashable, Sendable {
    public let sealingKey: AgreementPublicKey
    public let signingKeys: [(role: String, key: SigningPublicKey)]

    public init(sealingKey: AgreementPublicKey, signingKeys: [(role: String, key: SigningPublicKey)]) {
        self.sealingKey = sealingKey
        self.signingKeys = signingKeys
    }

    /// The Ed25519 keys with `role` (for example "ack").
    public func keys(withRole role: String) -> [SigningPublicKey] { signingKeys.filter { $0.role == role }.map(\.key) }

    public static func == (a: HeadEndKeys, b: HeadEndKeys) -> Bool {
        a.sealingKey == b.sealingKey && a.signingKeys.map(\.role) == b.signingKeys.map(\.role)
            && a.signingKeys.map(\.key) == b.signingKeys.map(\.key)
    }

    public func hash(into h: inout Hasher) {
        h.combine(sealingKey)
        for k in signingKeys {
            h.combine(k.role)
            h.combine(k.key)
        }
    }
}
