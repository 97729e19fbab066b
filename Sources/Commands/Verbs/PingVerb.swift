import ConcentratorCore
import Wire

/// `ping` (reader): answers `pong` with the agent's version and the device's clock.
enum PingVerb: CommandVerbHandler {
    static let minimumRole = CommandRole.reader

    static func parse(_ arguments: CommandArguments) -> CommandAction? { .ping }

    static func run(on device: any CommandDevice) -> CommandOutcome {
        CommandOutcome(message: "pong", result: .sortedObject(["agent": .string(ConcentratorVersion.current),
                                                               "time": CanonicalJSON.integer(device.now().milliseconds)]))
    }
}
