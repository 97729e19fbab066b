import ConcentratorCore
import Wire

/// `config.set` (admin): a whole new configuration or an RFC 7396 merge patch, validated as at start
/// and applied as a trial: rolled back unless the head-end acknowledges it in time.
enum ConfigSetVerb: CommandVerbHandler {
    static let minimumRole = CommandRole.admin

    static func parse(_ a: CommandArguments) -> CommandAction? {
        let document = a.object.member("config")?.value, patch = a.object.member("patch")?.value
        switch (document, patch) {
        case (let d?, nil) where d.members != nil: return .configSet(.document(d))
        case (nil, let p?) where p.members != nil: return .configSet(.mergePatch(p))
        default:
            a.problem(at: "$.args", "needs exactly one of \"config\" and \"patch\"",
                      expected: "{\"config\": {…}} (the whole file) or {\"patch\": {…}} (an RFC 7396 merge patch)")
            return nil
        }
    }

    static func run(_ change: ConfigChange, envelope: CommandEnvelope, signer: KeyID, on device: any CommandDevice) -> CommandOutcome {
        device.changeConfiguration(envelope: envelope, signer: signer, trial: true) { ConfigurationEdit.applying(change, to: $0) }
    }
}
