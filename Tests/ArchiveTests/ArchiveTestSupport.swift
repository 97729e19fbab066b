import Archive
import ConcentratorCore
import Foundation
import Logging
import Platform
import TestSupport

/// Collects log lines so tests can check that a failure logs exactly one clear line.
final class CapturedLog: Sendable {
    private let storage = Locked<[(Logger.Level, String)]>([])

    var lines: [(level: Logger.Level, message: String)] { storage.value.map { ($0.0, $0.1) } }
    var errors: [String] { lines.filter { $0.level >= .error }.map(\.message) }

    func append(_ level: Logger.Level, _ message: String) { storage.withLock { $0.append((level, message)) } }

    var logger: Logger { Logger(label: "archive") { _ in CapturingHandler(log: self) } }
}

struct CapturingHandler: LogHandler {
    let log: CapturedLog
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) { log.append(event.level, event.message.description) }
}

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
