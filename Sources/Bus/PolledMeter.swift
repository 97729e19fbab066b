import ConcentratorCore
import MeterProtocols

/// A meter as its bus owner sees it: settings, profile, read plans, health and learned timing.
/// Lives on the bus thread only.
final class PolledMeter {
    let settings: MeterSettings
    let profile: MeterProfile
    let slave: UInt8
    /// Blocks for every quantity (the interval snapshot).
    private(set) var fullPlan: [ModbusReadBlock]
    /// Blocks for the load-profile quantities.
    private(set) var profilePlan: [ModbusReadBlock]
    /// Blocks for the live-cadence quantities (empty: no live polling for this meter).
    private(set) var livePlan: [ModbusReadBlock]
    var health = MeterHealth()
    var timer: ResponseTimer
    /// The latest values from any poll, for status and live views.
    var latest: MeterSnapshot?

    init(settings: MeterSettings, profile: MeterProfile, responseBounds: ClosedRange<Int>, liveQuantities: Set<QuantityID>) {
        self.settings = settings
        self.profile = profile
        if case .modbus(let address) = settings.address { slave = address } else { slave = 0 }
        let map = profile.modbus ?? ModbusRegisterMap(registers: [])
        fullPlan = ModbusBlockPlanner.plan(map)
        profilePlan = ModbusBlockPlanner.plan(map, quantities: Set(profile.profileQuantities))
        let live = liveQuantities.intersection(profile.quantities)
        livePlan = live.isEmpty ? [] : ModbusBlockPlanner.plan(map, quantities: live)
        timer = ResponseTimer(bounds: responseBounds)
    }

    var id: MeterID { settings.id }

    func plan(for series: Set<SeriesKind>) -> [ModbusReadBlock] {
        series.contains(.interval) ? fullPlan : profilePlan
    }

    /// Remembers the working plan a poll with `used` found (blocks split where the meter refused a
    /// merged read), for every plan that was `used`; the next polls read the working blocks directly.
    func adopt(_ refined: [ModbusReadBlock], replacing used: [ModbusReadBlock]) {
        if fullPlan == used { fullPlan = refined }
        if profilePlan == used { profilePlan = refined }
        if livePlan == used { livePlan = refined }
    }
}
