import ConcentratorCore

/// A routed message a node holds until the next hop (or, on a gateway, the broker) has it.
public struct RelayQueueEntry: Hashable, Sendable {
    public var key: MeshMessageKey
    /// The routed header as received (TTL and hop count already account for this hop).
    public var route: MeshRouteHeader
    public var priority: MeshPriority
    /// The routed payload (device id and opaque body), exactly as received.
    public var payload: [UInt8]
    /// The neighbour it came from (nil for the node's own messages and for what the head-end sent).
    public var receivedFrom: MeshNodeID?
    public var receivedAt: Timestamp
    /// Transmissions so far (for the backoff) and when the next one may go.
    public var transmissions: UInt32
    public var nextAttemptAt: Timestamp
    /// The neighbour the last transmission went to.
    public var lastNextHop: MeshNodeID?

    public init(key: MeshMessageKey, route: MeshRouteHeader, priority: MeshPriority, payload: [UInt8], receivedFrom: MeshNodeID?,
                receivedAt: Timestamp, transmissions: UInt32 = 0, nextAttemptAt: Timestamp, lastNextHop: MeshNodeID? = nil) {
        self.key = key
        self.route = route
        self.priority = priority
        self.payload = payload
        self.receivedFrom = receivedFrom
        self.receivedAt = receivedAt
        self.transmissions = transmissions
        self.nextAttemptAt = nextAttemptAt
        self.lastNextHop = lastNextHop
    }
}

/// What `insert` did.
public enum RelayInsertOutcome: Hashable, Sendable {
    /// Stored (durably, for a persistent store): the node may hop-ack it.
    case inserted
    /// The same message was already held; a newer end-to-end attempt replaced the held attempt.
    case alreadyHeld
}

/// Why a relay queue store failed. A failed insert is never hop-acked, so nothing is lost: the
/// previous hop keeps its copy.
public struct RelayQueueStoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Where a node keeps the messages it relays. The operations map one to one onto rows of a table
/// keyed by (type, subject, sequence) plus a small per-subject turn table (Docs/mesh.md,
/// "Integration"): the in-memory store serves the simulator and tests, the SQLite store of phase 2
/// makes `insert` durable before it returns, so what a relay hop-acked survives its reboot.
///
/// Fairness: `ready` orders by priority class, then by the subject's turn (the subject served least
/// recently first, round robin), then by sequence, so a chatty origin cannot starve the others.
public protocol RelayQueueStore: AnyObject {
    /// Stores `entry` (or refreshes the held copy's attempt). Returns only when durable.
    func insert(_ entry: RelayQueueEntry) throws(RelayQueueStoreError) -> RelayInsertOutcome
    /// Up to `limit` entries whose next attempt is due at `now`, in fairness order.
    func ready(at now: Timestamp, limit: Int) -> [RelayQueueEntry]
    /// Records a transmission of `key` to `nextHop` and when it may go again; the subject's turn moves on.
    func recordTransmission(_ key: MeshMessageKey, to nextHop: MeshNodeID, nextAttemptAt: Timestamp) throws(RelayQueueStoreError)
    /// Defers `key` without a transmission (no route yet, duty-cycle budget short).
    func postpone(_ key: MeshMessageKey, until: Timestamp) throws(RelayQueueStoreError)
    /// Deletes `key` (acknowledged, refused or expired). Returns whether it was held.
    @discardableResult
    func remove(_ key: MeshMessageKey) throws(RelayQueueStoreError) -> Bool
    func entry(_ key: MeshMessageKey) -> RelayQueueEntry?
    /// Entries held in total and for one subject; distinct subjects.
    var count: Int { get }
    func count(subject: MeshNodeID) -> Int
    var subjectCount: Int { get }
    /// Bytes of payload held.
    var payloadBytes: Int { get }
    /// The earliest `nextAttemptAt` of any entry.
    var earliestAttempt: Timestamp? { get }
    /// Every held entry (status, the console, tests).
    func all() -> [RelayQueueEntry]
}

/// The relay queue in memory (the simulator, tests, and nodes configured without persistence).
public final class InMemoryRelayQueueStore: RelayQueueStore, @unchecked Sendable {
    private var entries: [MeshMessageKey: RelayQueueEntry] = [:]
    private var bySubject: [MeshNodeID: Int] = [:]
    private var turns: [MeshNodeID: UInt64] = [:]
    private var turnClock: UInt64 = 0
    public private(set) var payloadBytes = 0

    public init() {}

    public func insert(_ entry: RelayQueueEntry) throws(RelayQueueStoreError) -> RelayInsertOutcome {
        if var held = entries[entry.key] {
            if entry.route.attempt > held.route.attempt {
                payloadBytes += entry.payload.count - held.payload.count
                held.route = entry.route
                held.payload = entry.payload
                held.nextAttemptAt = min(held.nextAttemptAt, entry.nextAttemptAt)
                entries[entry.key] = held
            }
            return .alreadyHeld
        }
        entries[entry.key] = entry
        bySubject[entry.key.subject, default: 0] += 1
        payloadBytes += entry.payload.count
        return .inserted
    }

    public func ready(at now: Timestamp, limit: Int) -> [RelayQueueEntry] {
        let due = entries.values.filter { $0.nextAttemptAt <= now }
        let ordered = due.sorted {
            ($0.priority.rawValue, turns[$0.key.subject] ?? 0, $0.key) < ($1.priority.rawValue, turns[$1.key.subject] ?? 0, $1.key)
        }
        return Array(ordered.prefix(limit))
    }

    public func recordTransmission(_ key: MeshMessageKey, to nextHop: MeshNodeID, nextAttemptAt: Timestamp) throws(RelayQueueStoreError) {
        guard var held = entries[key] else { return }
        held.transmissions += 1
        held.lastNextHop = nextHop
        held.nextAttemptAt = nextAttemptAt
        entries[key] = held
        turnClock += 1
        turns[key.subject] = turnClock
    }

    public func postpone(_ key: MeshMessageKey, until: Timestamp) throws(RelayQueueStoreError) {
        entries[key]?.nextAttemptAt = until
    }

    @discardableResult
    public func remove(_ key: MeshMessageKey) throws(RelayQueueStoreError) -> Bool {
        guard let held = entries.removeValue(forKey: key) else { return false }
        payloadBytes -= held.payload.count
        let left = (bySubject[key.subject] ?? 1) - 1
        bySubject[key.subject] = left > 0 ? left : nil
        if left <= 0 { turns[key.subject] = nil }
        return true
    }

    public func entry(_ key: MeshMessageKey) -> RelayQueueEntry? { entries[key] }
    public var count: Int { entries.count }
    public func count(subject: MeshNodeID) -> Int { bySubject[subject] ?? 0 }
    public var subjectCount: Int { bySubject.count }
    public var earliestAttempt: Timestamp? { entries.values.map(\.nextAttemptAt).min() }
    public func all() -> [RelayQueueEntry] { entries.values.sorted { $0.key < $1.key } }
}
