import ConcentratorCore
@testable import Mesh
import Testing

@Suite("Mesh routing: seqnos, feasibility, neighbours, selection")
struct RoutingTests {
    let t0 = Timestamp(milliseconds: 1_000_000)
    let g1 = MeshNodeID(0x1001), g2 = MeshNodeID(0x1002)
    let a = MeshNeighbourKey(node: MeshNodeID(0xA), link: 0)
    let b = MeshNeighbourKey(node: MeshNodeID(0xB), link: 0)

    @Test("seqnos compare modulo 2^16 (RFC 8966 §3.2.1)")
    func seqno() {
        #expect(MeshSeqno.isNewer(2, than: 1))
        #expect(!MeshSeqno.isNewer(1, than: 2))
        #expect(MeshSeqno.isNewer(0, than: 0xFFFF))
        #expect(MeshSeqno.isNewer(0x7FFF, than: 0))
        #expect(!MeshSeqno.isNewer(0x8000, than: 0))
        #expect(!MeshSeqno.isNewer(5, than: 5))
    }

    @Test("feasibility: newer seqno, or same seqno and strictly smaller metric than what we announced, whichever gateway")
    func feasibility() {
        var table = MeshRouteTable(holdMilliseconds: 150_000, sourceMemoryMilliseconds: 1_000_000)
        #expect(table.isFeasible(seqno: 10, metric: 900))
        table.announced(MeshRouteAdvertisement(source: g1, seqno: 10, metric: 500, hopCount: 2), at: t0)
        #expect(table.isFeasible(seqno: 10, metric: 499))
        #expect(!table.isFeasible(seqno: 10, metric: 500))
        #expect(!table.isFeasible(seqno: 9, metric: 1))
        #expect(table.isFeasible(seqno: 11, metric: 5_000))
        #expect(table.isFeasible(seqno: 9, metric: MeshRouteAdvertisement.infinity))
        // Announcing a worse metric under the same seqno keeps the better distance.
        table.announced(MeshRouteAdvertisement(source: g1, seqno: 10, metric: 800, hopCount: 3), at: t0)
        #expect(!table.isFeasible(seqno: 10, metric: 600))
        // A newer seqno resets it.
        table.announced(MeshRouteAdvertisement(source: g1, seqno: 11, metric: 800, hopCount: 3), at: t0)
        #expect(table.isFeasible(seqno: 11, metric: 700))
    }

    @Test("a route to another gateway is held to the same distance (the two-gateway loop the simulator once found)")
    func crossGatewayFeasibility() {
        // Seen in a 200-node run with per-gateway distances: node 133 routed via 6 believing 6 led to
        // gateway 22 (seqno 26, metric 1127) while 6 had switched to gateway 175 via 133 on 133's old
        // announcement (seqno 27, metric 2147): a loop. With one distance per destination, 133 (which
        // announced (26, 1400)) may not take 6's (26, 2147) from any gateway.
        var n133 = MeshRouteTable(holdMilliseconds: 150_000, sourceMemoryMilliseconds: 1_000_000)
        n133.announced(MeshRouteAdvertisement(source: g1, seqno: 26, metric: 1_400, hopCount: 4), at: t0)
        n133.heard(MeshRouteAdvertisement(source: g2, seqno: 26, metric: 2_147, hopCount: 6), from: a, at: t0)
        n133.select(cost: { _ in 256 }, at: t0)
        #expect(n133.selected == nil)
        // Gateways continue one above the newest seqno heard (a Lamport clock across gateways).
        #expect(n133.nextGatewaySeqno(after: 3) == 27)
        #expect(n133.nextGatewaySeqno(after: 40) == 41)
        #expect(n133.nextGatewaySeqno(after: 0xFFFF) == 27)
    }

    @Test("selection takes the lowest metric among feasible routes and keeps the current one within the margin")
    func selection() {
        var table = MeshRouteTable(holdMilliseconds: 120_000, entryHoldMilliseconds: 150_000, sourceMemoryMilliseconds: 1_000_000,
                                   switchMargin: 64)
        let cost: (MeshNeighbourKey) -> UInt16 = { _ in 256 }
        table.heard(MeshRouteAdvertisement(source: g1, seqno: 1, metric: 300, hopCount: 1), from: a, at: t0)
        table.heard(MeshRouteAdvertisement(source: g2, seqno: 7, metric: 400, hopCount: 1), from: b, at: t0)
        do { let changed = table.select(cost: cost, at: t0); #expect(changed) }
        #expect(table.selected?.neighbour == a && table.selected?.metric == 556 && table.selected?.hopCount == 2)
        table.announced(table.advertisement(for: table.selected!, at: t0), at: t0)
        // b improves by less than the margin: stay.
        table.heard(MeshRouteAdvertisement(source: g2, seqno: 8, metric: 260, hopCount: 1), from: b, at: t0)
        table.select(cost: cost, at: t0)
        #expect(table.selected?.neighbour == a)
        // By more: switch.
        table.heard(MeshRouteAdvertisement(source: g2, seqno: 9, metric: 100, hopCount: 1), from: b, at: t0)
        do { let changed = table.select(cost: cost, at: t0); #expect(changed) }
        #expect(table.selected?.neighbour == b && table.selected?.source == g2)
        // The announcement carries the route and the news of its gateway, aged.
        let ad = table.advertisement(for: table.selected!, at: t0.adding(milliseconds: 2_500))
        #expect(ad.seqno == 9 && ad.sourceSeqno == 9 && ad.sourceAgeDeciseconds == 25)
    }

    @Test("routes to a gateway gone quiet expire everywhere at once; news may come from any neighbour; retractions act at once")
    func liveness() {
        var table = MeshRouteTable(holdMilliseconds: 120_000, entryHoldMilliseconds: 150_000, sourceMemoryMilliseconds: 1_000_000)
        let c = MeshNeighbourKey(node: MeshNodeID(0xC), link: 0)
        // g1's seqno 5 was issued 30 s before a announced it (age 300 ds).
        table.heard(MeshRouteAdvertisement(source: g1, seqno: 5, metric: 300, hopCount: 3, sourceSeqno: 5, sourceAgeDeciseconds: 300),
                    from: a, at: t0)
        #expect(table.liveness[g1]?.issuedAt == t0.adding(milliseconds: -30_000))
        // b's route to g2 lags a wave (seqno 8) but b has heard seqno 9; c brings no route of its own
        // to g2 but is newer still (10): g2 is alive by the newest news.
        table.heard(MeshRouteAdvertisement(source: g2, seqno: 8, metric: 400, hopCount: 2, sourceSeqno: 9), from: b, at: t0)
        let news = table.heard(MeshRouteAdvertisement(source: g2, seqno: 10, metric: 900, hopCount: 5, sourceSeqno: 10),
                               from: c, at: t0.adding(milliseconds: 60_000))
        #expect(news && table.liveness[g2]?.seqno == 10)
        let stale = table.heard(MeshRouteAdvertisement(source: g2, seqno: 8, metric: 400, hopCount: 2, sourceSeqno: 9), from: b,
                                at: t0.adding(milliseconds: 60_000))
        #expect(!stale)
        // 95 s later g1 (last issued t0 − 30 s) is quiet for more than 120 s: its route goes; g2's stay.
        table.expire(at: t0.adding(milliseconds: 95_000))
        #expect(table.entries[a] == nil && table.entries[b] != nil && table.entries[c] != nil)
        #expect(!table.isAlive(g1, at: t0.adding(milliseconds: 95_000)) && table.isAlive(g2, at: t0.adding(milliseconds: 95_000)))
        #expect(table.nextExpiry == t0.adding(milliseconds: 60_000 + 120_001)) // g2's last news + the hold
        // A neighbour that stops announcing loses its route after the entry hold.
        table.expire(at: t0.adding(milliseconds: 210_001))
        #expect(table.entries.isEmpty)
        // Retraction.
        table.heard(MeshRouteAdvertisement(source: g2, seqno: 11, metric: 100, hopCount: 1), from: b, at: t0.adding(milliseconds: 220_000))
        #expect(table.entries[b] != nil)
        table.heard(MeshRouteAdvertisement(source: g2, seqno: 11, metric: .max, hopCount: 1), from: b, at: t0.adding(milliseconds: 221_000))
        #expect(table.entries[b] == nil)
        table.select(cost: { _ in 256 }, at: t0.adding(milliseconds: 221_000))
        #expect(table.selected == nil)
    }

    @Test("a route through an unusable link or excluded source is never selected")
    func exclusions() {
        var table = MeshRouteTable(holdMilliseconds: 135_000, sourceMemoryMilliseconds: 1_000_000)
        table.heard(MeshRouteAdvertisement(source: g1, seqno: 1, metric: 0, hopCount: 0), from: a, at: t0)
        table.select(cost: { _ in MeshNeighbourTable.unusableCost }, at: t0)
        #expect(table.selected == nil)
        table.select(cost: { _ in 256 }, excluding: [g1], at: t0)
        #expect(table.selected == nil)
        table.select(cost: { _ in 256 }, at: t0)
        #expect(table.selected?.source == g1)
    }

    func beacon(_ hello: UInt16, reports: [MeshNeighbourReport] = []) -> MeshBeacon {
        MeshBeacon(helloSequence: hello, uplinkHealth: 0, route: nil,
                   time: MeshTimeAdvertisement(time: t0, stratum: 16, errorMilliseconds: 0), reports: reports)
    }

    @Test("ETX from beacon reception: gaps, overdue hellos, the neighbour's report, expiry")
    func neighbourQuality() {
        var table = MeshNeighbourTable(beaconIntervalMilliseconds: 60_000)
        let me = MeshNodeID(0x99)
        var t = t0
        // Hellos 1…17, every 4th lost: of the last 16 (2…17), 12 arrived.
        for hello in 1...17 where hello % 4 != 0 {
            table.heardBeacon(from: a, address: .simulated(1), beacon: beacon(UInt16(hello)), me: me, at: t)
            t = t.adding(milliseconds: 60_000)
        }
        let ratio = table.receptionRatio(a, at: t.adding(milliseconds: -60_000))
        #expect(abs(ratio - 12.0 / 16.0) < 1e-9)
        // Without a report, tx is taken equal to rx: cost 256 / 0.75².
        #expect(table.cost(a, at: t.adding(milliseconds: -60_000)) == UInt16((256 / (0.75 * 0.75)).rounded()))
        // The neighbour reports hearing us perfectly.
        table.heardBeacon(from: a, address: .simulated(1), beacon: beacon(18, reports: [MeshNeighbourReport(neighbour: me, receptionQuality: 255)]),
                          me: me, at: t)
        let c = table.cost(a, at: t)
        #expect(c == UInt16((256 / table.receptionRatio(a, at: t)).rounded()))
        // Hellos overdue count as missing: three intervals later the ratio has dropped.
        #expect(table.receptionRatio(a, at: t.adding(milliseconds: 200_000)) < table.receptionRatio(a, at: t))
        // Silent for 3.5 intervals: forgotten.
        #expect(table.expire(at: t.adding(milliseconds: 210_001)) == [a])
        #expect(table.cost(a, at: t) == MeshNeighbourTable.unusableCost)
    }

    @Test("reports rotate through all neighbours when more are known than fit")
    func reportRotation() {
        var table = MeshNeighbourTable(beaconIntervalMilliseconds: 60_000)
        for n in 1...10 {
            table.heardBeacon(from: MeshNeighbourKey(node: MeshNodeID(UInt64(n)), link: 0), address: .simulated(n), beacon: beacon(1),
                              me: MeshNodeID(0x99), at: t0)
        }
        var reported = Set<MeshNodeID>()
        for _ in 0..<3 { for r in table.reports(maximum: 4, at: t0) { reported.insert(r.neighbour) } }
        #expect(reported.count == 10)
    }

    @Test("reverse paths move only with a newer batch, and the first neighbour heard wins")
    func reversePaths() {
        var paths = MeshReversePaths(capacity: 2)
        let d = MeshNodeID(0xD)
        paths.learn(device: d, via: a, sequence: 5, at: t0)
        paths.learn(device: d, via: b, sequence: 5, at: t0)
        #expect(paths.nextHop(toward: d) == a)
        paths.learn(device: d, via: b, sequence: 4, at: t0)
        #expect(paths.nextHop(toward: d) == a)
        paths.learn(device: d, via: b, sequence: 6, at: t0)
        #expect(paths.nextHop(toward: d) == b)
        paths.forget(b)
        #expect(paths.nextHop(toward: d) == nil)
        // The sequence is remembered: an older batch arriving now must not set a path (it could
        // point back into the newer path; the simulator found that loop under churn).
        paths.learn(device: d, via: a, sequence: 5, at: t0)
        #expect(paths.nextHop(toward: d) == nil)
        paths.learn(device: d, via: a, sequence: 7, at: t0)
        #expect(paths.nextHop(toward: d) == a)
        // Bounded: a third device evicts the oldest.
        paths.learn(device: MeshNodeID(1), via: a, sequence: 1, at: t0.adding(milliseconds: 1))
        paths.learn(device: MeshNodeID(2), via: a, sequence: 1, at: t0.adding(milliseconds: 2))
        #expect(paths.entries.count == 2 && paths.nextHop(toward: d) == nil)
    }

    @Test("the duplicate filter knows attempts and stays bounded")
    func duplicateFilter() {
        var filter = MeshDuplicateFilter(capacity: 16)
        let k = MeshMessageKey(type: .data, subject: MeshNodeID(7), sequence: 1)
        #expect(!filter.hasSeen(k, attempt: 0))
        filter.remember(k, attempt: 0)
        #expect(filter.hasSeen(k, attempt: 0) && !filter.hasSeen(k, attempt: 1))
        for s in 2...40 { filter.remember(MeshMessageKey(type: .data, subject: MeshNodeID(7), sequence: UInt64(s)), attempt: 0) }
        #expect(filter.count == 16 && !filter.hasSeen(k, attempt: 0))
    }
}
