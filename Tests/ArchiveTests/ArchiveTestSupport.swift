import Archive
import ConcentratorCore
import Foundation
import Logging
import Platform
import TestSupport

/// 2026-03-01T00:00:00Z, a fixed origin for test data.
let testOrigin = Timestamp(seconds: 1_772_323_200)

func hours(_ n: Int) -> Int64 { Int64(n) * 3600 }

/// A snapshot whose values are exact binary fractions derived from its meter and hour, so tests can
/// recompute them independently.
func testSnapshot(meter: Int, hour: Int, quantities: [QuantityID] = ["voltage_l1", "current_l1", "active_energy_import"],
                  origin: Timestamp = testOrigin) -> MeterSnapshot {
    let start = origin.adding(seconds: hours(hour))
    return MeterSnapshot(meter: MeterID("m\(meter)"), intervalStart: start, gatewayTime: start.adding(milliseconds: 2500),
                         values: quantities.enumerated().map { q, id in
                             QuantityValue(quantity: id, value: Double(hour) + Double(meter) * 0.25 + Double(q) * 1000)
                         })
}

func openStore(_ dir: TemporaryDirectory, options: ArchiveOptions = ArchiveOptions(), log: CapturedLog = CapturedLog(),
               clock: any WallClock = ManualClock(testOrigin)) throws -> (ArchiveStore, ArchiveOpenReport) {
    let (store, report) = try ArchiveStore.open(directory: dir.path + "/state", options: options, clock: clock,
                                                logger: log.logger)
    return (store, report)
}
