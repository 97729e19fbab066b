import ConcentratorCore

/// A route as a beacon announces it: the gateway it leads to (the source, Babel's router-id), the
/// seqno and metric of the route the sender uses, its hop count, and the sender's news of that
/// gateway: the newest seqno it has heard from it and how long ago that seqno was issued. A metric
/// of `infinity` retracts the route.
public struct MeshRouteAdvertisement: Hashable, Sendable {
    /// The metric of an unusable route (a retraction).
    public static let infinity: UInt16 = 0xFFFF

    public var source: MeshNodeID
    public var seqno: UInt16
    public var metric: UInt16
    public var hopCount: UInt8
    /// The newest seqno of `source` the sender has heard (on any route; ≥ `seqno` in practice).
    public var sourceSeqno: UInt16
    /// Tenths of a second since `source` issued `sourceSeqno` (saturating): the gateway's liveness.
    public var sourceAgeDeciseconds: UInt16

    public init(source: MeshNodeID, seqno: UInt16, metric: UInt16, hopCount: UInt8, sourceSeqno: UInt16? = nil,
                sourceAgeDeciseconds: UInt16 = 0) {
        self.source = source
        self.seqno = seqno
        self.metric = metric
        self.hopCount = hopCount
        self.sourceSeqno = sourceSeqno ?? seqno
        self.sourceAgeDeciseconds = sourceAgeDeciseconds
    }

    public var isRetraction: Bool { metric == Self.infinity }
}

/// The sender's clock as it stamped the beacon: its best estimate of UTC, the stratum of that
/// estimate (1: synchronised by NTP or GNSS; n+1: disciplined from a stratum-n neighbour; 16: none)
/// and its estimated error.
public struct MeshTimeAdvertisement: Hashable, Sendable {
    public static let unsynchronised: UInt8 = 16

    public var time: Timestamp
    public var stratum: UInt8
    public var errorMilliseconds: UInt16

    public init(time: Timestamp, stratum: UInt8, errorMilliseconds: UInt16) {
        self.time = time
        self.stratum = stratum
        self.errorMilliseconds = errorMilliseconds
    }
}

/// How well the beacon's sender hears one neighbour (Babel's IHU): the share of that neighbour's
/// beacons it received, 0…255 for 0…1.
public struct MeshNeighbourReport: Hashable, Sendable {
    public var neighbour: MeshNodeID
    public var receptionQuality: UInt8

    public init(neighbour: MeshNodeID, receptionQuality: UInt8) {
        self.neighbour = neighbour
        self.receptionQuality = receptionQuality
    }
}

/// The beacon every node broadcasts once per beacon interval. Byte layout: Docs/mesh.md, "Beacon".
public struct MeshBeacon: Hashable, Sendable {
    /// At most this many neighbour reports per beacon (the rest rotate through later beacons).
    public static let maximumReports = 16

    /// Increments with every beacon; receivers count the gaps to estimate link quality.
    public var helloSequence: UInt16
    /// 0 when the sender has no working uplink; otherwise how healthy its uplink is (255 = fully).
    /// A node with a working uplink announces itself as a gateway (its route's source is itself).
    public var uplinkHealth: UInt8
    /// The sender's selected route to a gateway, a retraction, or nil when it has none to announce.
    public var route: MeshRouteAdvertisement?
    public var time: MeshTimeAdvertisement
    public var reports: [MeshNeighbourReport]

    public init(helloSequence: UInt16, uplinkHealth: UInt8, route: MeshRouteAdvertisement?, time: MeshTimeAdvertisement,
                reports: [MeshNeighbourReport]) {
        self.helloSequence = helloSequence
        self.uplinkHealth = uplinkHealth
        self.route = route
        self.time = time
        self.reports = reports
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 32 + 9 * reports.count)
        w.bigEndian(helloSequence)
        w.u8(route == nil ? 0 : 1)
        w.u8(uplinkHealth)
        if let route {
            w.bigEndian(route.source.rawValue)
            w.bigEndian(route.seqno)
            w.bigEndian(route.metric)
            w.u8(route.hopCount)
            w.bigEndian(route.sourceSeqno)
            w.bigEndian(route.sourceAgeDeciseconds)
        }
        w.bigEndian(time.time.milliseconds)
        w.u8(time.stratum)
        w.bigEndian(time.errorMilliseconds)
        w.u8(UInt8(min(reports.count, Self.maximumReports)))
        for report in reports.prefix(Self.maximumReports) {
            w.bigEndian(report.neighbour.rawValue)
            w.u8(report.receptionQuality)
        }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(ByteFormatError) -> MeshBeacon {
        var r = ByteReader(bytes)
        let hello = try r.bigEndian(UInt16.self, "hello sequence")
        let flags = try r.u8("beacon flags")
        guard flags <= 1 else { throw ByteFormatError("beacon flags 0x\(Hex.encode([flags])) set reserved bits", at: 2) }
        let health = try r.u8("uplink health")
        var route: MeshRouteAdvertisement?
        if flags == 1 {
            let source = MeshNodeID(try r.bigEndian(UInt64.self, "route source"))
            guard source.isNodeAddress else { throw ByteFormatError("route source is a reserved address", at: r.offset - 8) }
            route = MeshRouteAdvertisement(source: source, seqno: try r.bigEndian(UInt16.self, "route seqno"),
                                           metric: try r.bigEndian(UInt16.self, "route metric"),
                                           hopCount: try r.u8("route hop count"),
                                           sourceSeqno: try r.bigEndian(UInt16.self, "source seqno"),
                                           sourceAgeDeciseconds: try r.bigEndian(UInt16.self, "source age"))
        }
        let time = Timestamp(milliseconds: try r.bigEndian(Int64.self, "time"))
        let stratumOffset = r.offset
        let stratum = try r.u8("stratum")
        guard (1...MeshTimeAdvertisement.unsynchronised).contains(stratum) else {
            throw ByteFormatError("stratum \(stratum) outside 1…16", at: stratumOffset)
        }
        let error = try r.bigEndian(UInt16.self, "time error")
        let countOffset = r.offset
        let count = Int(try r.u8("report count"))
        guard count <= maximumReports else { throw ByteFormatError("\(count) neighbour reports exceed \(maximumReports)", at: countOffset) }
        var reports: [MeshNeighbourReport] = []
        reports.reserveCapacity(count)
        for _ in 0..<count {
            reports.append(MeshNeighbourReport(neighbour: MeshNodeID(try r.bigEndian(UInt64.self, "reported neighbour")),
                                               receptionQuality: try r.u8("reception quality")))
        }
        guard r.isAtEnd else { throw r.error("\(r.remaining) bytes after the beacon") }
        return MeshBeacon(helloSequence: hello, uplinkHealth: health, route: route,
                          time: MeshTimeAdvertisement(time: time, stratum: stratum, errorMilliseconds: error), reports: reports)
    }
}

/// The payload of every routed frame: the device the message belongs to and the message itself,
/// opaque to the mesh (a sealed batch, a signed reply, a signed ack, a signed command envelope).
/// Byte layout: device id (varint length, UTF-8, ≤ 64 bytes) ‖ body (the rest, ≥ 1 byte).
public struct MeshRoutedPayload: Hashable, Sendable {
    public static let maximumDeviceIDLength = 64

    /// The origin device (upward) or the target device (downward); its `MeshNodeID` must match the
    /// frame's origin or destination.
    public var deviceID: String
    public var body: [UInt8]

    public init(deviceID: String, body: [UInt8]) {
        self.deviceID = deviceID
        self.body = body
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: body.count + deviceID.utf8.count + 2)
        w.string(deviceID)
        w.raw(body)
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(ByteFormatError) -> MeshRoutedPayload {
        var r = ByteReader(bytes)
        let id = try r.string("device id", maximumBytes: maximumDeviceIDLength)
        guard !id.isEmpty else { throw ByteFormatError("empty device id", at: 0) }
        guard !r.isAtEnd else { throw r.error("truncated: expected a message body") }
        return MeshRoutedPayload(deviceID: id, body: r.rest())
    }
}

/// What a node did with a routed frame it received: the hop-ack's verdict.
public enum MeshHopAckStatus: UInt8, Hashable, Sendable, CaseIterable {
    /// Stored (durably, with a persistent relay queue): the sender may drop its copy.
    case accepted = 0
    /// Already held or forwarded: the sender may drop its copy.
    case duplicate = 1
    /// The relay queue is full (or this origin's share of it): keep it, try later or elsewhere.
    case busy = 2
    /// Will not be carried (TTL exhausted, a loop, no such destination): drop it; the origin's
    /// outbox resends end to end.
    case refused = 3

    /// Whether the sender may delete its copy.
    public var releasesSender: Bool { self != .busy }
}

/// One acknowledged message: which one (type, device address, sequence, attempt) and the verdict.
public struct MeshHopAckEntry: Hashable, Sendable {
    public var key: MeshMessageKey
    public var attempt: UInt8
    public var status: MeshHopAckStatus

    public init(key: MeshMessageKey, attempt: UInt8, status: MeshHopAckStatus) {
        self.key = key
        self.attempt = attempt
        self.status = status
    }
}

/// Hop-by-hop acknowledgements to one neighbour, batched. Byte layout: count (u8, 1…32), then per
/// entry: type (u8), device address (u64), sequence (varint), attempt (u8), status (u8).
public struct MeshHopAck: Hashable, Sendable {
    public static let maximumEntries = 32

    public var entries: [MeshHopAckEntry]

    public init(entries: [MeshHopAckEntry]) { self.entries = entries }

    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 1 + 20 * entries.count)
        w.u8(UInt8(min(entries.count, Self.maximumEntries)))
        for entry in entries.prefix(Self.maximumEntries) {
            w.u8(entry.key.type.rawValue)
            w.bigEndian(entry.key.subject.rawValue)
            w.varint(entry.key.sequence)
            w.u8(entry.attempt)
            w.u8(entry.status.rawValue)
        }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(ByteFormatError) -> MeshHopAck {
        var r = ByteReader(bytes)
        let count = Int(try r.u8("hop-ack count"))
        guard (1...maximumEntries).contains(count) else { throw ByteFormatError("hop-ack count \(count) outside 1…\(maximumEntries)", at: 0) }
        var entries: [MeshHopAckEntry] = []
        entries.reserveCapacity(count)
        for _ in 0..<count {
            let typeOffset = r.offset
            let rawType = try r.u8("acknowledged type")
            guard let type = MeshFrameType(rawValue: rawType), type.isRouted else {
                throw ByteFormatError("acknowledged type \(rawType) is not a routed type", at: typeOffset)
            }
            let subject = MeshNodeID(try r.bigEndian(UInt64.self, "acknowledged device"))
            let sequence = try r.varint("acknowledged sequence")
            let attempt = try r.u8("acknowledged attempt")
            let statusOffset = r.offset
            let rawStatus = try r.u8("hop-ack status")
            guard let status = MeshHopAckStatus(rawValue: rawStatus) else {
                throw ByteFormatError("hop-ack status \(rawStatus) unknown", at: statusOffset)
            }
            entries.append(MeshHopAckEntry(key: MeshMessageKey(type: type, subject: subject, sequence: sequence), attempt: attempt,
                                           status: status))
        }
        guard r.isAtEnd else { throw r.error("\(r.remaining) bytes after the hop-ack") }
        return MeshHopAck(entries: entries)
    }
}

/// The identity of a routed message in every relay: its type, the device it belongs to (origin when
/// upward, destination when downward) and its sequence. Relays dedup and acknowledge by this key;
/// for data it is exactly the head-end's (device, batch sequence).
public struct MeshMessageKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var type: MeshFrameType
    public var subject: MeshNodeID
    public var sequence: UInt64

    public init(type: MeshFrameType, subject: MeshNodeID, sequence: UInt64) {
        self.type = type
        self.subject = subject
        self.sequence = sequence
    }

    /// The key of a routed frame.
    public init?(_ header: MeshFrameHeader) {
        guard let route = header.route, let direction = header.type.direction else { return nil }
        self.init(type: header.type, subject: direction == .upward ? route.origin : route.destination, sequence: route.sequence)
    }

    public static func < (a: MeshMessageKey, b: MeshMessageKey) -> Bool {
        (a.subject, a.sequence, a.type.rawValue) < (b.subject, b.sequence, b.type.rawValue)
    }

    public var description: String { "\(type) \(subject)#\(sequence)" }
}
