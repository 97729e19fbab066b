#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Archive
import ConcentratorCore
import Logging
import Platform
import SQLite

// archive-bench: fills an archive with 256 meters × 30 values × 45 days of hourly data in a temporary
// directory and prints one JSON object of measurements. It never fails on timing.
//
//   archive-bench [--meters N] [--days N] [--hourly-days N] [--keep]
//   archive-bench --crash-writer <dir> <log>     (hidden: used by the kill -9 test)
//   archive-bench --crash-check <dir> <log>      (hidden: verifies the archive after the kills)

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "--crash-writer" || arguments.first == "--crash-check" {
    guard arguments.count == 3 else {
        print("usage: archive-bench \(arguments[0]) <dir> <log>")
        exit(2)
    }
    if arguments[0] == "--crash-writer" { CrashWriter.run(directory: arguments[1], logPath: arguments[2]) }
    CrashCheck.run(directory: arguments[1], logPath: arguments[2])
}

func option(_ name: String, _ fallback: Int) -> Int {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count, let v = Int(arguments[i + 1]) else {
        return fallback
    }
    return v
}

let meterCount = option("--meters", 256)
let days = option("--days", 45)
let hourlyDays = min(days, option("--hourly-days", 5))
let busCount = 4
let data = SyntheticMeters(origin: Timestamp(seconds: 1_767_225_600))

func elapsedMilliseconds(since start: ContinuousClock.Instant) -> Double { (ContinuousClock.now - start).inMilliseconds }

func percentile(_ samples: [Double], _ p: Double) -> Double {
    guard !samples.isEmpty else { return 0 }
    let sorted = samples.sorted()
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
}

func rounded(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }

func must<T>(_ body: () throws -> T) -> T {
    do { return try body() } catch {
        print("{\"error\": \(JSONWriter.quote("\(error)"))}")
        exit(1)
    }
}

var template = Array("/tmp/archive-bench-XXXXXX".utf8CString)
guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else { exit(1) }
let directory = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
let logger = Logger(label: "archive-bench") { _ in SwiftLogNoOpLogHandler() }
let (store, _) = must { try ArchiveStore.open(directory: directory, clock: SystemClock(), logger: logger) }

// 1. Bulk: one transaction per day for all but the last `hourlyDays` days.
let bulkStart = ContinuousClock.now
for day in 0..<(days - hourlyDays) {
    var snapshots: [MeterSnapshot] = []
    snapshots.reserveCapacity(24 * meterCount)
    for hour in 0..<24 {
        for meter in 0..<meterCount { snapshots.append(data.snapshot(meter: meter, interval: day * 24 + hour)) }
    }
    _ = must { try store.performBlocking(.commit(snapshots, source: "bulk day \(day)")) }
}
let bulkSeconds = elapsedMilliseconds(since: bulkStart) / 1000

// 2. Normal operation: every hour, each bus commits its meters in its own transaction.
var commitSamples: [Double] = []
let metersPerBus = (meterCount + busCount - 1) / busCount
for interval in ((days - hourlyDays) * 24)..<(days * 24) {
    for bus in 0..<busCount {
        let meters = (bus * metersPerBus)..<min(meterCount, (bus + 1) * metersPerBus)
        let snapshots = meters.map { data.snapshot(meter: $0, interval: interval) }
        let start = ContinuousClock.now
        _ = must { try store.performBlocking(.commit(snapshots, source: "bus\(bus)")) }
        commitSamples.append(elapsedMilliseconds(since: start))
    }
}

// 3. Size on disk: checkpoint the log fully, then measure the database file.
let path = store.path
store.close()
let checkpoint = must { try SQLiteConnection(path: path, mode: .readWrite(create: false)) }
checkpoint.setBusyTimeout(milliseconds: 10_000)
must { try checkpoint.execute("PRAGMA wal_checkpoint(TRUNCATE)") }
let fileBytes = FileSystem.size(path) ?? 0
let values = Int64(meterCount) * Int64(SyntheticMeters.quantities.count) * Int64(days) * 24
let freePages = must { try checkpoint.queryInt64("PRAGMA freelist_count") } ?? 0

// 4. Queries, on a fresh read-only connection (as the CLI export would).
let reader = must { try ArchiveReader(path: path) }
let midDay = data.intervalStart((days / 2) * 24)
var dayQuerySamples: [Double] = []
var dayRows = 0
for _ in 0..<5 {
    let start = ContinuousClock.now
    dayRows = 0
    must { try reader.forEachSnapshot(from: midDay, to: midDay.adding(seconds: 86_400)) { _ in dayRows += 1 } }
    dayQuerySamples.append(elapsedMilliseconds(since: start))
}
var meterQuerySamples: [Double] = []
var meterRows = 0
for _ in 0..<5 {
    let start = ContinuousClock.now
    meterRows = must { try reader.snapshots(meter: data.meterID(meterCount / 2), from: data.intervalStart(0),
                                            to: data.intervalStart(days * 24)) }.count
    meterQuerySamples.append(elapsedMilliseconds(since: start))
}
let intervalStart = ContinuousClock.now
let oneInterval = must { try reader.snapshots(intervalStart: midDay) }.count
let intervalQueryMs = elapsedMilliseconds(since: intervalStart)

// 5. Retention: five more days pass; prune to 45 days and time each step.
let (pruneStore, reopen) = must { try ArchiveStore.open(directory: directory, clock: SystemClock(), logger: logger) }
let pruneStart = ContinuousClock.now
var pruned = PruneResult()
repeat {
    let r = must { try pruneStore.pruneBlocking(now: data.intervalStart((days + 5) * 24), retentionDays: 45) }
    pruned.snapshotsRemoved += r.snapshotsRemoved
    pruned.steps += r.steps
    pruned.longestStep = max(pruned.longestStep, r.longestStep)
    pruned.complete = r.complete
} while !pruned.complete
let pruneSeconds = elapsedMilliseconds(since: pruneStart) / 1000
pruneStore.close()

// 6. The worst case for the value codec: every value a binary32 with full-precision noise.
var noise = SplitMix64(seed: 42)
var noisyBytes = 0
let noisyRows = 1000
for _ in 0..<noisyRows {
    let slots = (0..<30).map { _ in StoredValue.value(Double(Float(230 + Double(noise.next() % 1_000_000) / 1e5))) }
    noisyBytes += SnapshotCodec.encode(SnapshotRowPayload(gatewayOffsetMilliseconds: 2500, meterTimeOffsetMilliseconds: nil,
                                                          clockUnsynced: false, slots: slots)).count
}

let report: [(String, String)] = [
    ("meters", "\(meterCount)"), ("values_per_snapshot", "\(SyntheticMeters.quantities.count)"), ("days", "\(days)"),
    ("values", "\(values)"), ("file_bytes", "\(fileBytes)"), ("free_pages", "\(freePages)"),
    ("bytes_per_value", "\(rounded(Double(fileBytes) / Double(values)))"),
    ("worst_case_f32_noise_payload_bytes_per_value", "\(rounded(Double(noisyBytes) / Double(noisyRows * 30)))"),
    ("bulk_load_seconds", "\(rounded(bulkSeconds))"),
    ("hourly_commits", "\(commitSamples.count)"), ("meters_per_commit", "\(metersPerBus)"),
    ("commit_ms_p50", "\(rounded(percentile(commitSamples, 0.5)))"),
    ("commit_ms_p99", "\(rounded(percentile(commitSamples, 0.99)))"),
    ("commit_ms_max", "\(rounded(commitSamples.max() ?? 0))"),
    ("one_day_all_meters_query_ms", "\(rounded(percentile(dayQuerySamples, 0.5)))"),
    ("one_day_all_meters_rows", "\(dayRows)"),
    ("one_meter_45_days_query_ms", "\(rounded(percentile(meterQuerySamples, 0.5)))"),
    ("one_meter_45_days_rows", "\(meterRows)"),
    ("one_interval_all_meters_query_ms", "\(rounded(intervalQueryMs))"), ("one_interval_rows", "\(oneInterval)"),
    ("open_quick_check_ms", "\(rounded(reopen.quickCheckDuration.inMilliseconds))"),
    ("prune_snapshots_removed", "\(pruned.snapshotsRemoved)"), ("prune_steps", "\(pruned.steps)"),
    ("prune_step_ms_max", "\(rounded(pruned.longestStep.inMilliseconds))"), ("prune_total_seconds", "\(rounded(pruneSeconds))"),
]
print("{\n" + report.map { "  \"\($0.0)\": \($0.1)" }.joined(separator: ",\n") + "\n}")

if !arguments.contains("--keep") {
    for name in (try? FileSystem.list(directory)) ?? [] { FileSystem.remove(FileSystem.join(directory, name)) }
    rmdir(directory)
}
