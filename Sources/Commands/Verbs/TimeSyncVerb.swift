import ConcentratorCore
import Wire

/// `time.sync` (operator): reports the gateway's clock state and sets meter clocks that drifted
/// beyond the threshold (meters whose profiles declare a settable clock).
enum TimeSyncVerb: CommandVerbHandler {
    static let minimumRole = CommandRole.operator

    static func parse(_ a: CommandArguments) -> CommandAction? {
        let withClock = a.context.meters.filter(\.value.hasClock).keys.sorted()
        let ids = a.meters("meters", required: false, limit: 4096) { id, meter in
            meter.hasClock ? nil : CommandRejection(.notSupported, "meter \(id)'s profile declares no settable clock")
        } ?? withClock
        let threshold = Duration.seconds(a.object.int("thresholdSeconds", in: 1...86_400) ?? 10)
        let deadline = a.milliseconds("startDeadlineMilliseconds", default: 10_000, in: 100...60_000)
        return .timeSync(meters: ids, threshold: threshold, startDeadline: deadline)
    }

    static func run(meters: [MeterID], threshold: Duration, startDeadline: Duration, envelope: CommandEnvelope,
                    on device: any CommandDevice) -> CommandOutcome {
        let now = device.now()
        var results: [JSONValue] = []
        var set = 0
        for meter in meters {
            guard let result = device.synchroniseClock(meter: meter, threshold: threshold, startDeadline: startDeadline) else {
                return .failed(.unknownMeter, "meter \(meter) is on no running bus")
            }
            switch result {
            case .success(let sync):
                var members: [String: JSONValue] = ["meter": .string(meter.rawValue),
                                                    "driftMilliseconds": CanonicalJSON.integer(sync.before.driftMilliseconds),
                                                    "set": .bool(sync.after != nil)]
                if let after = sync.after {
                    set += 1
                    members["driftAfterMilliseconds"] = CanonicalJSON.integer(after.driftMilliseconds)
                }
                results.append(.sortedObject(members))
            case .failure(.busBusy(let name, let waited)):
                return .failed(.busBusy, "bus \(name) stayed busy for \(waited) ms (start deadline); no clock was touched")
            case .failure(.transaction(let id, let error)):
                results.append(.sortedObject(["meter": .string(id.rawValue), "error": .string(error.description)]))
            case .failure(let e):
                return .failed(e)
            }
        }
        let synchronised = device.gatewayClockSynchronised()
        let offset = now.milliseconds - envelope.issuedAt.milliseconds
        return CommandOutcome(message: "gateway clock \(synchronised ? "synchronised" : "NOT synchronised"); \(set) of \(meters.count) meter clocks set",
                              result: .sortedObject(["gatewayTime": CanonicalJSON.integer(now.milliseconds),
                                                     "clockSynchronised": .bool(synchronised),
                                                     "offsetFromIssuedAtMilliseconds": CanonicalJSON.integer(offset),
                                                     "thresholdSeconds": CanonicalJSON.integer(Int64(threshold.inSeconds)),
                                                     "meters": .array(results)]))
    }
}
