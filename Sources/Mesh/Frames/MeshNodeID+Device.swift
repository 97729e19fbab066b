import ConcentratorCore
import Crypto

extension MeshNodeID {
    /// Domain separation for the derivation, so the address is not a plain hash of the id.
    static let derivationLabel = Array("concentrator-mesh-node-v1".utf8) + [0]

    /// The address of device `deviceID`: the first 8 bytes (big-endian) of
    /// SHA-256("concentrator-mesh-node-v1" ‖ 0x00 ‖ UTF-8 of the id). The two reserved values are
    /// moved off by one (probability 2⁻⁶³). Docs/mesh.md, "Node addresses".
    public init(deviceID: String) {
        let digest = Array(SHA256.hash(data: Self.derivationLabel + Array(deviceID.utf8)))
        var value: UInt64 = 0
        for byte in digest.prefix(8) { value = value << 8 | UInt64(byte) }
        if value == 0 { value = 1 }
        if value == .max { value = .max - 1 }
        self.init(value)
    }
}
