#if canImport(Glibc)
import Glibc
#endif
import ConcentratorCore
import FoundationEssentials
import Platform
import Wire

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
            try PrivateKeyFile.write(SigningPrivateKey.generate(), to: signingKeyPath)
            created.append(signingKeyPath)
        }
        if !FileSystem.exists(agreementKeyPath) {
            try PrivateKeyFile.write(AgreementPrivateKey.generate(), to: agreementKeyPath)
            created.append(agreementKeyPath)
        }
        return (try load(), created)
    }

    /// Replaces the stored keys with `keys` (key rotation), each file written atomically (0600).
    public func store(_ keys: DeviceKeys) throws(KeyFileError) {
        try PrivateKeyFile.write(keys.signing, to: signingKeyPath)
        try PrivateKeyFile.write(keys.agreement, to: agreementKeyPath)
    }

    /// Loads both keys; fails if either is missing, malformed or not private to its owner.
    public func load() throws(KeyFileError) -> DeviceKeys {
        DeviceKeys(signing: try PrivateKeyFile.loadSigningKey(path: signingKeyPath),
                   agreement: try PrivateKeyFile.loadAgreementKey(path: agreementKeyPath))
    }
}
