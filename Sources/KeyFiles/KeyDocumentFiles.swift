import ConcentratorCore
import Platform
import Wire

extension PublicKeyDocument {
    /// Reads and parses the public key document at `path`.
    public static func load(path: String) throws(KeyFileError) -> PublicKeyDocument {
        do { return try parse(try FileSystem.readText(path), path: path) } catch let e as FileError {
            throw .file(e)
        } catch let e as KeyFileError {
            throw e
        } catch {
            throw .malformed(path: path, reason: "\(error)")
        }
    }
}

extension HeadEndKeys {
    /// The head-end keys from the public key documents at `paths` (the device's `uplink.headEndKeys`):
    /// exactly one sealing key, and signing keys with their roles.
    public static func load(paths: [String]) throws(KeyFileError) -> HeadEndKeys {
        var sealing: [AgreementPublicKey] = []
        var signing: [(role: String, key: SigningPublicKey)] = []
        for path in paths {
            let doc = try PublicKeyDocument.load(path: path)
            guard doc.role != "device" else { throw .malformed(path: path, reason: "this is a device key, not a head-end key") }
            if let k = doc.agreementKey { sealing.append(k) }
            if let k = doc.signingKey { signing.append((doc.role, k)) }
        }
        guard sealing.count == 1 else { throw .sealingKeyCount(sealing.count) }
        return HeadEndKeys(sealingKey: sealing[0], signingKeys: signing)
    }
}
