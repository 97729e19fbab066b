#if canImport(Glibc)
import Glibc
#endif
import ConcentratorCore
import KeyFiles
import Platform
import Wire

/// A role of a head-end key: what the private half is used for, and which algorithm it has.
public enum HeadEndKeyRole: String, Hashable, Sendable, CaseIterable {
    /// X25519: devices seal batches to it; the head-end opens them.
    case sealing
    /// Ed25519: signs batch acks.
    case ack
    /// Ed25519 command keys, one per role (for signed commands to gateways).
    case reader
    case `operator`
    case admin

    public var algorithm: PublicKeyDocument.Algorithm { self == .sealing ? .x25519 : .ed25519 }
}

/// One key written by `HeadEndKeyDirectory.generate`: where its halves are and how to recognise it.
public struct GeneratedHeadEndKey: Hashable, Sendable {
    public let role: HeadEndKeyRole
    public let id: KeyID
    public let fingerprint: String
    /// The private key file (mode 0600): stays on the head-end.
    public let privateKeyPath: String
    /// The public key document (`concentrator-public-key/1`): goes into the devices' `uplink.headEndKeys`.
    public let publicDocumentPath: String
}

/// The head-end's key files in one directory (mode 0700). Every key is two files named after its role
/// and id, so generations sit side by side while keys rotate:
/// `<role>-<id>.key` (the private key, 0600) and `<role>-<id>.pub.json` (the public document, 0644).
public struct HeadEndKeyDirectory: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    /// Generates a fresh key for each of `roles` (all roles by default: one sealing key, the ack key and
    /// the reader, operator and admin command keys). Generating again with only `.sealing` adds a new
    /// sealing key for rotation; the old one stays until no batch sealed to it can be in an outbox.
    public func generate(roles: [HeadEndKeyRole] = HeadEndKeyRole.allCases) throws(KeyFileError) -> [GeneratedHeadEndKey] {
        do {
            try FileSystem.createDirectory(path, mode: 0o700)
        } catch {
            throw .file(error)
        }
        chmod(path, 0o700)
        var written: [GeneratedHeadEndKey] = []
        for role in roles {
            let document: PublicKeyDocument
            let privatePath: String
            switch role.algorithm {
            case .x25519:
                let key = AgreementPrivateKey.generate()
                document = PublicKeyDocument(key.publicKey, role: role.rawValue)
                privatePath = privateKeyPath(role: role, id: key.id)
                try PrivateKeyFile.write(key, to: privatePath)
            case .ed25519:
                let key = SigningPrivateKey.generate()
                document = PublicKeyDocument(key.publicKey, role: role.rawValue)
                privatePath = privateKeyPath(role: role, id: key.id)
                try PrivateKeyFile.write(key, to: privatePath)
            }
            let publicPath = publicDocumentPath(role: role, id: document.id)
            do {
                try FileSystem.writeAtomically(document.rendered(), to: publicPath, mode: 0o644)
            } catch {
                throw .file(error)
            }
            written.append(GeneratedHeadEndKey(role: role, id: document.id, fingerprint: publicKeyFingerprint(document.publicKey),
                                               privateKeyPath: privatePath, publicDocumentPath: publicPath))
        }
        return written
    }

    public func privateKeyPath(role: HeadEndKeyRole, id: KeyID) -> String { FileSystem.join(path, "\(role.rawValue)-\(id.hex).key") }

    public func publicDocumentPath(role: HeadEndKeyRole, id: KeyID) -> String {
        FileSystem.join(path, "\(role.rawValue)-\(id.hex).pub.json")
    }
}

/// The private keys a running head-end needs: every sealing key that devices may still seal to
/// (current and retired) and the key that signs acks. Describes itself by key ids only.
public struct HeadEndPrivateKeys: Sendable, CustomStringConvertible {
    public let sealingKeys: [AgreementPrivateKey]
    public let ackKey: SigningPrivateKey

    public init(sealingKeys: [AgreementPrivateKey], ackKey: SigningPrivateKey) {
        self.sealingKeys = sealingKeys
        self.ackKey = ackKey
    }

    /// Loads the files named in the configuration. Each must be a 0600 `concentrator-private-key/1` file.
    public static func load(sealingKeyFiles: [String], ackKeyFile: String) throws(KeyFileError) -> HeadEndPrivateKeys {
        var sealing: [AgreementPrivateKey] = []
        for path in sealingKeyFiles { sealing.append(try PrivateKeyFile.loadAgreementKey(path: path)) }
        return HeadEndPrivateKeys(sealingKeys: sealing, ackKey: try PrivateKeyFile.loadSigningKey(path: ackKeyFile))
    }

    public var description: String {
        "head-end keys (sealing \(sealingKeys.map(\.id.hex).joined(separator: ", ")); ack \(ackKey.id))"
    }
}
