import Agent
import ConcentratorCore
@testable import Mesh
import Platform
import Testing

/// The agent's interval clock (`MeshDisciplinedClock`) on a manual local clock: what the buses read
/// when the local clock is off and beacons discipline it.
@Suite("The agent's disciplined interval clock")
struct MeshDisciplinedClockTests {
    let utc0 = Timestamp(milliseconds: 1_767_225_600_000)  // 2026-01-01T00:00:00Z
    let gateway = MeshNodeID(deviceID: "gw-0001")
    let quarterHour = IntervalSchedule(minutes: 15)

    /// A local clock `behind` ms behind UTC and running `drift` slow, and a discipline that heard
    /// a stratum-`stratum` beacon every minute for `minutes` minutes.
    func setUp(behind: Int64, drift: Double, minutes: Int, stratum: UInt8 = 1) -> (ManualClock, MeshClockDiscipline, (Int64) -> Timestamp) {
        let local: (Int64) -> Timestamp = { elapsed in
            self.utc0.adding(milliseconds: elapsed - behind - Int64((Double(elapsed) * drift).rounded()))
        }
        var d = MeshClockDiscipline()
        for minute in 0..<minutes {
            let elapsed = Int64(minute) * 60_000
            let ad = MeshTimeAdvertisement(time: utc0.adding(milliseconds: elapsed), stratum: stratum, errorMilliseconds: 5)
            let used = d.offer(ad, from: gateway, receivedAtLocal: local(elapsed))
            #expect(used)
        }
        let base = ManualClock(local(Int64(minutes - 1) * 60_000))
        return (base, d, local)
    }

    @Test("a leaf 7 minutes behind, drifting 40 ppm, reads the gateway's time and stores on its interval boundaries")
    func offsetAndDrift() {
        let behind: Int64 = 7 * 60_000
        let (base, d, local) = setUp(behind: behind, drift: 40e-6, minutes: 30)
        let clock = MeshDisciplinedClock(base: base)
        #expect(clock.now() == base.now(), "no discipline yet: the local clock")
        #expect(!clock.isDisciplined && clock.estimate() == nil)
        clock.update(d)
        for elapsed: Int64 in [29 * 60_000, 40 * 60_000, 75 * 60_000] {
            base.set(local(elapsed))
            let utc = utc0.adding(milliseconds: elapsed)
            #expect(abs(clock.now().milliseconds - utc.milliseconds) < 20, "at +\(elapsed / 60_000) min the clock is \(clock.now().milliseconds - utc.milliseconds) ms off")
            #expect(abs(base.now().milliseconds - utc.milliseconds) > behind - 1)
        }
        // 75 minutes in, the local clock says 00:07:xx: it would file the reading under 00:00; the
        // disciplined clock files it under 01:15 like the gateway.
        base.set(local(75 * 60_000 + 30_000))
        #expect(quarterHour.start(containing: clock.now()) == utc0.adding(seconds: 75 * 60))
        #expect(quarterHour.start(containing: base.now()) == utc0.adding(seconds: 60 * 60))
        let e = clock.estimate()
        #expect(e?.stratum == 2 && e?.source == gateway && clock.isDisciplined)
        #expect(abs((e?.offsetMilliseconds ?? 0) - Double(behind) - 75.5 * 60_000 * 40e-6) < 20)
        #expect(abs((e?.driftPPM ?? 0) - 40) < 2, "drift \(e?.driftPPM ?? .nan) ppm")
    }

    @Test("an outlying beacon does not move the clock; the stratum is the source's plus one")
    func outlierAndStratum() {
        let (base, heard, local) = setUp(behind: 3_000, drift: 0, minutes: 10, stratum: 2)
        var d = heard
        let wild = MeshTimeAdvertisement(time: utc0.adding(milliseconds: 10 * 60_000 + 45_000), stratum: 2, errorMilliseconds: 5)
        let usedWild = d.offer(wild, from: gateway, receivedAtLocal: local(10 * 60_000))
        #expect(!usedWild)
        let clock = MeshDisciplinedClock(base: base)
        clock.update(d)
        base.set(local(10 * 60_000))
        #expect(abs(clock.now().milliseconds - utc0.adding(milliseconds: 10 * 60_000).milliseconds) < 5)
        #expect(clock.estimate()?.stratum == 3)
    }

    @Test("a synchronised local clock, an unusable estimate and a lapsed holdover all read the local clock")
    func localClockWins() {
        let (base, heard, local) = setUp(behind: 60_000, drift: 0, minutes: 5)
        var d = heard
        let clock = MeshDisciplinedClock(base: base)
        d.localClockSynchronised = true
        clock.update(d)
        #expect(clock.now() == base.now() && clock.estimate()?.stratum == 1 && !clock.isDisciplined)

        d.localClockSynchronised = false
        clock.update(d)
        #expect(clock.now().milliseconds - base.now().milliseconds == 60_000)
        // Beyond the holdover (six hours without a beacon) the estimate is unsynchronised: no correction.
        base.set(local(4 * 60_000 + 21_600_000 + 1_000))
        #expect(clock.estimate()?.stratum == MeshTimeAdvertisement.unsynchronised)
        #expect(clock.now() == base.now() && !clock.isDisciplined)
        // Unsynchronised beacons (stratum 16) never discipline.
        var none = MeshClockDiscipline()
        let ad = MeshTimeAdvertisement(time: utc0, stratum: MeshTimeAdvertisement.unsynchronised, errorMilliseconds: 0)
        let usedNone = none.offer(ad, from: gateway, receivedAtLocal: local(0))
        #expect(!usedNone)
        clock.update(none)
        #expect(clock.now() == base.now())
        clock.update(nil)
        #expect(clock.now() == base.now() && clock.estimate() == nil)
    }
}
