#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Archive
import ConcentratorCore
import Platform
import SQLite

/// The hidden `--crash-check <dir> <log>` mode: after the crash writer has been killed any number of
/// times, verifies the archive against its log and prints one JSON object. Exit status 0 only when
///  - `PRAGMA integrity_check` says ok;
///  - every interval and bus logged as archived is stored, with exactly the values the writer made;
///  - every stored (interval, bus) group is whole (8 meters: a transaction is never half-stored), and
///    no stored row has values other than the writer's;
///  - the stored crash counter is at least every value the writer logged (persisted before use);
///  - every logged outbox sequence is stored with its payload.
enum CrashCheck {
    static func run(directory: String, logPath: String) -> Never {
        let path = FileSystem.join(directory, "archive.sqlite")
        var report: [(String, String)] = []
        var ok = true
        func fail(_ message: String) -> Never {
            print("{\"ok\": false, \"error\": \(JSONWriter.quote(message))}")
            exit(1)
        }
        do {
            let log = parseLog((try? FileSystem.readText(logPath)) ?? "")
            // A read-write connection recovers the log left by the killed writer, then checks the file.
            let check = try SQLiteConnection(path: path, mode: .readWrite(create: false))
            check.setBusyTimeout(milliseconds: 5000)
            let integrity = try check.withStatement("PRAGMA integrity_check") { s in
                var lines: [String] = []
                while try s.step() { lines.append(s.text(0)) }
                return lines.joined(separator: "; ")
            }
            ok = ok && integrity == "ok"
            report.append(("integrity", JSONWriter.quote(integrity)))

            let reader = try ArchiveReader(path: path)
            var groups: [String: Int] = [:]
            var wrongValues = 0
            let end = CrashWriter.origin.adding(seconds: Int64(log.maxInterval + 10) * 3600)
            try reader.forEachSnapshot(from: CrashWriter.origin, to: end) { s in
                let interval = Int((s.intervalStart.milliseconds - CrashWriter.origin.milliseconds) / 3_600_000)
                guard let meter = Int(s.meter.rawValue.dropFirst(2)),
                      let bus = CrashWriter.buses.first(where: { $0.meters.contains(meter) }) else {
                    wrongValues += 1
                    return
                }
                if s != CrashWriter.snapshot(meter: meter, interval: interval) { wrongValues += 1 }
                groups["\(interval) \(bus.name)", default: 0] += 1
            }
            let partial = groups.values.filter { $0 != 8 }.count
            let missing = log.archived.filter { groups[$0] != 8 }.count
            ok = ok && wrongValues == 0 && partial == 0 && missing == 0 && !log.archived.isEmpty
            report += [("archived_logged", "\(log.archived.count)"), ("groups_stored", "\(groups.count)"),
                       ("missing", "\(missing)"), ("partial_groups", "\(partial)"), ("wrong_values", "\(wrongValues)")]

            let stored = try reader.counterValue("crash") ?? 0
            ok = ok && stored >= (log.counters.max() ?? 0)
            report += [("counter_max_logged", "\(log.counters.max() ?? 0)"), ("counter_stored", "\(stored)")]

            let pending = try reader.outboxPending(limit: Int.max)
            let bySequence = Dictionary(pending.map { ($0.sequence, $0) }, uniquingKeysWith: { a, _ in a })
            let outboxMissing = log.outbox.filter { sequence, interval in
                bySequence[sequence]?.item.payload != Array(repeating: UInt8(interval & 0xFF), count: 32)
            }.count
            ok = ok && outboxMissing == 0
            report += [("outbox_logged", "\(log.outbox.count)"), ("outbox_missing", "\(outboxMissing)")]
        } catch {
            fail("\(error)")
        }
        print("{\"ok\": \(ok), " + report.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
        exit(ok ? 0 : 1)
    }

    struct Log {
        var archived: Set<String> = []
        var counters: [Int64] = []
        var outbox: [(Int64, Int)] = []
        var maxInterval = 0
    }

    static func parseLog(_ text: String) -> Log {
        var log = Log()
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        lines.removeLast() // empty after the final newline, or a line cut short: ignored either way
        for line in lines {
            let f = line.split(separator: " ")
            switch f.first {
            case "archived" where f.count == 3:
                log.archived.insert("\(f[1]) \(f[2])")
                log.maxInterval = max(log.maxInterval, Int(f[1]) ?? 0)
            case "counter" where f.count == 2: if let v = Int64(f[1]) { log.counters.append(v) }
            case "outbox" where f.count == 3: if let s = Int64(f[1]), let i = Int(f[2]) { log.outbox.append((s, i)) }
            default: break
            }
        }
        return log
    }
}
