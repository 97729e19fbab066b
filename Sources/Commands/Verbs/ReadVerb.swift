import ConcentratorCore
import Wire

/// `read` (reader): reads meters now, through their bus owners (queued to them, never beside them),
/// and answers with the values, or a per-meter error.
enum ReadVerb: CommandVerbHandler {
    static let minimumRole = CommandRole.reader

    static func parse(_ a: CommandArguments) -> CommandAction? {
        let ids = a.meters("meters", required: true)
        var quantities: [QuantityID]?
        if let items = a.object.array("quantities") {
            quantities = items.compactMap { item -> QuantityID? in
                guard let s = item.value.stringValue, QuantityCatalog.definition(of: QuantityID(s)) != nil else {
                    a.problem(at: item.path, "unknown quantity", value: item.value,
                              expected: "a quantity id such as voltage_l1 (Docs/mqtt-api.md §8)")
                    return nil
                }
                return QuantityID(s)
            }
        }
        let deadline = a.milliseconds("startDeadlineMilliseconds", default: 10_000, in: 100...60_000)
        return ids.map { .read(meters: $0, quantities: quantities, startDeadline: deadline) }
    }

    static func run(meters: [MeterID], quantities: [QuantityID]?, startDeadline: Duration, on device: any CommandDevice) -> CommandOutcome {
        var results: [JSONValue] = []
        var answered = 0
        for meter in meters {
            guard let read = device.readMeter(meter, quantities: quantities.map(Set.init), startDeadline: startDeadline) else {
                return .failed(.unknownMeter, "meter \(meter) is on no running bus")
            }
            switch read {
            case .success(let snapshot):
                answered += 1
                results.append(snapshotJSON(snapshot))
            case .failure(.busBusy(let name, let waited)):
                return .failed(.busBusy, "bus \(name) stayed busy for \(waited) ms (start deadline); nothing was read")
            case .failure(.transaction(let id, let error)):
                results.append(.sortedObject(["meter": .string(id.rawValue), "error": .string(error.description),
                                              "errorCode": CanonicalJSON.integer(error.rawValue)]))
            case .failure(let e):
                return .failed(e)
            }
        }
        let code: CommandReplyCode = answered == 0 ? .meterError : .ok
        return CommandOutcome(code: code, message: "\(answered) of \(meters.count) meters answered",
                              result: .sortedObject(["meters": .array(results)]))
    }

    private static func snapshotJSON(_ s: MeterSnapshot) -> JSONValue {
        var members: [String: JSONValue] = ["meter": .string(s.meter.rawValue), "time": CanonicalJSON.integer(s.gatewayTime.milliseconds)]
        if let meterTime = s.meterTime { members["meterTime"] = CanonicalJSON.integer(meterTime.milliseconds) }
        members["values"] = .array(s.readings.map { r in
            var v: [String: JSONValue] = ["quantity": .string(r.quantity.rawValue), "unit": .string(r.unit.rawValue)]
            if let value = r.value, value.isFinite { v["value"] = .number(value, text: "\(value)") }
            if let error = r.quality.error {
                v["error"] = .string(error.description)
                v["errorCode"] = CanonicalJSON.integer(error.rawValue)
            }
            return .sortedObject(v)
        })
        return .sortedObject(members)
    }
}
