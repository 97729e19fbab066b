import ConcentratorCore
import Crypto

/// Why a network key cannot be used. Never carries key bytes.
public enum MeshKeyError: Error, Hashable, Sendable, CustomStringConvertible {
    case wrongLength(Int)
    case allZero

    public var description: String {
        switch self {
        case .wrongLength(let n):
            return "the mesh network key must be \(MeshNetworkKey.length) bytes (64 hex digits), not \(n); provision it again from the console"
        case .allZero: return "the mesh network key is all zeros; generate a random one"
        }
    }
}

/// The per-deployment network key that authenticates mesh frames (HMAC-SHA-256-128 under a key
/// derived with HKDF-SHA-256). It keeps outsiders off the mesh; it never opens batches, which are
/// sealed to the head-end and signed by their device. Its description names only the epoch and a
/// fingerprint, never the key.
public struct MeshNetworkKey: Sendable, CustomStringConvertible {
    public static let length = 32
    static let salt = Array("concentrator-mesh".utf8)
    static let macInfo = Array("frame-mac-v1".utf8)

    /// The key's epoch, carried in every frame so a deployment can roll keys over.
    public let epoch: UInt8
    /// SHA-256 of the key, first 4 bytes in hex: lets installers compare keys without showing them.
    public let fingerprint: String
    /// HMAC keyed once (the key's inner and outer pads hashed); each MAC continues a copy.
    private let keyedMAC: HMAC<SHA256>

    public init(bytes: [UInt8], epoch: UInt8 = 0) throws(MeshKeyError) {
        guard bytes.count == Self.length else { throw .wrongLength(bytes.count) }
        guard bytes.contains(where: { $0 != 0 }) else { throw .allZero }
        self.epoch = epoch
        fingerprint = Hex.encode(Array(SHA256.hash(data: bytes)).prefix(4))
        let macKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: bytes), salt: Self.salt, info: Self.macInfo,
                                            outputByteCount: 32)
        keyedMAC = HMAC<SHA256>(key: macKey)
    }

    public var description: String { "mesh network key epoch \(epoch) (fingerprint \(fingerprint))" }

    /// The truncated MAC of `bytes`.
    func mac(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var h = keyedMAC
        h.update(data: bytes)
        return Array(h.finalize().prefix(MeshFrame.macLength))
    }
}

/// MACs outgoing frames under the current key and verifies incoming ones under the key of their
/// epoch (the current one and, during a rollover, the previous ones). Replay checks are separate
/// (`MeshReplayGuard`) because they need the sender's state.
public struct MeshFrameAuthenticator: Sendable {
    public let current: MeshNetworkKey
    private let byEpoch: [UInt8: MeshNetworkKey]

    /// `current` signs; `accepted` (plus `current`) verify.
    public init(current: MeshNetworkKey, accepted: [MeshNetworkKey] = []) {
        self.current = current
        var keys: [UInt8: MeshNetworkKey] = [:]
        for key in accepted { keys[key.epoch] = key }
        keys[current.epoch] = current
        byEpoch = keys
    }

    /// The frame on the wire: header and payload, then the MAC. The header's key epoch is set to the
    /// current key's.
    public func seal(_ frame: MeshFrame) -> [UInt8] {
        var f = frame
        f.header.keyEpoch = current.epoch
        let bytes = MeshFrameCodec.authenticatedBytes(of: f)
        return bytes + current.mac(bytes[...])
    }

    /// Parses and authenticates one frame. The MAC is compared in constant time.
    public func open(_ bytes: [UInt8]) throws(MeshFrameError) -> MeshFrame {
        let parsed = try MeshFrameCodec.parse(bytes)
        guard let key = byEpoch[parsed.frame.header.keyEpoch] else { throw .unknownKeyEpoch(parsed.frame.header.keyEpoch) }
        let expected = key.mac(bytes[0..<parsed.authenticatedLength])
        var difference: UInt8 = 0
        for (a, b) in zip(expected, parsed.mac) { difference |= a ^ b }
        guard difference == 0 else { throw .forged(sender: parsed.frame.header.sender) }
        return parsed.frame
    }
}
