import ConcentratorCore

/// A neighbour as seen on one link (a node reachable on two links is two neighbours).
public struct MeshNeighbourKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var node: MeshNodeID
    public var link: Int

    public init(node: MeshNodeID, link: Int) {
        self.node = node
        self.link = link
    }

    public static func < (a: MeshNeighbourKey, b: MeshNeighbourKey) -> Bool { (a.node, a.link) < (b.node, b.link) }
    public var description: String { "\(node)@\(link)" }
}

/// What a node knows of one neighbour: where it is on the link, which of its beacons arrived (the
/// last 16 hello counters), how well it says it hears us, and when it was last heard.
public struct MeshNeighbour: Hashable, Sendable {
    public var key: MeshNeighbourKey
    public var address: MeshLinkAddress
    public var lastHello: UInt16
    /// Bit 0: the last hello; bit i: the hello i before it.
    public var history: UInt16
    /// Hello slots observed so far (received or found missing), up to 16.
    public var slots: Int
    public var lastHelloAt: Timestamp
    public var lastHeardAt: Timestamp
    /// The neighbour's last report of how well it receives us (0…255), and when it came.
    public var reportedQuality: UInt8?
    public var reportedAt: Timestamp?
    /// The uplink health the neighbour announced last (0: it is no gateway).
    public var uplinkHealth: UInt8
}

/// The neighbour table and its link-quality estimate: reception ratio from beacon hello counters
/// (with hellos overdue by more than half an interval counted missing), the neighbour's reports of
/// how well it hears us (Babel's IHU), and from both the expected transmission count
/// ETX = 1 / (rx · tx) as a link cost of 256 · ETX. Neighbours silent for 3.5 beacon intervals are
/// forgotten. Pure: instants are passed in.
public struct MeshNeighbourTable: Sendable {
    public static let unusableCost: UInt16 = 0xFFFF
    /// Links received less often than this (either way) are not used for routes.
    public static let minimumRatio = 0.1

    public let beaconIntervalMilliseconds: Int64
    public private(set) var neighbours: [MeshNeighbourKey: MeshNeighbour] = [:]
    private var reportRotation = 0

    public init(beaconIntervalMilliseconds: Int64) { self.beaconIntervalMilliseconds = beaconIntervalMilliseconds }

    public subscript(key: MeshNeighbourKey) -> MeshNeighbour? { neighbours[key] }

    /// A beacon arrived from `key` at `address`.
    public mutating func heardBeacon(from key: MeshNeighbourKey, address: MeshLinkAddress, beacon: MeshBeacon, me: MeshNodeID,
                                     at now: Timestamp) {
        let reportOfUs = beacon.reports.first { $0.neighbour == me }?.receptionQuality
        guard var n = neighbours[key] else {
            neighbours[key] = MeshNeighbour(key: key, address: address, lastHello: beacon.helloSequence, history: 1, slots: 1,
                                            lastHelloAt: now, lastHeardAt: now, reportedQuality: reportOfUs,
                                            reportedAt: reportOfUs == nil ? nil : now, uplinkHealth: beacon.uplinkHealth)
            return
        }
        let gap = Int(beacon.helloSequence &- n.lastHello)
        if gap == 0 {
            // A repeated hello (a retransmitted beacon): liveness only.
        } else if gap <= 16 {
            n.history = gap == 16 ? 1 : (n.history << UInt16(gap)) | 1
            n.slots = min(16, n.slots + gap)
        } else {
            // A restart (counter jumped or went back): start over.
            n.history = 1
            n.slots = 1
        }
        n.lastHello = beacon.helloSequence
        n.lastHelloAt = now
        n.lastHeardAt = now
        n.address = address
        n.uplinkHealth = beacon.uplinkHealth
        if let reportOfUs {
            n.reportedQuality = reportOfUs
            n.reportedAt = now
        }
        neighbours[key] = n
    }

    /// Any other authentic frame from a known neighbour: it is alive (the quality is left alone).
    public mutating func heardFrame(from key: MeshNeighbourKey, address: MeshLinkAddress, at now: Timestamp) {
        guard var n = neighbours[key] else { return }
        n.lastHeardAt = now
        n.address = address
        neighbours[key] = n
    }

    /// Forgets neighbours silent for 3.5 beacon intervals; returns them.
    public mutating func expire(at now: Timestamp) -> [MeshNeighbourKey] {
        let limit = beaconIntervalMilliseconds * 7 / 2
        let gone = neighbours.values.filter { now.milliseconds - $0.lastHeardAt.milliseconds > limit }.map(\.key)
        for key in gone { neighbours[key] = nil }
        return gone.sorted()
    }

    /// When the next neighbour would expire.
    public var nextExpiry: Timestamp? {
        neighbours.values.map(\.lastHeardAt).min().map { $0.adding(milliseconds: beaconIntervalMilliseconds * 7 / 2 + 1) }
    }

    /// The share of `key`'s beacons we receive, counting overdue hellos as missing.
    public func receptionRatio(_ key: MeshNeighbourKey, at now: Timestamp) -> Double {
        guard let n = neighbours[key] else { return 0 }
        let overdue = max(0, (now.milliseconds - n.lastHelloAt.milliseconds - beaconIntervalMilliseconds / 2) / beaconIntervalMilliseconds)
        let missing = Int(min(overdue, 16))
        let history = missing >= 16 ? 0 : n.history << UInt16(missing)
        let slots = max(3, min(16, n.slots + missing))
        let mask: UInt16 = slots >= 16 ? 0xFFFF : (1 << UInt16(slots)) - 1
        return Double((history & mask).nonzeroBitCount) / Double(slots)
    }

    /// The link cost to `key`: 256 · ETX, or `unusableCost`.
    public func cost(_ key: MeshNeighbourKey, at now: Timestamp) -> UInt16 {
        guard let n = neighbours[key] else { return Self.unusableCost }
        let rx = receptionRatio(key, at: now)
        var tx = rx
        if let q = n.reportedQuality, let at = n.reportedAt, now.milliseconds - at.milliseconds <= 3 * beaconIntervalMilliseconds {
            tx = Double(q) / 255
        }
        guard rx >= Self.minimumRatio, tx >= Self.minimumRatio else { return Self.unusableCost }
        return UInt16(min(Double(Self.unusableCost - 1), (256 / (rx * tx)).rounded()))
    }

    /// Up to `maximum` reports for the next beacon, rotating through the neighbours so each is
    /// reported regularly even when there are more than fit.
    public mutating func reports(maximum: Int, at now: Timestamp) -> [MeshNeighbourReport] {
        let keys = neighbours.keys.sorted()
        guard !keys.isEmpty else { return [] }
        let count = min(maximum, keys.count)
        var out: [MeshNeighbourReport] = []
        out.reserveCapacity(count)
        for i in 0..<count {
            let key = keys[(reportRotation + i) % keys.count]
            let quality = UInt8(min(255, (receptionRatio(key, at: now) * 255).rounded()))
            out.append(MeshNeighbourReport(neighbour: key.node, receptionQuality: quality))
        }
        reportRotation = (reportRotation + count) % max(1, keys.count)
        return out
    }

    /// The neighbour with this node id on any link (the most recently heard).
    public func anyLink(for node: MeshNodeID) -> MeshNeighbour? {
        neighbours.values.filter { $0.key.node == node }.max { $0.lastHeardAt < $1.lastHeardAt }
    }
}
