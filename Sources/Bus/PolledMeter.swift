import ConcentratorCore
import MeterProtocols

/// Which quantities one poll of a meter reads.
enum MeterReadScope: Hashable {
    /// Every quantity of the profile (interval snapshot, on-demand read, poll now).
    case all
    /// The load-profile quantities only (a profile boundary that is not an interval boundary).
    case loadProfile
    /// The live-cadence quantities.
    case live
    /// The given quantities (an on-demand read of some).
    case quantities(Set<QuantityID>)

    /// The scope of a snapshot cycle for `series`.
    static func snapshot(_ series: Set<SeriesKind>) -> MeterReadScope { series.contains(.interval) ? .all : .loadProfile }
}

/// A meter as its bus owner sees it: settings, profile, read plans, health and learned timing,
/// and the state of its protocol's link (IEC 62056-21 sign-on options, a DLMS association with
/// its invocation counters and cached scaler_units). Lives on the bus thread only.
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
    /// The live-cadence quantities this meter reads.
    let liveQuantities: Set<QuantityID>
    var health = MeterHealth()
    var timer: ResponseTimer
    /// The latest values from any poll, for status and live views.
    var latest: MeterSnapshot?
    /// The DLMS link state (DLMS meters only).
    let dlms: DLMSMeterLink?
    /// The IEC 62056-21 link options (IEC meters only).
    let iec: IECMeterLink?
    /// The wired M-Bus address and record rules (M-Bus meters only).
    let mbus: MBusMeterLink?
    /// The last security problem reported as an event (so a wrong key raises one event, not one per cycle).
    var reportedSecurityProblem: String?
    /// Whether the archive may lack intervals this meter's load profile can fill (at start, and
    /// after a cycle it did not answer); cleared when a backfill of it completes.
    var needsBackfill = true

    init(settings: MeterSettings, profile: MeterProfile, responseBounds: ClosedRange<Int>, liveQuantities: Set<QuantityID>) {
        self.settings = settings
        self.profile = profile
        if case .modbus(let address) = settings.address { slave = address } else { slave = 0 }
        let map = profile.modbus ?? ModbusRegisterMap(registers: [])
        fullPlan = ModbusBlockPlanner.plan(map)
        profilePlan = ModbusBlockPlanner.plan(map, quantities: Set(profile.profileQuantities))
        let live = liveQuantities.intersection(profile.quantities)
        livePlan = live.isEmpty ? [] : ModbusBlockPlanner.plan(map, quantities: live)
        dlms = DLMSMeterLink(settings: settings, profile: profile)
        iec = IECMeterLink(settings: settings, profile: profile)
        mbus = MBusMeterLink(settings: settings, profile: profile)
        // An IEC readout always sends everything at 300 baud first: too slow for a live cadence.
        self.liveQuantities = iec == nil ? live : []
        if iec != nil {
            // IEC 62056-21 reaction times run to 1.5 s (tr); the learned limit starts there.
            timer = ResponseTimer(bounds: 250...Int(IECTiming.maximumReaction.inMillisecondsRounded + IECTiming.margin.inMillisecondsRounded))
        } else if mbus != nil {
            // EN 13757-2: up to 330 bit times + 50 ms (187 ms at 2400 baud), more behind USB converters.
            timer = ResponseTimer(bounds: max(200, responseBounds.lowerBound)...max(1000, responseBounds.upperBound))
        } else {
            timer = ResponseTimer(bounds: responseBounds)
        }
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

    /// Whether the live cadence polls this meter.
    var hasLiveQuantities: Bool { !liveQuantities.isEmpty }

    /// The Modbus blocks of a scope.
    func modbusPlan(_ scope: MeterReadScope) -> [ModbusReadBlock] {
        switch scope {
        case .all: return fullPlan
        case .loadProfile: return profilePlan
        case .live: return livePlan
        case .quantities(let q): return ModbusBlockPlanner.plan(profile.modbus ?? ModbusRegisterMap(registers: []), quantities: q)
        }
    }

    /// The quantities a scope asks of a meter whose protocol reads by quantity; nil: all of them.
    func quantities(_ scope: MeterReadScope) -> Set<QuantityID>? {
        switch scope {
        case .all: return nil
        case .loadProfile: return Set(profile.profileQuantities)
        case .live: return liveQuantities
        case .quantities(let q): return q
        }
    }

    /// Whether a failed cycle read of this meter is left as a hole for the load-profile backfill to
    /// fill from the meter's own profile once it answers again (instead of storing error values).
    func backfills(_ series: SeriesKind, lengthMinutes: Int) -> Bool {
        if let dlms { return dlms.loadProfile(for: series, lengthMinutes: lengthMinutes) != nil }
        if let iec { return iec.backfills(series, lengthMinutes: lengthMinutes) }
        return false
    }
}

extension Duration {
    /// Whole milliseconds, rounded.
    var inMillisecondsRounded: Int { Int(inMilliseconds.rounded()) }
}
