import ConcentratorCore
import Wire

/// `schedule.set` (operator): changes an output's switching at run time — exactly one of `schedule`,
/// `override`, `timer` (each as in config.json's `monitoring` section, read by the same loader code)
/// or `remove` (`{"output": id, "what": "schedule"|"override"|"timers"}`). Kept in the device's
/// archive (not in config.json), so it survives restarts. The result is the output's report, as
/// `schedule.get` gives it.
enum ScheduleSetVerb: CommandVerbHandler {
    static let minimumRole = CommandRole.operator

    static func parse(_ a: CommandArguments) -> CommandAction? {
        guard let change = ConfigurationLoader.readScheduleChange(a.object, outputs: a.context.outputs) else { return nil }
        let arguments = JSONValue.object(["schedule", "override", "timer", "remove"].compactMap { a.object.has($0) ? a.object.member($0) : nil })
        return .scheduleSet(change, arguments: arguments)
    }

    static func run(_ change: ScheduleChange, arguments: JSONValue, on device: any CommandDevice) -> CommandOutcome {
        guard let result = device.changeSchedule(change, arguments: arguments) else {
            return .failed(.notSupported, "edge monitoring does not run on this device (no \"monitoring\" section with a location)")
        }
        switch result {
        case .success(let report):
            return CommandOutcome(message: "schedule of \(change.output) changed", result: report)
        case .failure(let rejection):
            return .failed(rejection.code, rejection.message)
        }
    }
}
