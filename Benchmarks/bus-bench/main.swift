// Bus cycle efficiency: one interval snapshot of 64 meters at 9600 8N1 on the simulated line,
// measured cycle time ÷ (emulated wire time + emulated turnaround). Prints JSON; never fails on time.
//
//   swift build -c release --product bus-bench && .build/release/bus-bench [--baud 9600] [--turnaround 30]
//   … bus-bench --profile-transfer   (issue 11: a 30-day hourly DLMS profile of 4 channels at 9600 baud)
//   … bus-bench --mixed [--baud 9600] [--turnaround 30]   (issue 11: 20 Modbus + 20 DLMS + 20 IEC meters, one cycle)
import Bus
import Glibc
import ConcentratorCore
import Logging
import MeterSimulator
import Platform

var baud = 9600
var turnaround = 30
var meterCount = 64
var args = CommandLine.arguments.dropFirst()
// `bus-bench --profile-transfer`: the DLMS 30-day profile read at 128/1 and at the largest window.
if let i = args.firstIndex(of: "--profile-transfer") {
    let days = args.dropFirst(i - args.startIndex + 1).first.flatMap { Int($0) } ?? 30
    for window in [1, 7] { print(try profileTransferBenchmark(baud: 9600, maxInfo: 128, window: window, days: days)) }
    exit(0)
}
let mixed = args.contains("--mixed")
while let a = args.popFirst() {
    switch a {
    case "--baud": baud = Int(args.popFirst() ?? "") ?? baud
    case "--turnaround": turnaround = Int(args.popFirst() ?? "") ?? turnaround
    case "--meters": meterCount = Int(args.popFirst() ?? "") ?? meterCount
    default: break
    }
}

if mixed {
    print(try mixedBusBenchmark(baud: baud, turnaround: turnaround))
    exit(0)
}

guard let profilesDirectory = ProfileLibrary.shippedDirectory() else { fatalError("shipped profiles not found") }
let library = ProfileLibrary.load(directories: [profilesDirectory])
let mix = ["eastron-sdm630", "abb-b23", "carlo-gavazzi-em24", "finder-7m", "eastron-sdm120"]
let line = LineSettings(baud: baud)
let link = "/tmp/bus-bench-\(getpid())"
var setups: [SimulatedMeterSetup] = []
var meters: [(MeterSettings, MeterProfile)] = []
for address in 1...meterCount {
    let profile = library.profile(id: mix[(address - 1) % mix.count])!
    setups.append(SimulatedMeterSetup(address: UInt8(address), profile: profile, turnaroundMilliseconds: turnaround...turnaround))
    meters.append((MeterSettings(id: MeterID("m\(address)"), bus: "bench", address: .modbus(UInt8(address)), profile: profile.id), profile))
}
let simulator = try SimulatedBus(configuration: SimulatorConfiguration(line: line, meters: setups, linkPath: link))
try simulator.start()

/// Keeps the snapshots in memory; the archive has its own benchmark.
final class Counter: SnapshotSink, @unchecked Sendable {
    let lock = ConditionLock()
    var commits = 0
    func store(bus: BusName, series: SeriesKind, intervalStart: Timestamp, snapshots: [MeterSnapshot]) throws {
        lock.withLock { commits += 1 }
    }
    func storedMeters(bus: BusName, series: SeriesKind, intervalStart: Timestamp) throws -> Set<MeterID> { [] }
}

var logger = Logger(label: "bus-bench")
logger.logLevel = .error
let sink = Counter()
let boundary = IntervalSchedule(minutes: 60).nextBoundary(after: SystemClock().now())
// One interval snapshot, half a second after start. Every meter answers, so the learned timeouts
// do not matter; what is measured is how close the owner keeps the line to busy.
let clock = AcceleratedClock(origin: boundary.adding(milliseconds: -500), rate: 1)
let owner = BusOwner(settings: BusSettings(name: "bench", device: link, line: line, responseTimeoutMilliseconds: 100...1000),
                     meters: meters, schedule: BusSchedule(archive: ArchiveSettings()), clock: clock, sink: sink, logger: logger,
                     clockSynchronised: { true })
let first = firstCycle(of: owner, sink: sink, limit: .seconds(600)).0
simulator.stop()

guard let report = first else { fatalError("no cycle completed") }
let emulated = report.wireMilliseconds + Double(report.transactions * turnaround)
let ratio = report.durationMilliseconds / emulated
print("""
{"benchmark":"bus-cycle","line":"\(line.summary)","meters":\(report.meters),"answered":\(report.answered),\
"transactions":\(report.transactions),"turnaround_ms":\(turnaround),\
"cycle_ms":\((report.durationMilliseconds * 10).rounded() / 10),"wire_ms":\((report.wireMilliseconds * 10).rounded() / 10),\
"emulated_ms":\((emulated * 10).rounded() / 10),"ratio":\((ratio * 10000).rounded() / 10000),"target_ratio":1.02}
""")
