import Crypto

extension MeshOutboundMessage {
    /// A 63-bit number for a message that has no sequence of its own in the mesh's dedup key (a
    /// head-end ack or command entering at a gateway, a command reply): the first bytes of its
    /// SHA-256, so the same bytes sent again are the same message.
    public static func number(for bytes: [UInt8]) -> UInt64 {
        Array(SHA256.hash(data: bytes)).prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) } >> 1
    }
}
