#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Archive
import ConcentratorCore
import Logging
import Platform

/// The hidden `--crash-writer <dir> <log>` mode used by the kill -9 test (ArchiveTests/CrashTests and
/// scripts/crash-archive.sh). It commits snapshots forever and appends a line to `<log>` only after
/// each write has returned (is durable):
///
///     archived <interval> <bus>     the bus's 8 snapshots of interval number <interval> are stored
///     counter <value>               nextCounterValue("crash") returned <value>
///     outbox <sequence> <interval>  an outbox entry was stored under <sequence>
///
/// Values are a pure function of (meter, interval, quantity) so the checker can verify every row:
/// value = interval * 0.5 + meter * 8 + quantity * 0.125. Interval n starts at `origin + n hours`.
/// On start it resumes two intervals before the last logged one, so duplicates are committed on
/// purpose (the archive must ignore them).
enum CrashWriter {
    static let origin = Timestamp(seconds: 1_767_225_600) // 2026-01-01T00:00:00Z
    static let buses: [(name: String, meters: Range<Int>)] = [("bus-a", 0..<8), ("bus-b", 8..<16)]
    static let quantities: [QuantityID] = ["voltage_l1", "voltage_l2", "voltage_l3", "current_l1", "current_l2",
                                           "current_l3", "active_power_total", "active_energy_import"]

    static func snapshot(meter: Int, interval: Int) -> MeterSnapshot {
        let start = origin.adding(seconds: Int64(interval) * 3600)
        let gateway = start.adding(milliseconds: Int64(meter) * 1000)
        return MeterSnapshot(
            meter: MeterID("m-\(meter)"), intervalStart: start, gatewayTime: gateway,
            meterTime: meter % 2 == 1 ? gateway.adding(milliseconds: 500) : nil, clockUnsynced: interval % 7 == 0,
            values: quantities.enumerated().map { q, id in
                QuantityValue(quantity: id, value: Double(interval) * 0.5 + Double(meter) * 8 + Double(q) * 0.125)
            })
    }

    static func run(directory: String, logPath: String) -> Never {
        let log = open(logPath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard log >= 0 else { fail("cannot open \(logPath)") }
        var interval = max(0, lastLoggedInterval(logPath) - 2)
        let logger = Logger(label: "crash-writer") { _ in SwiftLogNoOpLogHandler() }
        let store: ArchiveStore
        do {
            store = try ArchiveStore.open(directory: directory, clock: SystemClock(), logger: logger).store
        } catch {
            fail("\(error)")
        }
        let deadline = ContinuousClock.now + .seconds(600) // never outlive a forgotten test
        while ContinuousClock.now < deadline {
            do {
                for bus in buses {
                    let snapshots = bus.meters.map { snapshot(meter: $0, interval: interval) }
                    _ = try store.performBlocking(.commit(snapshots, source: bus.name))
                    append("archived \(interval) \(bus.name)\n", to: log)
                }
                let value = try store.performBlocking(.nextCounterValue("crash"))
                append("counter \(value)\n", to: log)
                let item = OutboxItem(created: origin, kind: "readings",
                                      intervals: snapshot(meter: 0, interval: interval).intervalStart..<origin.adding(seconds: Int64(interval + 1) * 3600),
                                      payload: Array(repeating: UInt8(interval & 0xFF), count: 32))
                let sequence = try store.performBlocking(.enqueueOutbox(item))
                append("outbox \(sequence) \(interval)\n", to: log)
            } catch {
                fail("\(error)")
            }
            interval += 1
        }
        exit(0)
    }

    private static func lastLoggedInterval(_ path: String) -> Int {
        guard let text = try? FileSystem.readText(path) else { return 0 }
        var last = 0
        for line in text.split(separator: "\n") where line.hasPrefix("archived ") {
            let fields = line.split(separator: " ")
            if fields.count == 3, let n = Int(fields[1]) { last = max(last, n) }
        }
        return last
    }

    private static func append(_ line: String, to fd: Int32) {
        let bytes = Array(line.utf8)
        // One write() per line: a kill lands before or after it, never inside it.
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n != bytes.count { fail("short write to the crash log") }
    }

    private static func fail(_ message: String) -> Never {
        let line = "crash-writer: \(message)\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
        exit(1)
    }
}
