import ConcentratorCore

/// A concentrator's 64-bit address in the mesh. Derived from the device id (`MeshNodeID(deviceID:)`),
/// so every node and the head-end compute the same address for a device without a registry; two
/// reserved values name the head-end (the destination of upward traffic) and all neighbours (the
/// receiver of a broadcast). On the wire: 8 bytes, big-endian.
public struct MeshNodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    /// The head-end: destination of upward frames, origin of downward ones.
    public static let headEnd = MeshNodeID(0)
    /// Every neighbour that hears the frame (the receiver of beacons).
    public static let broadcast = MeshNodeID(.max)

    /// Whether a node may carry this address (neither reserved value).
    public var isNodeAddress: Bool { rawValue != 0 && rawValue != .max }

    public static func < (a: MeshNodeID, b: MeshNodeID) -> Bool { a.rawValue < b.rawValue }

    /// 16 lowercase hex digits.
    public var description: String {
        var w = ByteWriter(capacity: 8)
        w.bigEndian(rawValue)
        return Hex.encode(w.bytes)
    }
}
