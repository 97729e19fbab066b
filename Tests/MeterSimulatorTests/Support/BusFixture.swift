import Foundation
import ConcentratorCore
import MeterProtocols
import MeterSimulator
import Platform
import TestSupport

/// A running simulator in a temporary directory (link, served log and control socket inside it),
/// stopped when the test is done with it.
final class BusFixture {
    let directory = TemporaryDirectory("meter-sim")
    let bus: SimulatedBus
    var linkPath: String { directory.file("bus1") }
    var logPath: String { directory.file("served.jsonl") }
    var controlPath: String { directory.file("control") }

    init(meters: [SimulatedMeterSetup], line: LineSettings = LineSettings(), clock: any WallClock = SystemClock(),
         faults: [FaultAssignment] = [], seed: UInt64 = 1) throws {
        let config = SimulatorConfiguration(line: line, meters: meters, seed: seed, clock: clock,
                                            linkPath: directory.file("bus1"), servedLogPath: directory.file("served.jsonl"),
                                            controlPath: directory.file("control"), faults: faults)
        bus = try SimulatedBus(configuration: config)
        try bus.start()
    }

    /// Meters of one profile at `addresses`.
    convenience init(addresses: [UInt8], profile: MeterProfile = TestProfiles.sdm630Like, turnaround: ClosedRange<Int> = 20...60,
                     line: LineSettings = LineSettings(), clock: any WallClock = SystemClock(),
                     faults: [FaultAssignment] = []) throws {
        try self.init(meters: addresses.map { SimulatedMeterSetup(address: $0, profile: profile, turnaroundMilliseconds: turnaround) },
                      line: line, clock: clock, faults: faults)
    }

    deinit { bus.stop() }

    func client() throws -> LineClient { try LineClient(path: linkPath) }

    func control(_ line: String) throws -> String { try ControlClient.send(line, to: controlPath) }

    var records: [JSONValue] { servedRecords(logPath) }
}
