import ConcentratorCore
import SQLite
import Wire

/// One public key registered for a device.
public struct RegisteredDeviceKey: Hashable, Sendable {
    public let id: KeyID
    public let algorithm: PublicKeyDocument.Algorithm
    public let publicKey: [UInt8]
    public let added: Timestamp

    public var fingerprint: String { publicKeyFingerprint(publicKey) }
}

/// A device as the registry knows it. `registered` is false after `headend devices remove`: its data
/// stays, its batches are rejected as from an unknown device.
public struct RegisteredDevice: Hashable, Sendable {
    public let name: String
    public let registered: Bool
    public let added: Timestamp
    public let keys: [RegisteredDeviceKey]
}

/// The device registry (`headend devices add/list/remove`). Every change bumps `registry_version`,
/// which running head-ends watch, so they see changes without a restart.
extension HeadEndDatabase {
    /// Registers `name` with `keys` (documents with role `device` naming this device, as `concentrator
    /// keys show` writes them), or adds the keys to an already registered device (a new signing key is
    /// registered beside the old one). Returns the ids of keys that were not registered before.
    @discardableResult
    public func registerDevice(_ name: String, keys: [PublicKeyDocument], at now: Timestamp) throws(HeadEndError) -> [KeyID] {
        try HeadEndRegistryRules.check(name, keys: keys)
        return try writeTransaction {
            try connection.run("INSERT INTO devices (name, registered, added) VALUES (?, 1, ?) ON CONFLICT (name) DO UPDATE SET registered = 1",
                               [.text(name), .integer(now.milliseconds)])
            guard let device = try deviceNumber(name) else { throw HeadEndError.other("device \(name) vanished while registering") }
            var added: [KeyID] = []
            for key in keys {
                try connection.run("""
                    INSERT INTO device_keys (device, key_id, algorithm, public_key, added) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT DO NOTHING
                    """, [.integer(device), .text(key.id.hex), .text(key.algorithm.rawValue), .blob(key.publicKey), .integer(now.milliseconds)])
                if connection.changes > 0 { added.append(key.id) }
            }
            let signing = try connection.queryInt64("SELECT count(*) FROM device_keys WHERE device = ? AND algorithm = 'ed25519'",
                                                    [.integer(device)]) ?? 0
            guard signing > 0 else {
                throw HeadEndError.invalidRequest("device \(name) needs an Ed25519 signing key; none is registered or given")
            }
            try bumpRegistryVersion()
            return added
        }
    }

    /// Unregisters a device: its keys are deleted, its stored data stays. Returns false when it was not registered.
    @discardableResult
    public func unregisterDevice(_ name: String) throws(HeadEndError) -> Bool {
        try writeTransaction {
            guard let device = try deviceNumber(name),
                  try connection.queryInt64("SELECT registered FROM devices WHERE id = ?", [.integer(device)]) == 1 else { return false }
            try connection.run("DELETE FROM device_keys WHERE device = ?", [.integer(device)])
            try connection.run("UPDATE devices SET registered = 0 WHERE id = ?", [.integer(device)])
            try bumpRegistryVersion()
            return true
        }
    }

    /// Revokes one key of a device (a stolen gateway's key, an old signing key after rotation).
    /// Returns false when the device has no key with that id.
    @discardableResult
    public func revokeKey(_ id: KeyID, ofDevice name: String) throws(HeadEndError) -> Bool {
        try writeTransaction {
            guard let device = try deviceNumber(name) else { return false }
            try connection.run("DELETE FROM device_keys WHERE device = ? AND key_id = ?", [.integer(device), .text(id.hex)])
            guard connection.changes > 0 else { return false }
            try bumpRegistryVersion()
            return true
        }
    }

    /// Every device the head-end knows, registered or not, by name.
    public func devices() throws(HeadEndError) -> [RegisteredDevice] {
        let keyRows = try rows("SELECT d.name, k.key_id, k.algorithm, k.public_key, k.added FROM device_keys k JOIN devices d ON d.id = k.device "
            + "ORDER BY d.name, k.added, k.key_id") { s in
            (s.text(0), RegisteredDeviceKey(id: KeyID(hex: s.text(1)) ?? KeyID(publicKey: s.blob(3)),
                                            algorithm: PublicKeyDocument.Algorithm(rawValue: s.text(2)) ?? .ed25519,
                                            publicKey: s.blob(3), added: Timestamp(milliseconds: s.int64(4))))
        }
        let keys = Dictionary(grouping: keyRows, by: \.0).mapValues { $0.map(\.1) }
        return try rows("SELECT name, registered, added FROM devices ORDER BY name") { s in
            RegisteredDevice(name: s.text(0), registered: s.int64(1) == 1, added: Timestamp(milliseconds: s.int64(2)),
                             keys: keys[s.text(0)] ?? [])
        }
    }

    /// A number that changes whenever the registry changes (in any process using this database).
    public func registryVersion() throws(HeadEndError) -> Int64 {
        do { return try connection.queryInt64("SELECT value FROM meta WHERE name = 'registry_version'") ?? 0 } catch {
            throw HeadEndError.wrap(error)
        }
    }

    /// The Ed25519 keys of every registered device, for `BatchOpener`.
    public func signingKeyDirectory() throws(HeadEndError) -> RegisteredDevices {
        let pairs = try rows("SELECT d.name, k.public_key FROM device_keys k JOIN devices d ON d.id = k.device "
            + "WHERE d.registered = 1 AND k.algorithm = 'ed25519'") { s in (s.text(0), s.blob(1)) }
        var keys: [String: [SigningPublicKey]] = [:]
        for (name, raw) in pairs {
            guard let key = try? SigningPublicKey(rawRepresentation: raw) else { continue }
            keys[name, default: []].append(key)
        }
        return RegisteredDevices(keys)
    }

    private func bumpRegistryVersion() throws {
        try connection.run("UPDATE meta SET value = value + 1 WHERE name = 'registry_version'")
    }
}
