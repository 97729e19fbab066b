import ConcentratorCore
import Wire

/// `meters.remove` (operator): removes configured meters and reloads (their stored data stays).
enum MetersRemoveVerb: CommandVerbHandler {
    static let minimumRole = CommandRole.operator

    static func parse(_ a: CommandArguments) -> CommandAction? {
        a.meters("meters", required: true).map { .metersRemove($0) }
    }

    static func run(meters: [MeterID], envelope: CommandEnvelope, signer: KeyID, on device: any CommandDevice) -> CommandOutcome {
        device.changeConfiguration(envelope: envelope, signer: signer, trial: false) { ConfigurationEdit.removingMeters(meters, from: $0) }
    }
}
