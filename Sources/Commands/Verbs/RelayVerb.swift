import ConcentratorCore
import Wire

/// `relay` (operator): connects, disconnects or reports a meter's load relay (its profile declares it).
enum RelayVerb: CommandVerbHandler {
    static let minimumRole = CommandRole.operator

    static func parse(_ a: CommandArguments) -> CommandAction? {
        let operation = a.object.string("action", required: true, allowed: RelayOperation.allCases.map(\.rawValue))
            .flatMap(RelayOperation.init(rawValue:))
        let id = a.object.string("meter", required: true, maxLength: 64).map { MeterID($0) }
        if let id {
            if let meter = a.context.meters[id] {
                if !meter.hasRelay { a.meterProblem = CommandRejection(.notSupported, "meter \(id)'s profile declares no relay") }
            } else {
                a.meterProblem = CommandRejection(.unknownMeter, "no meter \(id) in the configuration")
            }
        }
        let deadline = a.milliseconds("startDeadlineMilliseconds", default: 10_000, in: 100...60_000)
        return id.flatMap { m in operation.map { .relay(meter: m, operation: $0, startDeadline: deadline) } }
    }

    static func run(meter: MeterID, operation: RelayOperation, startDeadline: Duration, on device: any CommandDevice) -> CommandOutcome {
        let wanted: Bool? = switch operation {
        case .connect: true
        case .disconnect: false
        case .status: nil
        }
        guard let result = device.setRelay(meter: meter, connected: wanted, startDeadline: startDeadline) else {
            return .failed(.unknownMeter, "meter \(meter) is on no running bus")
        }
        switch result {
        case .success(let connected):
            return CommandOutcome(message: "meter \(meter) relay \(connected ? "connected" : "disconnected")",
                                  result: .sortedObject(["meter": .string(meter.rawValue), "connected": .bool(connected)]))
        case .failure(let e): return .failed(e)
        }
    }
}
