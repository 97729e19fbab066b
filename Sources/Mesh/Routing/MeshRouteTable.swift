import ConcentratorCore

/// Babel's sequence-number arithmetic (RFC 8966 §3.2.1): 16-bit, compared modulo 2¹⁶.
public enum MeshSeqno {
    /// Whether `a` is newer than `b`.
    public static func isNewer(_ a: UInt16, than b: UInt16) -> Bool {
        let d = a &- b
        return d != 0 && d < 0x8000
    }
}

/// A route a neighbour announced, as held in the table.
public struct MeshRouteEntry: Hashable, Sendable {
    public var neighbour: MeshNeighbourKey
    public var advertisement: MeshRouteAdvertisement
    /// When the neighbour last announced it.
    public var heardAt: Timestamp
}

/// The route a node uses toward the head-end.
public struct MeshSelectedRoute: Hashable, Sendable {
    public var neighbour: MeshNeighbourKey
    /// The gateway it leads to.
    public var source: MeshNodeID
    public var seqno: UInt16
    /// The neighbour's announced metric plus our link cost to it.
    public var metric: UInt16
    /// Hops to the gateway (1: the neighbour is the gateway).
    public var hopCount: UInt8
}

/// What a node knows of a gateway's life: the newest seqno it issued and when (local time).
public struct MeshSourceLiveness: Hashable, Sendable {
    public var seqno: UInt16
    public var issuedAt: Timestamp
}

/// The distance-vector route table with Babel's loop avoidance (RFC 8966 §3.5). There is one
/// destination, the head-end, reachable through any gateway. The gateways share one sequence-number
/// space (each raises its seqno every beacon interval to one above the highest it has heard, a
/// Lamport clock), so a node keeps one feasibility distance — the best (seqno, metric) it has
/// announced, whichever gateway it led to — and only ever selects a route whose announced (seqno,
/// metric) is feasible: a newer seqno, or the same seqno and a strictly smaller metric. Along any
/// chain of selected routes the feasibility distances then strictly decrease, so no loop forms, not
/// even transiently, also when nodes switch between gateways (per-gateway distances, as Babel keeps
/// per router-id, allowed a transient loop between two gateways' routes in the simulator).
///
/// Liveness is separate from the route: every announcement also carries the newest seqno of its
/// gateway the sender heard and that seqno's age, so each node knows when each gateway last spoke
/// (`liveness`). Routes to a gateway not heard of for `holdMilliseconds` are dropped everywhere at
/// about the same moment; routes a neighbour stopped announcing go after `entryHoldMilliseconds`;
/// retractions drop a route at once. Pure: instants and link costs are passed in.
public struct MeshRouteTable: Sendable {
    struct FeasibilityDistance: Hashable, Sendable {
        var seqno: UInt16
        var metric: UInt16
        var updatedAt: Timestamp
    }

    public let holdMilliseconds: Int64
    public let entryHoldMilliseconds: Int64
    /// The feasibility distance and gateway liveness are forgotten this long after their last use.
    public let sourceMemoryMilliseconds: Int64
    /// A new route replaces the selected one only when it is better by this much (stability).
    public let switchMargin: UInt16
    public private(set) var entries: [MeshNeighbourKey: MeshRouteEntry] = [:]
    public private(set) var liveness: [MeshNodeID: MeshSourceLiveness] = [:]
    private var feasibility: FeasibilityDistance?
    public private(set) var selected: MeshSelectedRoute?
    /// The newest seqno heard in any announcement (a gateway continues from above it).
    public private(set) var newestSeqno: UInt16?

    public init(holdMilliseconds: Int64, entryHoldMilliseconds: Int64? = nil, sourceMemoryMilliseconds: Int64, switchMargin: UInt16 = 64) {
        self.holdMilliseconds = holdMilliseconds
        self.entryHoldMilliseconds = entryHoldMilliseconds ?? holdMilliseconds
        self.sourceMemoryMilliseconds = sourceMemoryMilliseconds
        self.switchMargin = switchMargin
    }

    /// Babel's feasibility condition for an announcement (s, m), whichever gateway it leads to.
    public func isFeasible(seqno: UInt16, metric: UInt16) -> Bool {
        if metric == MeshRouteAdvertisement.infinity { return true }
        guard let fd = feasibility else { return true }
        return MeshSeqno.isNewer(seqno, than: fd.seqno) || (seqno == fd.seqno && metric < fd.metric)
    }

    /// Whether `source` issued a seqno within the hold time.
    public func isAlive(_ source: MeshNodeID, at now: Timestamp) -> Bool {
        guard let l = liveness[source] else { return false }
        return now.milliseconds - l.issuedAt.milliseconds <= holdMilliseconds
    }

    /// Records news of a gateway: seqno `seqno` issued `ageMilliseconds` before `now`. Returns
    /// whether it is newer than what was known (a new wave).
    @discardableResult
    public mutating func heardOf(_ source: MeshNodeID, seqno: UInt16, ageMilliseconds: Int64, at now: Timestamp) -> Bool {
        noteSeqno(seqno)
        let issued = now.adding(milliseconds: -max(0, ageMilliseconds))
        guard let known = liveness[source] else {
            liveness[source] = MeshSourceLiveness(seqno: seqno, issuedAt: issued)
            return true
        }
        guard MeshSeqno.isNewer(seqno, than: known.seqno) else { return false }
        liveness[source] = MeshSourceLiveness(seqno: seqno, issuedAt: max(issued, known.issuedAt))
        return true
    }

    private mutating func noteSeqno(_ seqno: UInt16) {
        if newestSeqno.map({ MeshSeqno.isNewer(seqno, than: $0) }) ?? true { newestSeqno = seqno }
    }

    /// A neighbour's beacon: its route, a retraction, or none (which also drops what it announced).
    /// Returns whether it brought news of a gateway (a newer seqno).
    @discardableResult
    public mutating func heard(_ advertisement: MeshRouteAdvertisement?, from neighbour: MeshNeighbourKey, at now: Timestamp) -> Bool {
        guard let advertisement else {
            entries[neighbour] = nil
            return false
        }
        noteSeqno(advertisement.seqno)
        guard !advertisement.isRetraction else {
            entries[neighbour] = nil
            return false
        }
        let news = heardOf(advertisement.source, seqno: advertisement.sourceSeqno,
                           ageMilliseconds: Int64(advertisement.sourceAgeDeciseconds) * 100, at: now)
        entries[neighbour] = MeshRouteEntry(neighbour: neighbour, advertisement: advertisement, heardAt: now)
        return news
    }

    /// Drops everything learnt from a neighbour that is gone.
    public mutating func forget(_ neighbour: MeshNeighbourKey) { entries[neighbour] = nil }

    func isUsable(_ entry: MeshRouteEntry, at now: Timestamp) -> Bool {
        isAlive(entry.advertisement.source, at: now) && now.milliseconds - entry.heardAt.milliseconds <= entryHoldMilliseconds
    }

    /// Drops routes to gateways gone quiet and routes no longer announced; forgets old liveness and
    /// an unused feasibility distance.
    public mutating func expire(at now: Timestamp) {
        for (key, entry) in entries where !isUsable(entry, at: now) { entries[key] = nil }
        for (source, l) in liveness where now.milliseconds - l.issuedAt.milliseconds > sourceMemoryMilliseconds { liveness[source] = nil }
        if let fd = feasibility, now.milliseconds - fd.updatedAt.milliseconds > sourceMemoryMilliseconds { feasibility = nil }
    }

    /// When the next route would expire.
    public var nextExpiry: Timestamp? {
        entries.values.compactMap { entry -> Timestamp? in
            let heard = entry.heardAt.adding(milliseconds: entryHoldMilliseconds + 1)
            guard let l = liveness[entry.advertisement.source] else { return heard }
            return min(heard, l.issuedAt.adding(milliseconds: holdMilliseconds + 1))
        }.min()
    }

    /// Chooses the best feasible route to a live gateway given the current link costs; returns
    /// whether the selection changed (neighbour, source or seqno).
    @discardableResult
    public mutating func select(cost: (MeshNeighbourKey) -> UInt16, excluding excludedSources: Set<MeshNodeID> = [], at now: Timestamp) -> Bool {
        var best: MeshSelectedRoute?
        var current: MeshSelectedRoute?
        for entry in entries.values {
            let ad = entry.advertisement
            guard !excludedSources.contains(ad.source), isUsable(entry, at: now), isFeasible(seqno: ad.seqno, metric: ad.metric) else { continue }
            let linkCost = cost(entry.neighbour)
            guard linkCost != MeshNeighbourTable.unusableCost else { continue }
            let total = UInt32(ad.metric) + UInt32(linkCost)
            guard total < UInt32(MeshRouteAdvertisement.infinity), ad.hopCount < 250 else { continue }
            let candidate = MeshSelectedRoute(neighbour: entry.neighbour, source: ad.source, seqno: ad.seqno, metric: UInt16(total),
                                              hopCount: ad.hopCount + 1)
            if let s = selected, s.neighbour == entry.neighbour, s.source == ad.source { current = candidate }
            // A total order (ties broken by the neighbour), so the outcome never depends on table order.
            if best == nil || (candidate.metric, candidate.hopCount, candidate.neighbour) < (best!.metric, best!.hopCount, best!.neighbour) {
                best = candidate
            }
        }
        var choice = best
        // Hysteresis: stay unless the best is better by the margin or an eighth, whichever is more
        // (link-quality estimates wobble with loss; every switch risks a duplicate on the way).
        if let current, let b = best, UInt32(b.metric) + max(UInt32(switchMargin), UInt32(current.metric) / 8) > UInt32(current.metric) {
            choice = current
        }
        let changed = choice?.neighbour != selected?.neighbour || choice?.source != selected?.source || choice?.seqno != selected?.seqno
        selected = choice
        return changed
    }

    /// Whether `neighbour` announces a usable route that is feasible for this node: sending to it is
    /// then as loop-free as sending along the selected route (its distance is below ours).
    public func isFeasibleNextHop(_ neighbour: MeshNeighbourKey, at now: Timestamp) -> Bool {
        guard let entry = entries[neighbour], isUsable(entry, at: now) else { return false }
        return isFeasible(seqno: entry.advertisement.seqno, metric: entry.advertisement.metric)
    }

    /// What the node announces for its selected route now: the route plus its news of the gateway.
    public func advertisement(for route: MeshSelectedRoute, at now: Timestamp) -> MeshRouteAdvertisement {
        let l = liveness[route.source]
        let age = l.map { min(Int64(UInt16.max), max(0, (now.milliseconds - $0.issuedAt.milliseconds) / 100)) } ?? Int64(UInt16.max)
        return MeshRouteAdvertisement(source: route.source, seqno: route.seqno, metric: route.metric, hopCount: route.hopCount,
                                      sourceSeqno: l?.seqno ?? route.seqno, sourceAgeDeciseconds: UInt16(age))
    }

    /// Records that the node announces (s, m): the feasibility distance becomes the better of it and
    /// what was there (RFC 8966 §3.5.1).
    public mutating func announced(_ advertisement: MeshRouteAdvertisement, at now: Timestamp) {
        guard !advertisement.isRetraction else { return }
        if let fd = feasibility, !MeshSeqno.isNewer(advertisement.seqno, than: fd.seqno) {
            let metric = advertisement.seqno == fd.seqno ? min(fd.metric, advertisement.metric) : fd.metric
            feasibility = FeasibilityDistance(seqno: fd.seqno, metric: metric, updatedAt: now)
        } else {
            feasibility = FeasibilityDistance(seqno: advertisement.seqno, metric: advertisement.metric, updatedAt: now)
        }
    }

    /// The seqno a gateway announces next: one above both its own last and the newest it has heard.
    public func nextGatewaySeqno(after own: UInt16) -> UInt16 {
        guard let heard = newestSeqno, MeshSeqno.isNewer(heard, than: own) else { return own &+ 1 }
        return heard &+ 1
    }

    /// Drops the selection (the node became a gateway, or lost every route).
    public mutating func clearSelection() { selected = nil }
}
