import Bus
import ConcentratorCore
import Glibc
import Logging
import MeterProtocols
import MeterSimulator
import Platform

/// Issue 11's profile-transfer benchmark: a 30-day hourly profile of 4 channels (clock plus active
/// and reactive energy in both directions) read back by the load-profile backfill from one DLMS
/// meter at `baud`, with the meter's HDLC limits `maxInfo`/`window`. Returns a JSON line.
func profileTransferBenchmark(baud: Int, maxInfo: Int, window: Int, days: Int = 30) throws -> String {
    var profile = ProfileLibrary.load(directories: [ProfileLibrary.shippedDirectory()!]).profile(id: "landis-gyr-e450")!
    profile.id = "bench-e450-hourly"
    let channels: [(QuantityID, [UInt8])] = [("active_energy_import", [1, 0, 1, 8, 0, 255]), ("active_energy_export", [1, 0, 2, 8, 0, 255]),
                                             ("reactive_energy_import", [1, 0, 3, 8, 0, 255]), ("reactive_energy_export", [1, 0, 4, 8, 0, 255])]
    profile.dlms!.clientAddress = 16
    profile.dlms!.security = .none
    profile.dlms!.maxInfoField = maxInfo
    profile.dlms!.windowSize = window
    profile.dlms!.loadProfiles = [DLMSLoadProfileSpec(logicalName: [1, 0, 99, 2, 0, 255], periodSeconds: 3600, series: .interval, captureObjects:
        [DLMSCaptureObjectSpec(classID: 8, logicalName: [0, 0, 1, 0, 0, 255], attribute: 2)]
        + channels.map { DLMSCaptureObjectSpec(classID: 3, logicalName: $0.1, attribute: 2, quantity: $0.0, scaler: 0, unit: 30) })]
    let line = LineSettings(baud: baud)
    let link = "/tmp/bus-bench-profile-\(getpid())"
    let boundary = IntervalSchedule(minutes: 60).nextBoundary(after: SystemClock().now())
    // Half an hour into an interval: no snapshot cycle runs during the transfer.
    let clock = AcceleratedClock(origin: boundary.adding(seconds: -1800), rate: 1)
    var configuration = SimulatorConfiguration(line: line, meters: [SimulatedMeterSetup(address: 17, profile: profile, turnaroundMilliseconds: 10...10)],
                                               clock: clock, linkPath: link)
    configuration.dlms.limits = DLMSMeterLimits(hdlc: HDLCParameters(maxInfoTransmit: maxInfo, maxInfoReceive: maxInfo, windowTransmit: window,
                                                                     windowReceive: window), maxPDUSize: 1024)
    let simulator = try SimulatedBus(configuration: configuration)
    try simulator.start()
    defer { simulator.stop() }
    let hours = days * 24
    let sink = HoleSink(first: boundary.adding(seconds: -3600 * Int64(hours + 1)))
    var logger = Logger(label: "bus-bench")
    logger.logLevel = .warning
    var schedule = BusSchedule(archive: ArchiveSettings())
    schedule.catchUpMilliseconds = 0
    let meter = MeterSettings(id: "d17", bus: "bench", protocolKind: .dlms, address: .hdlc(17), profile: profile.id)
    let owner = BusOwner(settings: BusSettings(name: "bench", device: link, line: line, responseTimeoutMilliseconds: 100...1000),
                         meters: [(meter, profile)], schedule: schedule, clock: clock, sink: sink, logger: logger, clockSynchronised: { true })
    let started = ContinuousClock.now
    owner.start()
    let deadline = started + .seconds(900)
    var lastReport = ContinuousClock.now
    while sink.lock.withLock({ sink.filled }) < hours && ContinuousClock.now < deadline {
        sleepThread(.milliseconds(50))
        if ContinuousClock.now - lastReport > .seconds(10) {
            lastReport = .now
            let text = Array("profile transfer: \(sink.lock.withLock { sink.filled }) of \(hours) rows\n".utf8)
            _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        }
    }
    let seconds = (ContinuousClock.now - started).inMilliseconds / 1000
    let sessions = owner.sessionWireTotals()
    owner.stop()
    let filled = sink.lock.withLock { sink.filled }
    // The estimate of the wire bound for 128/1 at 9600 baud, and the bound of this run: the
    // character times of every byte sent and received plus the meter's 10 ms turnaround per transaction.
    let bound = 35.0 * Double(days) / 30
    let wireBound = (sessions.wireMilliseconds + Double(sessions.transactions) * 10) / 1000
    return """
    {"benchmark":"dlms-profile-transfer","line":"\(line.summary)","max_info":\(maxInfo),"window":\(window),"days":\(days),"rows":\(filled),"channels":4,\
    "seconds":\((seconds * 10).rounded() / 10),"transactions":\(sessions.transactions),"wire_s":\((sessions.wireMilliseconds / 100).rounded() / 10),\
    "wire_bound_s":\((wireBound * 10).rounded() / 10),"ratio_to_wire_bound":\((seconds / wireBound * 1000).rounded() / 1000),\
    "issue_estimate_128_1_s":\((bound * 10).rounded() / 10),"ratio_to_issue_estimate":\((seconds / bound * 1000).rounded() / 1000)}
    """
}

/// An archive stand-in with a stored snapshot 30 days ago and nothing since: every hour is a hole.
final class HoleSink: SnapshotSink, @unchecked Sendable {
    let lock = ConditionLock()
    let first: Timestamp
    var stored: Set<Int64> = []
    var filled = 0

    init(first: Timestamp) {
        self.first = first
        stored.insert(first.milliseconds)
    }

    func store(bus: BusName, series: SeriesKind, intervalStart: Timestamp, snapshots: [MeterSnapshot]) throws {
        lock.withLock { _ = stored.insert(intervalStart.milliseconds) }
    }

    func storedMeters(bus: BusName, series: SeriesKind, intervalStart: Timestamp) throws -> Set<MeterID> { [] }

    func missingIntervals(meter: MeterID, series: SeriesKind, lengthMinutes: Int, from: Timestamp, to: Timestamp) throws -> [Timestamp] {
        lock.withLock {
            let length = Int64(lengthMinutes) * 60_000
            var out: [Timestamp] = []
            var t = first.milliseconds + length
            while t < to.milliseconds {
                if !stored.contains(t) { out.append(Timestamp(milliseconds: t)) }
                t += length
            }
            return out
        }
    }

    func storeBackfill(bus: BusName, series: SeriesKind, lengthMinutes: Int, snapshots: [MeterSnapshot]) throws {
        lock.withLock {
            for s in snapshots where stored.insert(s.intervalStart.milliseconds).inserted { filled += 1 }
        }
    }
}
