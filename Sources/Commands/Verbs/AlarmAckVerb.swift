import ConcentratorCore
import Wire

/// `alarm.ack` (operator): acknowledges an open alarm, `{"rule": id, "meter": id}`. The reply's result
/// says what happened: `acknowledged` (raised → acknowledged, sent at once as a `meter_alarm` event),
/// `already-acknowledged` or `not-open` (with the phase); an alarm no rule defines is refused
/// (`invalid-arguments`). Docs/edge-monitoring.md, "States".
enum AlarmAckVerb: CommandVerbHandler {
    static let minimumRole = CommandRole.operator

    static func parse(_ a: CommandArguments) -> CommandAction? {
        let rule = ConfigurationLoader.identifier(a.object, "rule", required: true)
        let meter = a.object.string("meter", required: true, maxLength: 64).map { MeterID($0) }
        if let meter, a.context.meters[meter] == nil {
            a.meterProblem = CommandRejection(.unknownMeter, "no meter \(meter) in the configuration")
        }
        guard let rule, let meter else { return nil }
        return .alarmAck(rule: rule, meter: meter)
    }

    static func run(rule: String, meter: MeterID, on device: any CommandDevice) -> CommandOutcome {
        guard let result = device.acknowledgeAlarm(rule: rule, meter: meter) else {
            return .failed(.notSupported, "edge monitoring does not run on this device (no \"monitoring\" section)")
        }
        var members: [String: JSONValue] = ["rule": .string(rule), "meter": .string(meter.rawValue)]
        let message: String
        switch result {
        case .acknowledged(let occurrence):
            members["outcome"] = .string("acknowledged")
            members["phase"] = .string("acknowledged")
            members["occurrence"] = CanonicalJSON.integer(Int64(occurrence))
            message = "alarm \(rule)@\(meter) acknowledged"
        case .alreadyAcknowledged:
            members["outcome"] = .string("already-acknowledged")
            members["phase"] = .string("acknowledged")
            message = "alarm \(rule)@\(meter) was already acknowledged"
        case .notOpen(let phase):
            members["outcome"] = .string("not-open")
            members["phase"] = .string(phase)
            message = "alarm \(rule)@\(meter) is not open (\(phase)); nothing to acknowledge"
        case .unknownAlarm:
            return .failed(.invalidArguments, "no alarm rule \(rule) watches meter \(meter)")
        }
        return CommandOutcome(message: message, result: .sortedObject(members))
    }
}
