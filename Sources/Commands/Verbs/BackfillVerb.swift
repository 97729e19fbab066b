import ConcentratorCore
import Wire

/// `backfill` (reader): queues batches of stored snapshots again (at most 46 days), for the uplink to send.
enum BackfillVerb: CommandVerbHandler {
    static let minimumRole = CommandRole.reader

    static func parse(_ a: CommandArguments) -> CommandAction? {
        let from = a.time("from"), to = a.time("to")
        let ids = a.meters("meters", required: false, limit: 4096) ?? a.context.meters.keys.sorted()
        var series: [SeriesKind] = [.interval]
        if let one = a.object.member("series"), one.value.stringValue != nil {
            // One series as a string ("profile") as well as an array of them.
            guard let s = one.value.stringValue.flatMap(SeriesKind.init(rawValue:)), a.context.series.contains(s) else {
                a.problem(at: "$.args.series", "not a configured series", value: one.value,
                          expected: a.context.series.map(\.rawValue).sorted().joined(separator: ", "))
                return nil
            }
            series = [s]
        } else if let items = a.object.array("series") {
            series = items.compactMap { item in
                guard let s = item.value.stringValue.flatMap(SeriesKind.init(rawValue:)), a.context.series.contains(s) else {
                    a.problem(at: item.path, "not a configured series", value: item.value,
                              expected: a.context.series.map(\.rawValue).sorted().joined(separator: ", "))
                    return nil
                }
                return s
            }
        }
        if let from, let to, !(from < to && to.milliseconds - from.milliseconds <= 46 * 86_400_000) {
            a.problem(at: "$.args.to", "the range must be non-empty and at most 46 days",
                      value: .string(ISO8601.format(to)), expected: "after \(ISO8601.format(from)), within 46 days")
        }
        return from.flatMap { f in to.map { .backfill(from: f, to: $0, meters: ids, series: series) } }
    }

    static func run(from: Timestamp, to: Timestamp, meters: [MeterID], series: [SeriesKind], on device: any CommandDevice) -> CommandOutcome {
        guard let enqueued = device.queueBackfill(from: from, to: to, meters: meters, series: series) else {
            return .failed(.notSupported, "no uplink is running")
        }
        switch enqueued {
        case .success(let n):
            return CommandOutcome(message: "\(n) backfill batches queued for \(ISO8601.format(from)) – \(ISO8601.format(to))",
                                  result: .sortedObject(["enqueued": CanonicalJSON.integer(n)]))
        case .failure(let e): return .failed(.internalError, "backfill not queued: \(e.description)")
        }
    }
}
