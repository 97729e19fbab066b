import ConcentratorCore
import Wire

/// `meters.add` (operator): adds meter objects (as in the configuration's `meters` array) and reloads.
enum MetersAddVerb: CommandVerbHandler {
    static let minimumRole = CommandRole.operator

    static func parse(_ a: CommandArguments) -> CommandAction? {
        let items = a.object.array("meters", required: true)
        if let items, items.isEmpty || items.count > 64 {
            a.problem(at: "$.args.meters", "must hold 1–64 meter objects")
        }
        for item in items ?? [] where item.value.members == nil {
            a.problem(at: item.path, "wrong type", value: item.value, expected: "a meter object as in the configuration")
        }
        return items.map { .metersAdd($0.map(\.value)) }
    }

    static func run(meters: [JSONValue], envelope: CommandEnvelope, signer: KeyID, on device: any CommandDevice) -> CommandOutcome {
        device.changeConfiguration(envelope: envelope, signer: signer, trial: false) { (document) throws(CommandRejection) -> JSONValue in
            try ConfigurationEdit.addingMeters(meters, to: document)
        }
    }
}
