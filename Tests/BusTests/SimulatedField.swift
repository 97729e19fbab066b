import Foundation
import ConcentratorCore
import Platform
import Logging
import TestSupport
@testable import Bus
import MeterSimulator

/// Profiles shipped in Profiles/, loaded once.
enum ShippedProfiles {
    static let library = ProfileLibrary.load(directories: [BuiltProducts.profilesDirectory])
    static func get(_ id: String) -> MeterProfile { library.profile(id: id)! }
    /// A mix of the real models, cycling.
    static let mix = ["eastron-sdm630", "abb-b23", "carlo-gavazzi-em24", "finder-7m", "eastron-sdm120"]
}

/// An in-process meter-sim line on a real PTY, with its served log.
final class SimulatedField {
    let directory = TemporaryDirectory("bus-test")
    let simulator: SimulatedBus
    let link: String
    let servedLog: String
    let meters: [(MeterSettings, MeterProfile)]
    let line: LineSettings

    init(count: Int, baud: Int = 38_400, turnaround: ClosedRange<Int> = 5...15, addresses: [UInt8]? = nil,
         profiles: [String] = ShippedProfiles.mix, faults: [FaultAssignment] = []) throws {
        line = LineSettings(baud: baud)
        link = directory.file("bus")
        servedLog = directory.file("served.jsonl")
        let addrs = addresses ?? (1...UInt8(count)).map { $0 }
        var setups: [SimulatedMeterSetup] = []
        var meters: [(MeterSettings, MeterProfile)] = []
        for (i, a) in addrs.enumerated() {
            let profile = ShippedProfiles.get(profiles[i % profiles.count])
            setups.append(SimulatedMeterSetup(address: a, profile: profile, turnaroundMilliseconds: turnaround))
            meters.append((MeterSettings(id: MeterID("m\(a)"), bus: "bus1", address: .modbus(a), profile: profile.id), profile))
        }
        self.meters = meters
        simulator = try SimulatedBus(configuration: SimulatorConfiguration(line: line, meters: setups, seed: 7,
                                                                           linkPath: link, servedLogPath: servedLog, faults: faults))
        try simulator.start()
    }

    deinit { simulator.stop() }

    func busSettings(timeouts: ClosedRange<Int> = 100...1000, retries: Int = 1) -> BusSettings {
        BusSettings(name: "bus1", device: link, line: line, responseTimeoutMilliseconds: timeouts, retries: retries)
    }

    var served: [ServedLine] { ServedLogReader.read(servedLog) }
}

/// Keeps stored snapshots in memory.
final class MemorySink: SnapshotSink, @unchecked Sendable {
    private let lock = ConditionLock()
    private var stored: [(series: SeriesKind, interval: Timestamp, snapshots: [MeterSnapshot])] = []
    var preStored: Set<MeterID> = []
    /// Meters the "archive" says answered before this start.
    var answeredEarlier: Set<MeterID> = []

    func answeredBefore(meter: MeterID, before time: Timestamp) -> Bool { answeredEarlier.contains(meter) }

    func store(bus: BusName, series: SeriesKind, intervalStart: Timestamp, snapshots: [MeterSnapshot]) throws {
        lock.withLock { stored.append((series, intervalStart, snapshots)) }
    }

    func storedMeters(bus: BusName, series: SeriesKind, intervalStart: Timestamp) throws -> Set<MeterID> { preStored }

    var commits: [(series: SeriesKind, interval: Timestamp, snapshots: [MeterSnapshot])] { lock.withLock { stored } }
}

/// Collects gateway events.
final class EventLog: @unchecked Sendable {
    private let lock = ConditionLock()
    private var items: [GatewayEvent] = []
    func add(_ e: GatewayEvent) { lock.withLock { items.append(e) } }
    var all: [GatewayEvent] { lock.withLock { items } }
}

let testLogger: Logger = {
    var l = Logger(label: "bus-test")
    l.logLevel = .warning
    return l
}()

/// A clock that reaches the next hour boundary `secondsBefore` seconds from now.
func clockBeforeBoundary(secondsBefore: Double, rate: Double = 1) -> AcceleratedClock {
    let boundary = IntervalSchedule(minutes: 60).nextBoundary(after: SystemClock().now())
    return AcceleratedClock(origin: boundary.adding(milliseconds: -Int64(secondsBefore * 1000)), rate: rate)
}
