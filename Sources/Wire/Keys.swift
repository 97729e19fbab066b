import ConcentratorCore

import Crypto
import FoundationEssentials

/// Why key material was refused. Never carries key bytes.
public enum KeyMaterialError: Error, Hashable, Sendable, CustomStringConvertible {
    case wrongLength(what: String, expected: Int, actual: Int)
    case notAPoint(what: String)

    public var description: String {
        switch self {
        case .wrongLength(let w, let e, let a): return "\(w) must be \(e) bytes, got \(a)"
        case .notAPoint(let w): return "\(w) is not a valid public key"
        }
    }
}

/// A short, public name for a key: the first 8 bytes of SHA-256 of the raw public key, shown as 16
/// lowercase hex digits. Batches and acks carry it so keys can rotate without losing in-flight batches.
public struct KeyID: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 8
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(KeyMaterialError) {
        guard bytes.count == Self.byteCount else { throw .wrongLength(what: "key id", expected: Self.byteCount, actual: bytes.count) }
        self.bytes = bytes
    }

    /// The id of a raw public key.
    public init(publicKey raw: [UInt8]) { bytes = Array(SHA256.hash(data: raw).prefix(Self.byteCount)) }

    /// Parses 16 hex digits.
    public init?(hex: String) {
        guard let b = Hex.decode(hex), b.count == Self.byteCount else { return nil }
        bytes = b
    }

    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }
}

/// The printable fingerprint of a public key: "sha256:" and the 64 hex digits of SHA-256 of the raw
/// key. Its first 16 digits are the key id.
public func publicKeyFingerprint(_ raw: [UInt8]) -> String { "sha256:" + Hex.encode(Array(SHA256.hash(data: raw))) }

/// An Ed25519 public key (RFC 8032) with its id: verifies device batch signatures, head-end acks
/// and commands.
public struct SigningPublicKey: Hashable, Sendable, CustomStringConvertible {
    let key: Curve25519.Signing.PublicKey
    /// The 32 raw bytes (RFC 8032 encoding).
    public let rawRepresentation: [UInt8]
    public let id: KeyID

    public init(rawRepresentation raw: [UInt8]) throws(KeyMaterialError) {
        guard raw.count == 32 else { throw .wrongLength(what: "Ed25519 public key", expected: 32, actual: raw.count) }
        guard let k = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else { throw .notAPoint(what: "Ed25519 public key") }
        key = k
        rawRepresentation = raw
        id = KeyID(publicKey: raw)
    }

    init(_ k: Curve25519.Signing.PublicKey) {
        key = k
        rawRepresentation = Array(k.rawRepresentation)
        id = KeyID(publicKey: rawRepresentation)
    }

    public var fingerprint: String { publicKeyFingerprint(rawRepresentation) }
    public var base64: String { Data(rawRepresentation).base64EncodedString() }

    /// Whether `signature` is a valid Ed25519 signature by this key over `message`.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        signature.count == 64 && key.isValidSignature(signature, for: message)
    }

    public var description: String { "Ed25519 public key \(id)" }
    public static func == (a: SigningPublicKey, b: SigningPublicKey) -> Bool { a.rawRepresentation == b.rawRepresentation }
    public func hash(into h: inout Hasher) { h.combine(rawRepresentation) }
}

/// An X25519 public key (RFC 7748) with its id: the head-end's sealing key, or a device's agreement key.
public struct AgreementPublicKey: Hashable, Sendable, CustomStringConvertible {
    let key: Curve25519.KeyAgreement.PublicKey
    public let rawRepresentation: [UInt8]
    public let id: KeyID

    public init(rawRepresentation raw: [UInt8]) throws(KeyMaterialError) {
        guard raw.count == 32 else { throw .wrongLength(what: "X25519 public key", expected: 32, actual: raw.count) }
        guard let k = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: raw) else {
            throw .notAPoint(what: "X25519 public key")
        }
        key = k
        rawRepresentation = raw
        id = KeyID(publicKey: raw)
    }

    init(_ k: Curve25519.KeyAgreement.PublicKey) {
        key = k
        rawRepresentation = Array(k.rawRepresentation)
        id = KeyID(publicKey: rawRepresentation)
    }

    public var fingerprint: String { publicKeyFingerprint(rawRepresentation) }
    public var base64: String { Data(rawRepresentation).base64EncodedString() }
    public var description: String { "X25519 public key \(id)" }
    public static func == (a: AgreementPublicKey, b: AgreementPublicKey) -> Bool { a.rawRepresentation == b.rawRepresentation }
    public func hash(into h: inout Hasher) { h.combine(rawRepresentation) }
}

/// An Ed25519 private key. Its description, debug description and mirror show only the key id;
/// the secret leaves memory only through `DeviceKeyStore` into a 0600 file.
public struct SigningPrivateKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    let key: Curve25519.Signing.PrivateKey
    public let publicKey: SigningPublicKey

    /// The key whose RFC 8032 32-byte private seed is `seed`.
    public init(seed: [UInt8]) throws(KeyMaterialError) {
        guard seed.count == 32 else { throw .wrongLength(what: "Ed25519 private seed", expected: 32, actual: seed.count) }
        guard let k = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed) else { throw .notAPoint(what: "Ed25519 seed") }
        self.init(k)
    }

    private init(_ k: Curve25519.Signing.PrivateKey) {
        key = k
        publicKey = SigningPublicKey(k.publicKey)
    }

    /// A fresh key from the system's secure random generator.
    public static func generate() -> SigningPrivateKey { SigningPrivateKey(Curve25519.Signing.PrivateKey()) }

    public var id: KeyID { publicKey.id }
    /// The 32-byte seed, for the key file only.
    package var seed: [UInt8] { Array(key.rawRepresentation) }

    /// The Ed25519 signature (64 bytes) over `message`.
    public func sign(_ message: [UInt8]) -> [UInt8] {
        guard let signature = try? key.signature(for: message) else {
            fatalError("Ed25519 signing failed inside the crypto library")
        }
        return Array(signature)
    }

    public var description: String { "Ed25519 private key \(id)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["id": id.hex]) }
}

/// An X25519 private key: the head-end's sealing key (opens batches), or a device's agreement key.
/// Like `SigningPrivateKey`, it describes itself by id only.
public struct AgreementPrivateKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    let key: Curve25519.KeyAgreement.PrivateKey
    public let publicKey: AgreementPublicKey

    /// The key whose 32-byte RFC 7748 scalar is `rawRepresentation`.
    public init(rawRepresentation raw: [UInt8]) throws(KeyMaterialError) {
        guard raw.count == 32 else { throw .wrongLength(what: "X25519 private key", expected: 32, actual: raw.count) }
        guard let k = try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: raw) else {
            throw .notAPoint(what: "X25519 private key")
        }
        self.init(k)
    }

    private init(_ k: Curve25519.KeyAgreement.PrivateKey) {
        key = k
        publicKey = AgreementPublicKey(k.publicKey)
    }

    /// A fresh key from the system's secure random generator.
    public static func generate() -> AgreementPrivateKey { AgreementPrivateKey(Curve25519.KeyAgreement.PrivateKey()) }

    public var id: KeyID { publicKey.id }
    /// The 32 secret bytes, for the key file only.
    package var secretBytes: [UInt8] { Array(key.rawRepresentation) }

    public var description: String { "X25519 private key \(id)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["id": id.hex]) }
}
