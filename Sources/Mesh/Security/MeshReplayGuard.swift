/// The replay check of authentic frames: per sender, the newest counter accepted and a 64-counter
/// window below it (as IPsec's anti-replay window, RFC 4303 §3.4.3), so frames reordered by the
/// link are still accepted once each. Bounded: at most `capacity` senders, the least recently heard
/// forgotten first (only frames that passed the MAC create entries, so only key holders fill it).
///
/// After a reboot the windows are empty (phase 2 may persist `snapshot()`); frame counters are
/// persisted by each sender before use, so a sender's counters never repeat.
public struct MeshReplayGuard: Sendable {
    public static let windowSize: UInt64 = 64

    struct Window: Sendable {
        var newest: UInt64
        /// Bit i set: counter newest − i was accepted.
        var seen: UInt64
        var lastUse: UInt64
    }

    public let capacity: Int
    private var windows: [MeshNodeID: Window] = [:]
    private var useClock: UInt64 = 0

    public init(capacity: Int = 1024) { self.capacity = max(1, capacity) }

    public var senderCount: Int { windows.count }

    /// Accepts `counter` from `sender` once, or throws `.replayed` / `.outsideReplayWindow`.
    public mutating func admit(sender: MeshNodeID, counter: UInt64) throws(MeshFrameError) {
        useClock += 1
        guard var w = windows[sender] else {
            if windows.count >= capacity, let oldest = windows.min(by: { $0.value.lastUse < $1.value.lastUse })?.key {
                windows[oldest] = nil
            }
            windows[sender] = Window(newest: counter, seen: 1, lastUse: useClock)
            return
        }
        w.lastUse = useClock
        if counter > w.newest {
            let shift = counter - w.newest
            w.seen = shift >= Self.windowSize ? 1 : (w.seen << shift) | 1
            w.newest = counter
        } else {
            let age = w.newest - counter
            guard age < Self.windowSize else {
                windows[sender] = w
                throw .outsideReplayWindow(sender: sender, counter: counter, newest: w.newest)
            }
            let bit: UInt64 = 1 << age
            guard w.seen & bit == 0 else {
                windows[sender] = w
                throw .replayed(sender: sender, counter: counter)
            }
            w.seen |= bit
        }
        windows[sender] = w
    }

    /// The newest accepted counter per sender (what a persistent replay state would store).
    public func snapshot() -> [MeshNodeID: UInt64] { windows.mapValues(\.newest) }

    /// Restores persisted newest counters: everything at or below them counts as seen.
    public mutating func restore(_ newest: [MeshNodeID: UInt64]) {
        for (sender, counter) in newest { windows[sender] = Window(newest: counter, seen: .max, lastUse: 0) }
    }
}

/// Where a node's frame counter reservation is kept. `persistReservation` must return only once the
/// new limit is durable (fsync, SQLite commit): a counter is used only after the limit covering it
/// is stored, so a reboot never reuses one.
public protocol MeshCounterStore: AnyObject {
    /// The highest counter ever reserved; 0 when none was.
    func loadReservation() throws -> UInt64
    /// Durably records that counters up to `limit` may be used.
    func persistReservation(_ limit: UInt64) throws
}

/// A node's outgoing frame counter, handed out in blocks: when the reserved block is used up, the
/// caller must persist the next limit before the counter is used. After a reboot the counter starts
/// above the last persisted limit (skipping what was reserved and unused).
public struct MeshFrameCounter: Hashable, Sendable {
    /// The outcome of `take()`.
    public enum Draw: Hashable, Sendable {
        /// Use this counter.
        case ready(UInt64)
        /// Persist this limit first, then call `reserved(through:)` and `take()` again.
        case reserve(through: UInt64)
    }

    public private(set) var next: UInt64
    public private(set) var reservedThrough: UInt64
    public let blockSize: UInt64

    /// A counter after a (re)start: `persisted` is what the store returned.
    public init(persisted: UInt64, blockSize: UInt64 = 1024) {
        next = persisted &+ 1
        reservedThrough = persisted
        self.blockSize = max(1, blockSize)
    }

    public mutating func take() -> Draw {
        guard next <= reservedThrough, next != 0 else {
            let (limit, overflow) = next.addingReportingOverflow(blockSize - 1)
            return .reserve(through: overflow ? .max : limit)
        }
        defer { next += 1 }
        return .ready(next)
    }

    /// The store has made `limit` durable.
    public mutating func reserved(through limit: UInt64) { reservedThrough = max(reservedThrough, limit) }
}

/// An in-memory counter store, for the simulator and tests (nothing survives the process).
public final class InMemoryCounterStore: MeshCounterStore, @unchecked Sendable {
    public private(set) var limit: UInt64
    public private(set) var persistCount = 0

    public init(limit: UInt64 = 0) { self.limit = limit }

    public func loadReservation() throws -> UInt64 { limit }
    public func persistReservation(_ limit: UInt64) throws {
        self.limit = limit
        persistCount += 1
    }
}
