#if canImport(Glibc)
import Glibc
#endif
import ConcentratorCore
import FoundationEssentials
import Platform

/// The device's own key pair set: Ed25519 signs batches and command replies; X25519 lets the
/// head-end seal data to the device (downlink secrets).
public struct DeviceKeys: Sendable, CustomStringConvertible {
    public let signing: SigningPrivateKey
    public let agreement: AgreementPrivateKey

    public init(signing: SigningPrivateKey, agreement: AgreementPrivateKey) {
        self.signing = signing
        self.agreement = agreement
    }

    public var description: String { "device keys (signing \(signing.id), agreement \(agreement.id))" }

    /// The public halves as documents for registration at the head-end.
    public func publicDocuments(deviceID: String) -> [PublicKeyDocument] {
        [PublicKeyDocument(signing.publicKey, role: "device", device: deviceID),
         PublicKeyDocument(agreement.publicKey, role: "device", device: deviceID)]
    }

    /// What `concentrator keys show` prints: public keys, ids and fingerprints, nothing secret.
    public func summary(deviceID: String) -> String {
        """
        device \(deviceID)
        signing   ed25519  id \(signing.id)  \(signing.publicKey.fingerprint)
                  public key (base64) \(signing.publicKey.base64)
        agreement x25519   id \(agreement.id)  \(agreement.publicKey.fingerprint)
                  public key (base64) \(agreement.publicKey.base64)

        """
    }
}

/// Keeps the device's private keys in `<state>/keys/` (directory 0700, files 0600, written
/// atomically). Creates them on first start; loads the same keys afterwards.
public struct DeviceKeyStore: Sendable {
    public static let signingFileName = "device-signing.key"
    public static let agreementFileName = "device-agreement.key"
    static let privateFormat = "concentrator-private-key/1"

    public let directory: String

    public init(stateDirectory: String) { directory = FileSystem.join(stateDirectory, "keys") }

    public var signingKeyPath: String { FileSystem.join(directory, Self.signingFileName) }
    public var agreementKeyPath: String { FileSystem.join(directory, Self.agreementFileName) }

    /// Loads both keys, generating and storing any that does not exist yet. `created` lists the files written.
    public func loadOrCreate() throws(KeyFileError) -> (keys: DeviceKeys, created: [String]) {
        do {
            try FileSystem.createDirectory(directory, mode: 0o700)
        } catch {
            throw .file(error)
        }
        // The directory may predate us with a looser mode; keys never sit in a readable directory.
        chmod(directory, 0o700)
        var created: [String] = []
        if !FileSystem.exists(signingKeyPath) {
            try write(algorithm: "ed25519", secret: SigningPrivateKey.generate().seed, to: signingKeyPath)
            created.append(signingKeyPath)
        }
        if !FileSystem.exists(agreementKeyPath) {
            try write(algorithm: "x25519", secret: AgreementPrivateKey.generate().secretBytes, to: agreementKeyPath)
            created.append(agreementKeyPath)
        }
        return (try load(), created)
    }

    /// Loads both keys; fails if either is missing, malformed or not private to its owner.
    public func load() throws(KeyFileError) -> DeviceKeys {
        let signingSecret = try read(algorithm: "ed25519", from: signingKeyPath)
        let agreementSecret = try read(algorithm: "x25519", from: agreementKeyPath)
        do {
            return DeviceKeys(signing: try SigningPrivateKey(seed: signingSecret),
                              agreement: try AgreementPrivateKey(rawRepresentation: agreementSecret))
        } catch {
            throw .malformed(path: directory, reason: "\(error)")
        }
    }

    private func write(algorithm: String, secret: [UInt8], to path: String) throws(KeyFileError) {
        let json = JSONValue.object([
            JSONMember(key: "format", value: .string(Self.privateFormat)),
            JSONMember(key: "algorithm", value: .string(algorithm)),
            JSONMember(key: "secret", value: .string(Data(secret).base64EncodedString())),
        ])
        do {
            try FileSystem.writeAtomically(JSONWriter.render(json, pretty: true) + "\n", to: path, mode: 0o600)
        } catch {
            throw .file(error)
        }
    }

    private func read(algorithm: String, from path: String) throws(KeyFileError) -> [UInt8] {
        guard let mode = FileSystem.mode(path) else { throw .file(FileError(path: path, operation: "open", errnoCode: ENOENT)) }
        guard mode & 0o077 == 0 else { throw .insecurePermissions(path: path, mode: UInt32(mode)) }
        let text: String
        do { text = try FileSystem.readText(path) } catch { throw .file(error) }
        let json: JSONValue
        do { json = try JSONParser.parse(text) } catch { throw .malformed(path: path, reason: "not JSON: \(error)") }
        guard json["format"]?.stringValue == Self.privateFormat, json["algorithm"]?.stringValue == algorithm else {
            throw .malformed(path: path, reason: "expected a \(Self.privateFormat) \(algorithm) key")
        }
        guard let b64 = json["secret"]?.stringValue, let secret = Data(base64Encoded: b64), secret.count == 32 else {
            throw .malformed(path: path, reason: "\"secret\" must be 32 bytes in base64")
        }
        return Array(secret)
    }
}
