import ConcentratorCore

/// Which messages a node has recently taken in or passed on, by key and end-to-end attempt: a
/// retransmission of the same attempt (its hop-ack was lost) is acknowledged again but not carried
/// twice; a newer attempt (the origin's outbox resent after an ack timeout) is carried. Bounded:
/// the oldest keys are forgotten first. (The head-end dedups by (device, sequence) in any case.)
public struct MeshDuplicateFilter: Sendable {
    public let capacity: Int
    private var attempts: [MeshMessageKey: UInt8] = [:]
    private var order: [MeshMessageKey] = []
    private var head = 0

    public init(capacity: Int = 4096) { self.capacity = max(16, capacity) }

    /// Whether `key` at `attempt` (or a newer attempt) was already taken in.
    public func hasSeen(_ key: MeshMessageKey, attempt: UInt8) -> Bool {
        guard let seen = attempts[key] else { return false }
        return attempt <= seen
    }

    public mutating func remember(_ key: MeshMessageKey, attempt: UInt8) {
        if let seen = attempts[key] {
            attempts[key] = max(seen, attempt)
            return
        }
        attempts[key] = attempt
        order.append(key)
        while attempts.count > capacity, head < order.count {
            attempts[order[head]] = nil
            head += 1
        }
        if head > capacity {
            order.removeFirst(head)
            head = 0
        }
    }

    public var count: Int { attempts.count }
}

/// Reverse paths for downward traffic: for each device, the neighbour its newest data frame came
/// from. Only a strictly newer batch sequence moves the entry, and for one batch the first neighbour
/// heard wins, so the pointers follow the path of one real batch and cannot form a loop: around a
/// cycle every node would have heard that batch first from the next one, each strictly before the
/// other. The newest sequence is kept when its neighbour goes away (the pointer is cleared, not the
/// memory), because learning an older batch afresh could point back into a newer path. Bounded:
/// entries without a neighbour, then the least recently learnt, are forgotten first. A reboot or an
/// eviction forgets sequences; downward frames' TTL bounds what a loop could then cost.
public struct MeshReversePaths: Sendable {
    /// Where downward traffic for one device goes, and the newest batch sequence that said so.
    public struct Entry: Hashable, Sendable {
        public var neighbour: MeshNeighbourKey?
        public var sequence: UInt64
        public var learntAt: Timestamp
    }

    public let capacity: Int
    public private(set) var entries: [MeshNodeID: Entry] = [:]

    public init(capacity: Int = 4096) { self.capacity = max(1, capacity) }

    public mutating func learn(device: MeshNodeID, via neighbour: MeshNeighbourKey, sequence: UInt64, at now: Timestamp) {
        if let old = entries[device], sequence <= old.sequence { return }
        if entries[device] == nil, entries.count >= capacity,
           let victim = entries.min(by: { ($0.value.neighbour == nil ? 0 : 1, $0.value.learntAt, $0.key) < ($1.value.neighbour == nil ? 0 : 1, $1.value.learntAt, $1.key) })?.key {
            entries[victim] = nil
        }
        entries[device] = Entry(neighbour: neighbour, sequence: sequence, learntAt: now)
    }

    public func nextHop(toward device: MeshNodeID) -> MeshNeighbourKey? { entries[device]?.neighbour }

    /// Clears the paths through a neighbour that is gone (keeping their sequences).
    public mutating func forget(_ neighbour: MeshNeighbourKey) {
        for (device, entry) in entries where entry.neighbour == neighbour { entries[device]?.neighbour = nil }
    }
}
