import ConcentratorCore

/// Why a received mesh datagram was dropped. Each case names what was wrong and where; none carries
/// key material or payload bytes. Every rejection is counted under its `kind` (`MeshRejectionCounters`).
public enum MeshFrameError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The bytes end early or a field does not parse (the offset is in the inner error).
    case malformed(ByteFormatError)
    /// A format byte this build does not read (frames are 0x01, fragments 0x02).
    case unsupportedVersion(UInt8)
    /// A frame type this build does not know.
    case unknownType(UInt8)
    /// Reserved flag bits are set.
    case reservedFlags(UInt8)
    /// The frame (or its declared payload) exceeds the limit; nothing is allocated for it.
    case oversized(length: Int, maximum: Int)
    /// Bytes follow the MAC, or the frame is shorter than its declared payload plus MAC.
    case lengthMismatch(declared: Int, actual: Int)
    /// A field holds a value the protocol forbids (reserved address as sender, zero TTL, …).
    case invalidField(String)
    /// The MAC does not verify under the network key of this epoch: forged, corrupted, or sent
    /// with another deployment's key.
    case forged(sender: MeshNodeID)
    /// Sent under a key epoch this node does not hold.
    case unknownKeyEpoch(UInt8)
    /// A frame counter this node has already accepted from the sender.
    case replayed(sender: MeshNodeID, counter: UInt64)
    /// A counter older than the sender's replay window.
    case outsideReplayWindow(sender: MeshNodeID, counter: UInt64, newest: UInt64)
    /// The payload of an authentic frame does not decode.
    case malformedPayload(type: MeshFrameType, ByteFormatError)
    /// A fragment contradicts the others of its frame, or its frame could not be completed.
    case inconsistentFragment(String)

    /// The counter a rejection is counted under.
    public var kind: MeshRejectionKind {
        switch self {
        case .malformed, .lengthMismatch, .malformedPayload: return .malformed
        case .unsupportedVersion, .unknownType, .reservedFlags: return .unsupported
        case .oversized: return .oversized
        case .invalidField: return .invalidField
        case .forged, .unknownKeyEpoch: return .forged
        case .replayed, .outsideReplayWindow: return .replayed
        case .inconsistentFragment: return .fragment
        }
    }

    public var description: String {
        switch self {
        case .malformed(let e): return "malformed mesh frame: \(e)"
        case .unsupportedVersion(let v):
            return "mesh format byte 0x\(Hex.encode([v])) is not supported (this build reads frames 0x01 and fragments 0x02); update the node that sent it"
        case .unknownType(let t): return "unknown mesh frame type \(t); update this node"
        case .reservedFlags(let f): return "mesh frame flags 0x\(Hex.encode([f])) set reserved bits"
        case .oversized(let length, let maximum): return "mesh frame of \(length) bytes exceeds the limit of \(maximum) bytes"
        case .lengthMismatch(let declared, let actual):
            return "mesh frame is \(actual) bytes but its header implies \(declared)"
        case .invalidField(let what): return "mesh frame field not allowed: \(what)"
        case .forged(let sender):
            return "mesh frame claiming sender \(sender) fails its MAC: forged, corrupted, or sent under another network key (check the deployment's network key)"
        case .unknownKeyEpoch(let epoch):
            return "mesh frame under key epoch \(epoch), which this node does not hold (provision the current network key)"
        case .replayed(let sender, let counter): return "mesh frame counter \(counter) of \(sender) was already accepted (replay)"
        case .outsideReplayWindow(let sender, let counter, let newest):
            return "mesh frame counter \(counter) of \(sender) is older than the replay window (newest \(newest))"
        case .malformedPayload(let type, let e): return "malformed \(type) payload: \(e)"
        case .inconsistentFragment(let what): return "mesh fragment dropped: \(what)"
        }
    }
}

extension MeshFrameError {
    /// Runs a decoding step that throws either the byte reader's error or a `MeshFrameError`; the
    /// reader's error becomes `.malformed`, so callers see one typed error.
    static func decoding<T>(_ body: () throws -> T) throws(MeshFrameError) -> T {
        do {
            return try body()
        } catch let e as MeshFrameError {
            throw e
        } catch let e as ByteFormatError {
            throw .malformed(e)
        } catch {
            throw .malformed(ByteFormatError("unexpected error \(error)", at: 0))
        }
    }
}

/// What a dropped datagram is counted as (status and the simulator report these).
public enum MeshRejectionKind: String, Hashable, Sendable, CaseIterable {
    case malformed, unsupported, oversized, invalidField = "invalid-field", forged, replayed
    /// Fragments that could not be reassembled (inconsistent, evicted, timed out).
    case fragment
}

/// Counts of dropped datagrams by kind. A node lives on after every one of them (DESIGN rule 7).
public struct MeshRejectionCounters: Hashable, Sendable {
    public private(set) var counts: [MeshRejectionKind: Int] = [:]

    public init() {}

    public mutating func record(_ kind: MeshRejectionKind) { counts[kind, default: 0] += 1 }
    public subscript(kind: MeshRejectionKind) -> Int { counts[kind] ?? 0 }
    public var total: Int { counts.values.reduce(0, +) }
}
