import ConcentratorCore
@testable import Mesh
import Testing

@Suite("Time from beacons")
struct ClockDisciplineTests {
    let utc0 = Timestamp(milliseconds: 1_767_225_600_000)

    /// A node whose clock is `offset` ms behind UTC and runs `drift` fast hears a stratum-1 beacon
    /// every minute, with ±`noise` ms of transit jitter.
    func discipline(offset: Double, drift: Double, noise: Int64, minutes: Int, seed: UInt64 = 3) -> (MeshClockDiscipline, (Int64) -> Timestamp) {
        var d = MeshClockDiscipline()
        var random = SeededRandom(seed: seed)
        let local: (Int64) -> Timestamp = { elapsed in
            self.utc0.adding(milliseconds: elapsed + Int64((-offset + Double(elapsed) * drift).rounded()))
        }
        for minute in 0..<minutes {
            let elapsed = Int64(minute) * 60_000
            let jitter = noise == 0 ? 0 : Int64(random.next() % UInt64(2 * noise + 1)) - noise
            let ad = MeshTimeAdvertisement(time: utc0.adding(milliseconds: elapsed + jitter), stratum: 1, errorMilliseconds: 5)
            d.offer(ad, from: MeshNodeID(1), receivedAtLocal: local(elapsed))
        }
        return (d, local)
    }

    @Test("offset and drift are estimated; the corrected time is close to UTC and stratum 2")
    func offsetAndDrift() {
        let (d, local) = discipline(offset: 90_000, drift: 30e-6, noise: 20, minutes: 70)
        let elapsed: Int64 = 70 * 60_000
        let e = d.estimate(atLocal: local(elapsed))
        #expect(abs(e.time.milliseconds - utc0.adding(milliseconds: elapsed).milliseconds) < 50)
        #expect(abs(e.driftPPM + 30) < 5, "drift \(e.driftPPM) ppm")
        #expect(e.stratum == 2 && e.samples == 64 && e.source == MeshNodeID(1))
        #expect(d.advertisement(atLocal: local(elapsed)).stratum == 2)
        // An hour of holdover later the drift keeps it close.
        let later = e.time.milliseconds - local(elapsed).milliseconds
        let h = d.estimate(atLocal: local(elapsed + 3_600_000))
        #expect(abs(h.time.milliseconds - utc0.adding(milliseconds: elapsed + 3_600_000).milliseconds) < 200, "offset now \(later)")
        #expect(h.errorMilliseconds > e.errorMilliseconds)
    }

    @Test("outliers are rejected; a lasting step is followed after three")
    func outliersAndSteps() {
        var (d, local) = discipline(offset: 5_000, drift: 0, noise: 0, minutes: 10)
        let bad = MeshTimeAdvertisement(time: utc0.adding(milliseconds: 10 * 60_000 + 30_000), stratum: 1, errorMilliseconds: 0)
        do { let used = d.offer(bad, from: MeshNodeID(1), receivedAtLocal: local(10 * 60_000)); #expect(!used) }
        #expect(d.rejectedSamples == 1)
        #expect(abs(d.estimate(atLocal: local(10 * 60_000)).time.milliseconds - utc0.adding(milliseconds: 600_000).milliseconds) < 5)
        for m in 11...13 {
            let stepped = MeshTimeAdvertisement(time: utc0.adding(milliseconds: Int64(m) * 60_000 + 30_000), stratum: 1, errorMilliseconds: 0)
            d.offer(stepped, from: MeshNodeID(1), receivedAtLocal: local(Int64(m) * 60_000))
        }
        #expect(abs(d.estimate(atLocal: local(13 * 60_000)).time.milliseconds - utc0.adding(milliseconds: 13 * 60_000 + 30_000).milliseconds) < 5)
    }

    @Test("beacons delayed in a busy radio queue (older times, never newer) do not pull the estimate")
    func queueDelays() {
        var d = MeshClockDiscipline()
        var random = SeededRandom(seed: 9)
        let local: (Int64) -> Timestamp = { self.utc0.adding(milliseconds: $0 - 20_000) }
        for minute in 0..<60 {
            let elapsed = Int64(minute) * 60_000
            let delay = random.unitInterval() < 0.3 ? Int64(random.next() % 5_000) : Int64(random.next() % 20)
            d.offer(MeshTimeAdvertisement(time: utc0.adding(milliseconds: elapsed - delay), stratum: 1, errorMilliseconds: 5),
                    from: MeshNodeID(1), receivedAtLocal: local(elapsed))
        }
        let e = d.estimate(atLocal: local(60 * 60_000))
        #expect(abs(e.time.milliseconds - utc0.adding(milliseconds: 60 * 60_000).milliseconds) < 100, "off by \(e.time.milliseconds - utc0.adding(milliseconds: 3_600_000).milliseconds) ms")
    }

    @Test("the best stratum wins; unsynchronised beacons and a synchronised local clock ignore samples")
    func strata() {
        var d = MeshClockDiscipline()
        let local = utc0.adding(milliseconds: -1_000)
        do { let used = d.offer(MeshTimeAdvertisement(time: utc0, stratum: 16, errorMilliseconds: 0), from: MeshNodeID(1), receivedAtLocal: local); #expect(!used) }
        #expect(d.estimate(atLocal: local).stratum == 16)
        do { let used = d.offer(MeshTimeAdvertisement(time: utc0, stratum: 3, errorMilliseconds: 0), from: MeshNodeID(3), receivedAtLocal: local); #expect(used) }
        #expect(d.estimate(atLocal: local).stratum == 4)
        do { let used = d.offer(MeshTimeAdvertisement(time: utc0, stratum: 1, errorMilliseconds: 0), from: MeshNodeID(1), receivedAtLocal: local); #expect(used) }
        #expect(d.estimate(atLocal: local).stratum == 2)
        do { let used = d.offer(MeshTimeAdvertisement(time: utc0, stratum: 3, errorMilliseconds: 0), from: MeshNodeID(3), receivedAtLocal: local); #expect(!used) }
        // Holdover runs out: unsynchronised again.
        #expect(d.estimate(atLocal: local.adding(milliseconds: 7 * 3_600_000)).stratum == 16)
        d.localClockSynchronised = true
        #expect(d.estimate(atLocal: local).stratum == 1 && d.estimate(atLocal: local).time == local)
    }
}
