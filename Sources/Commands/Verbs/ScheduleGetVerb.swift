import ConcentratorCore
import Wire

/// `schedule.get` (operator): each managed output's schedule (configured or set at run time), timers,
/// override and current decision with its next switching; `{"output": id}` for one output.
enum ScheduleGetVerb: CommandVerbHandler {
    static let minimumRole = CommandRole.operator

    static func parse(_ a: CommandArguments) -> CommandAction? {
        let output = a.object.string("output", maxLength: 64)
        if let output, !a.context.outputs.contains(output) {
            a.problem(at: "$.args.output", "unknown output", value: .string(output),
                      expected: "an output of monitoring.outputs: " + (a.context.outputs.isEmpty ? "(none configured)"
                                                                        : a.context.outputs.joined(separator: ", ")))
        }
        return .scheduleGet(output: output)
    }

    static func run(output: String?, on device: any CommandDevice) -> CommandOutcome {
        guard let report = device.scheduleReport(output: output) else {
            return .failed(.notSupported, "edge monitoring does not run on this device (no \"monitoring\" section with a location)")
        }
        return CommandOutcome(message: output.map { "schedule of \($0)" } ?? "schedules", result: report)
    }
}
