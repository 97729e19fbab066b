import Bus
import ConcentratorCore
import Glibc
import Logging
import MeterSimulator
import Platform

/// Issue 11's mixed-bus benchmark: one interval snapshot of 20 Modbus RTU, 20 DLMS/COSEM (HDLC, no
/// security) and 20 IEC 62056-21 mode C meters on one simulated line at `baud` (IEC sign-on at 300
/// 7E1, then the meters' rate), every meter answering after `turnaround` ms. The wire bound is the
/// cycle's character times (every byte sent and received, at the rate it went at) plus one
/// turnaround per transaction; the ratio is the measured cycle over it. Returns a JSON line.
func mixedBusBenchmark(baud: Int, turnaround: Int, perProtocol: Int = 20) throws -> String {
    let library = ProfileLibrary.load(directories: [ProfileLibrary.shippedDirectory()!])
    var dlms = library.profile(id: "landis-gyr-e450")!
    dlms.id = "bench-e450-public"
    dlms.dlms!.clientAddress = 16
    dlms.dlms!.security = .none
    let iec = library.profile(id: "iskraemeco-me162")!
    let modbus = ["eastron-sdm630", "abb-b23"].map { library.profile(id: $0)! }
    let line = LineSettings(baud: baud)
    let link = "/tmp/bus-bench-mixed-\(getpid())"
    var setups: [SimulatedMeterSetup] = []
    var meters: [(MeterSettings, MeterProfile)] = []
    for n in 1...perProtocol {
        let profile = modbus[n % 2]
        setups.append(SimulatedMeterSetup(address: UInt8(n), profile: profile, turnaroundMilliseconds: turnaround...turnaround))
        meters.append((MeterSettings(id: MeterID("m\(n)"), bus: "bench", address: .modbus(UInt8(n)), profile: profile.id), profile))
        let hdlc = UInt8(100 + n)
        setups.append(SimulatedMeterSetup(address: hdlc, profile: dlms, turnaroundMilliseconds: turnaround...turnaround))
        meters.append((MeterSettings(id: MeterID("d\(n)"), bus: "bench", protocolKind: .dlms, address: .hdlc(UInt16(hdlc)), profile: dlms.id), dlms))
    }
    var iecSetups: [IECSimulatedMeterSetup] = []
    for n in 1...perProtocol {
        let device = String(repeating: "0", count: 8 - String(n).count) + String(n)
        iecSetups.append(IECSimulatedMeterSetup(deviceAddress: device, profile: iec, reactionMilliseconds: turnaround...turnaround))
        meters.append((MeterSettings(id: MeterID("i\(n)"), bus: "bench", protocolKind: .iec62056_21, address: .iecDevice(device), profile: iec.id), iec))
    }
    let boundary = IntervalSchedule(minutes: 60).nextBoundary(after: SystemClock().now())
    let clock = AcceleratedClock(origin: boundary.adding(milliseconds: -500), rate: 1)
    let simulator = try SimulatedBus(configuration: SimulatorConfiguration(line: line, meters: setups, clock: clock, linkPath: link, iecMeters: iecSetups))
    try simulator.start()
    defer { simulator.stop() }
    var logger = Logger(label: "bus-bench")
    logger.logLevel = .error
    let sink = Counter()
    let owner = BusOwner(settings: BusSettings(name: "bench", device: link, line: line, responseTimeoutMilliseconds: 100...2000),
                         meters: meters, schedule: BusSchedule(archive: ArchiveSettings()), clock: clock, sink: sink, logger: logger,
                         clockSynchronised: { true })
    let (first, sessions) = firstCycle(of: owner, sink: sink, limit: .seconds(900))
    guard let report = first else { return #"{"benchmark":"mixed-bus-cycle","error":"no cycle completed within 900 s"}"# }
    let bound = report.wireMilliseconds + Double(report.transactions * turnaround)
    func r(_ v: Double, _ digits: Double = 10) -> Double { (v * digits).rounded() / digits }
    return """
    {"benchmark":"mixed-bus-cycle","line":"\(line.summary)","meters":\(report.meters),"answered":\(report.answered),\
    "modbus":\(perProtocol),"dlms":\(perProtocol),"iec":\(perProtocol),"transactions":\(report.transactions),"turnaround_ms":\(turnaround),\
    "cycle_ms":\(r(report.durationMilliseconds)),"wire_ms":\(r(report.wireMilliseconds)),"dlms_iec_wire_ms":\(r(sessions.wireMilliseconds)),\
    "wire_bound_ms":\(r(bound)),"ratio":\(r(report.durationMilliseconds / bound, 10000)),"target_ratio":1.05}
    """
}

/// Starts `owner`, waits (at most `limit`) until `sink` has its first commit, stops the owner;
/// the first cycle's report and the DLMS/IEC sessions' wire totals.
func firstCycle(of owner: BusOwner, sink: Counter, limit: Duration) -> (CycleReport?, SessionWireTotals) {
    owner.start()
    let deadline = ContinuousClock.now + limit
    while sink.lock.withLock({ sink.commits }) < 1 && ContinuousClock.now < deadline { sleepThread(.milliseconds(100)) }
    let first = owner.status().lastCycle
    let sessions = owner.sessionWireTotals()
    owner.stop()
    return (first, sessions)
}
