#if canImport(Glibc)
import Glibc
#endif
import ConcentratorCore
import FoundationEssentials
import Platform
import Wire

/// One private key in its own file: JSON with `format` `concentrator-private-key/1`, `algorithm`
/// (`ed25519` or `x25519`) and the 32-byte `secret` in base64 (Docs/mqtt-api.md, "Key files").
/// Written atomically with mode 0600; a file readable or writable by group or others is refused.
/// The device's keys (`DeviceKeyStore`) and the head-end's keys use this one format.
public enum PrivateKeyFile {
    public static let format = "concentrator-private-key/1"

    /// Writes `key` to `path` (mode 0600, atomically). Replaces an existing file.
    public static func write(_ key: SigningPrivateKey, to path: String) throws(KeyFileError) {
        try write(algorithm: .ed25519, secret: key.seed, to: path)
    }

    /// Writes `key` to `path` (mode 0600, atomically). Replaces an existing file.
    public static func write(_ key: AgreementPrivateKey, to path: String) throws(KeyFileError) {
        try write(algorithm: .x25519, secret: key.secretBytes, to: path)
    }

    /// Loads an Ed25519 private key; fails if the file is missing, malformed or not private to its owner.
    public static func loadSigningKey(path: String) throws(KeyFileError) -> SigningPrivateKey {
        let secret = try read(algorithm: .ed25519, from: path)
        do { return try SigningPrivateKey(seed: secret) } catch { throw .malformed(path: path, reason: "\(error)") }
    }

    /// Loads an X25519 private key; fails if the file is missing, malformed or not private to its owner.
    public static func loadAgreementKey(path: String) throws(KeyFileError) -> AgreementPrivateKey {
        let secret = try read(algorithm: .x25519, from: path)
        do { return try AgreementPrivateKey(rawRepresentation: secret) } catch { throw .malformed(path: path, reason: "\(error)") }
    }

    private static func write(algorithm: PublicKeyDocument.Algorithm, secret: [UInt8], to path: String) throws(KeyFileError) {
        let json = JSONValue.object([
            JSONMember(key: "format", value: .string(format)),
            JSONMember(key: "algorithm", value: .string(algorithm.rawValue)),
            JSONMember(key: "secret", value: .string(Data(secret).base64EncodedString())),
        ])
        do {
            try FileSystem.writeAtomically(JSONWriter.render(json, pretty: true) + "\n", to: path, mode: 0o600)
        } catch {
            throw .file(error)
        }
    }

    private static func read(algorithm: PublicKeyDocument.Algorithm, from path: String) throws(KeyFileError) -> [UInt8] {
        guard let mode = FileSystem.mode(path) else { throw .file(FileError(path: path, operation: "open", errnoCode: ENOENT)) }
        guard mode & 0o077 == 0 else { throw .insecurePermissions(path: path, mode: UInt32(mode)) }
        let text: String
        do { text = try FileSystem.readText(path) } catch { throw .file(error) }
        let json: JSONValue
        do { json = try JSONParser.parse(text) } catch { throw .malformed(path: path, reason: "not JSON: \(error)") }
        guard json["format"]?.stringValue == format, json["algorithm"]?.stringValue == algorithm.rawValue else {
            throw .malformed(path: path, reason: "expected a \(format) \(algorithm.rawValue) key")
        }
        guard let b64 = json["secret"]?.stringValue, let secret = Data(base64Encoded: b64), secret.count == 32 else {
            throw .malformed(path: path, reason: "\"secret\" must be 32 bytes in base64")
        }
        return Array(secret)
    }
}
