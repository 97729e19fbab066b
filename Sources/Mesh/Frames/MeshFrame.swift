import ConcentratorCore

/// What a mesh frame carries. Raw values are on the wire (header byte 1). Docs/mesh.md, "Frame".
public enum MeshFrameType: UInt8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// Broadcast once per beacon interval: hello counter, the sender's route to a gateway, its time,
    /// and how well it hears its neighbours.
    case beacon = 1
    /// Hop-by-hop acknowledgement of routed frames the sender now holds (or refuses).
    case hopAck = 2
    /// An origin device's sealed batch, travelling toward the head-end.
    case data = 3
    /// An origin device's signed command reply, travelling toward the head-end.
    case commandReply = 4
    /// The head-end's signed ack of a batch, travelling back toward the origin device.
    case headEndAck = 5
    /// A head-end command envelope, travelling toward its target device.
    case command = 6

    /// Whether the frame carries the routed section (origin, destination, sequence, TTL).
    public var isRouted: Bool { self != .beacon && self != .hopAck }

    /// Upward (toward the head-end) or downward (toward a device); nil for link-local frames.
    public var direction: MeshDirection? {
        switch self {
        case .data, .commandReply: return .upward
        case .headEndAck, .command: return .downward
        case .beacon, .hopAck: return nil
        }
    }

    public var description: String {
        switch self {
        case .beacon: return "beacon"
        case .hopAck: return "hop-ack"
        case .data: return "data"
        case .commandReply: return "command-reply"
        case .headEndAck: return "head-end-ack"
        case .command: return "command"
        }
    }
}

/// Which way a routed frame travels.
public enum MeshDirection: Hashable, Sendable {
    /// From a device toward any gateway and on to the head-end, along the distance-vector routes.
    case upward
    /// From a gateway toward one device, along the reverse paths its upward traffic took.
    case downward
}

/// The traffic class, used when the radio's duty-cycle budget is short (events first, then acks and
/// commands, then the newest interval, then the backlog). Raw values are the wire bits.
public enum MeshPriority: UInt8, Hashable, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    case event = 0
    case control = 1
    case newestInterval = 2
    case backlog = 3

    public static func < (a: MeshPriority, b: MeshPriority) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch self {
        case .event: return "event"
        case .control: return "control"
        case .newestInterval: return "newest-interval"
        case .backlog: return "backlog"
        }
    }
}

/// The routed section of a frame: where a message comes from, where it goes, which message it is
/// and how far it may still travel.
public struct MeshRouteHeader: Hashable, Sendable {
    /// Hops the frame may still travel; a node never forwards a frame whose TTL would reach zero.
    public var ttl: UInt8
    /// Hops travelled so far.
    public var hopCount: UInt8
    /// Upward: the device that made the message. Downward: `MeshNodeID.headEnd`.
    public var origin: MeshNodeID
    /// Upward: `MeshNodeID.headEnd`. Downward: the device the message is for.
    public var destination: MeshNodeID
    /// The message's number within its device: the batch sequence for data and head-end acks, the
    /// command counter for commands and their replies. With the type and the device it is the key.
    public var sequence: UInt64
    /// The origin's end-to-end attempt (0 first; the outbox's resend after an ack timeout is 1, …),
    /// so relays tell a deliberate resend from a hop-level duplicate.
    public var attempt: UInt8

    public init(ttl: UInt8, hopCount: UInt8, origin: MeshNodeID, destination: MeshNodeID, sequence: UInt64, attempt: UInt8) {
        self.ttl = ttl
        self.hopCount = hopCount
        self.origin = origin
        self.destination = destination
        self.sequence = sequence
        self.attempt = attempt
    }
}

/// The header of a mesh frame. Byte layout: Docs/mesh.md, "Frame".
public struct MeshFrameHeader: Hashable, Sendable {
    public var type: MeshFrameType
    public var priority: MeshPriority
    /// Which network key MACs the frame (a deployment rotates keys by epoch).
    public var keyEpoch: UInt8
    /// The node that transmitted this copy (the previous hop); each hop re-MACs under its own counter.
    public var sender: MeshNodeID
    /// The next hop, or `MeshNodeID.broadcast`.
    public var receiver: MeshNodeID
    /// The sender's frame counter: strictly increasing per sender, persisted before use.
    public var counter: UInt64
    /// Present exactly for routed types.
    public var route: MeshRouteHeader?

    public init(type: MeshFrameType, priority: MeshPriority, keyEpoch: UInt8 = 0, sender: MeshNodeID, receiver: MeshNodeID,
                counter: UInt64, route: MeshRouteHeader? = nil) {
        self.type = type
        self.priority = priority
        self.keyEpoch = keyEpoch
        self.sender = sender
        self.receiver = receiver
        self.counter = counter
        self.route = route
    }
}

/// A mesh frame: header, payload bytes (typed by `MeshPayload`) and, on the wire, a MAC.
public struct MeshFrame: Hashable, Sendable {
    /// Format byte of a frame (fragments use `MeshFragment.formatByte`).
    public static let formatByte: UInt8 = 0x01
    /// Largest payload a frame may declare (a sealed batch plus its device id).
    public static let maximumPayloadLength = 32_768
    /// Length of the truncated HMAC-SHA-256 at the end of every frame.
    public static let macLength = 16
    /// Largest frame on the wire: the payload limit plus the largest header and the MAC.
    public static let maximumFrameLength = maximumPayloadLength + 96

    public var header: MeshFrameHeader
    public var payload: [UInt8]

    public init(header: MeshFrameHeader, payload: [UInt8]) {
        self.header = header
        self.payload = payload
    }
}

/// The frame codec without the MAC: `authenticatedBytes` is what the MAC covers; `parse` splits a
/// received frame into header, payload and MAC after checking every length against its limit.
public enum MeshFrameCodec {
    /// Header and payload as they go on the wire, up to (not including) the MAC.
    public static func authenticatedBytes(of frame: MeshFrame) -> [UInt8] {
        let h = frame.header
        var w = ByteWriter(capacity: frame.payload.count + 64)
        w.u8(MeshFrame.formatByte)
        w.u8(h.type.rawValue)
        w.u8(h.priority.rawValue)
        w.u8(h.keyEpoch)
        w.bigEndian(h.sender.rawValue)
        w.bigEndian(h.receiver.rawValue)
        w.varint(h.counter)
        if h.type.isRouted, let r = h.route {
            w.u8(r.ttl)
            w.u8(r.hopCount)
            w.bigEndian(r.origin.rawValue)
            w.bigEndian(r.destination.rawValue)
            w.varint(r.sequence)
            w.u8(r.attempt)
        }
        w.varint(frame.payload.count)
        w.raw(frame.payload)
        return w.bytes
    }

    /// A received frame split into its parts. `authenticatedLength` bytes at the start are covered
    /// by the `mac` that follows them.
    public struct Parsed: Hashable, Sendable {
        public var frame: MeshFrame
        public var authenticatedLength: Int
        public var mac: [UInt8]
    }

    /// Parses `bytes` (one whole frame, MAC included). Checks the format byte, the type, reserved
    /// flags, the size limits before allocating, the routed section's rules and the exact length.
    public static func parse(_ bytes: [UInt8]) throws(MeshFrameError) -> Parsed {
        guard bytes.count <= MeshFrame.maximumFrameLength else {
            throw .oversized(length: bytes.count, maximum: MeshFrame.maximumFrameLength)
        }
        var r = ByteReader(bytes)
        return try MeshFrameError.decoding {
            let format = try r.u8("format byte")
            guard format == MeshFrame.formatByte else { throw MeshFrameError.unsupportedVersion(format) }
            let rawType = try r.u8("frame type")
            guard let type = MeshFrameType(rawValue: rawType) else { throw MeshFrameError.unknownType(rawType) }
            let flags = try r.u8("flags")
            guard flags & 0xFC == 0, let priority = MeshPriority(rawValue: flags & 0x03) else {
                throw MeshFrameError.reservedFlags(flags)
            }
            let epoch = try r.u8("key epoch")
            let sender = MeshNodeID(try r.bigEndian(UInt64.self, "sender"))
            let receiver = MeshNodeID(try r.bigEndian(UInt64.self, "receiver"))
            let counter = try r.varint("frame counter")
            guard sender.isNodeAddress else { throw MeshFrameError.invalidField("sender \(sender) is a reserved address") }
            guard receiver != .headEnd else { throw MeshFrameError.invalidField("receiver is the head-end address") }
            var route: MeshRouteHeader?
            if type.isRouted {
                let ttl = try r.u8("TTL")
                let hops = try r.u8("hop count")
                let origin = MeshNodeID(try r.bigEndian(UInt64.self, "origin"))
                let destination = MeshNodeID(try r.bigEndian(UInt64.self, "destination"))
                let sequence = try r.varint("sequence")
                let attempt = try r.u8("attempt")
                guard ttl > 0 else { throw MeshFrameError.invalidField("TTL 0") }
                switch type.direction {
                case .upward:
                    guard origin.isNodeAddress, destination == .headEnd else {
                        throw MeshFrameError.invalidField("upward \(type) must go from a device to the head-end")
                    }
                default:
                    guard origin == .headEnd, destination.isNodeAddress else {
                        throw MeshFrameError.invalidField("downward \(type) must go from the head-end to a device")
                    }
                }
                route = MeshRouteHeader(ttl: ttl, hopCount: hops, origin: origin, destination: destination, sequence: sequence,
                                        attempt: attempt)
            }
            let lengthOffset = r.offset
            let length = try r.count("payload length", atMost: MeshFrame.maximumPayloadLength)
            let declared = r.offset + length + MeshFrame.macLength
            guard declared == bytes.count else {
                if declared > bytes.count && r.remaining < length {
                    throw MeshFrameError.malformed(ByteFormatError("truncated: expected \(length) payload bytes and the MAC",
                                                                   at: lengthOffset))
                }
                throw MeshFrameError.lengthMismatch(declared: declared, actual: bytes.count)
            }
            let payload = try r.raw(length, "payload")
            let authenticatedLength = r.offset
            let mac = try r.raw(MeshFrame.macLength, "MAC")
            let header = MeshFrameHeader(type: type, priority: priority, keyEpoch: epoch, sender: sender, receiver: receiver,
                                         counter: counter, route: route)
            return Parsed(frame: MeshFrame(header: header, payload: payload), authenticatedLength: authenticatedLength, mac: mac)
        }
    }
}
