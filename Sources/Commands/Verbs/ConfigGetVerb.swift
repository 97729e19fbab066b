import ConcentratorCore
import Platform
import Wire

/// `config.get` (admin): the configuration file in force, and the deadline of a running trial.
enum ConfigGetVerb: CommandVerbHandler {
    static let minimumRole = CommandRole.admin

    static func parse(_ arguments: CommandArguments) -> CommandAction? { .configGet }

    static func run(on device: any CommandDevice) -> CommandOutcome {
        let configuration = device.configurationInForce()
        let document: JSONValue
        do { document = try JSONParser.parse(try FileSystem.readText(configuration.path)) } catch {
            return .failed(.internalError, "cannot read \(configuration.path): \(error)")
        }
        var result: [String: JSONValue] = ["path": .string(configuration.path), "config": document]
        if let deadline = configuration.trialDeadline {
            result["trialDeadline"] = CanonicalJSON.integer(deadline.milliseconds)
        }
        return CommandOutcome(message: "configuration of \(configuration.deviceID)", result: .sortedObject(result))
    }
}
