import ConcentratorCore
import Wire

/// `scan` (operator): asks a bus's owner to probe an address range with the Modbus profiles the
/// device knows, and answers with what answered.
enum ScanVerb: CommandVerbHandler {
    static let minimumRole = CommandRole.operator

    static func parse(_ a: CommandArguments) -> CommandAction? {
        let bus = a.object.string("bus", required: true, maxLength: 64).map { BusName($0) }
        if let bus, !a.context.buses.contains(bus) {
            a.problem(at: "$.args.bus", "unknown bus", value: .string(bus.rawValue),
                      expected: a.context.buses.map(\.rawValue).joined(separator: ", "))
        }
        let from = a.object.int("from", in: 1...247) ?? 1, to = a.object.int("to", in: 1...247) ?? 247
        if from > to {
            a.problem(at: "$.args.to", "ends before it starts", value: .number(Double(to), text: String(to)), expected: "at least \(from)")
        }
        let timeout = a.milliseconds("timeoutMilliseconds", default: 250, in: 20...2000)
        return bus.map { .scan(bus: $0, addresses: UInt8(from)...UInt8(max(from, to)), timeout: timeout) }
    }

    static func run(bus: BusName, addresses: ClosedRange<UInt8>, timeout: Duration, on device: any CommandDevice) -> CommandOutcome {
        guard let scanned = device.scan(bus: bus, addresses: addresses, timeout: timeout) else {
            return .failed(.invalidArguments, "bus \(bus) is not running")
        }
        switch scanned {
        case .success(let hits):
            let list = hits.map { hit in
                var members: [String: JSONValue] = ["address": CanonicalJSON.integer(hit.address),
                                                    "profile": hit.profile.map(JSONValue.string) ?? .null, "detail": .string(hit.detail)]
                if hit.isGarbled { members["garbled"] = .bool(true) }
                return JSONValue.sortedObject(members)
            }
            return CommandOutcome(message: "\(hits.count) meters answered on \(bus) \(addresses.lowerBound)–\(addresses.upperBound)",
                                  result: .sortedObject(["bus": .string(bus.rawValue), "hits": .array(list)]))
        case .failure(let e): return .failed(e)
        }
    }
}
