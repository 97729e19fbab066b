import ConcentratorCore
import Mesh
import Synchronization

/// The agent's clock for interval timestamps (the buses, the uplink's schedules, edge monitoring):
/// the local clock, corrected by the mesh's clock discipline while the local clock is not
/// synchronised and beacons give a usable estimate (stratum below 16). The agent cannot set the system
/// clock; it reads this one instead, so a node without NTP archives its intervals on the same
/// boundaries as the gateway it hears (Docs/mesh.md, "Time"). Without a mesh, or with a synchronised
/// local clock, it reads exactly as `base`.
///
/// The mesh thread hands it the discipline's state (`update`) about once a second; `now()` evaluates
/// that state at the base clock's reading, so the correction also follows the estimated drift between
/// updates. The correction is applied as a step when it first becomes usable (the archive treats it like
/// any other clock step; retention keeps reading `base`).
public final class MeshDisciplinedClock: WallClock, Sendable {
    /// The local clock (the one the mesh's discipline measures against).
    public let base: any WallClock
    private let discipline = Mutex<MeshClockDiscipline?>(nil)

    public init(base: any WallClock) { self.base = base }

    /// The mesh thread's latest discipline (nil: the mesh stopped; the clock reads `base` again).
    public func update(_ discipline: MeshClockDiscipline?) { self.discipline.withLock { $0 = discipline } }

    /// The estimate behind `now()`: stratum 1 when the local clock is synchronised, 2…15 when beacons
    /// correct it, 16 (and no correction) otherwise; nil without a mesh.
    public func estimate() -> MeshClockEstimate? {
        let local = base.now()
        return discipline.withLock({ $0 })?.estimate(atLocal: local)
    }

    /// Whether `now()` is corrected from the mesh (the local clock unsynchronised, a usable estimate).
    public var isDisciplined: Bool {
        estimate().map(Self.corrects) ?? false
    }

    public func now() -> Timestamp {
        let local = base.now()
        guard let e = discipline.withLock({ $0 })?.estimate(atLocal: local), Self.corrects(e) else { return local }
        return e.time
    }

    static func corrects(_ e: MeshClockEstimate) -> Bool { e.stratum > 1 && e.stratum < MeshTimeAdvertisement.unsynchronised }

    public func realDuration(ofMilliseconds milliseconds: Int64) -> Duration { base.realDuration(ofMilliseconds: milliseconds) }
}
