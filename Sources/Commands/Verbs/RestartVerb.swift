import ConcentratorCore

/// `restart` (admin): answers first, then the agent restarts itself (after the reply is published).
enum RestartVerb: CommandVerbHandler {
    static let minimumRole = CommandRole.admin

    static func parse(_ arguments: CommandArguments) -> CommandAction? { .restart }

    static func run(on device: any CommandDevice) -> CommandOutcome {
        CommandOutcome(message: "restarting now", result: .sortedObject(["restarting": .bool(true)])) { device.requestRestart() }
    }
}
