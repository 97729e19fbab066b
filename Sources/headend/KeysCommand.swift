import ArgumentParser
import ConcentratorCore
import HeadEnd

/// `headend keys …`
struct KeysGroup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "keys", abstract: "The head-end's own keys.",
                                                    subcommands: [Generate.self])

    /// `headend keys generate --dir DIR [--role ROLE …]`
    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate head-end keys: private files (0600) and public key documents for the devices.",
            discussion: """
                Without --role: a sealing key (X25519), the ack key and the reader, operator and admin command keys
                (Ed25519). With --role sealing: one new sealing key beside the old ones (rotation; keep the old private
                key in the configuration until no device can still hold a batch sealed to it).
                Devices list the sealing and ack documents (*.pub.json) in uplink.headEndKeys.
                """)

        @Option(help: "The key directory (created with mode 0700).") var dir: String
        @Option(name: .customLong("role"), help: "sealing, ack, reader, operator or admin; repeatable (default: all).")
        var roles: [String] = []

        func validate() throws {
            for role in roles where HeadEndKeyRole(rawValue: role) == nil {
                throw ValidationError("--role \(role) is not one of: \(HeadEndKeyRole.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }

        func run() throws {
            let wanted = roles.isEmpty ? HeadEndKeyRole.allCases : roles.compactMap(HeadEndKeyRole.init(rawValue:))
            let generated: [GeneratedHeadEndKey]
            do { generated = try HeadEndKeyDirectory(path: dir).generate(roles: wanted) } catch {
                Output.error("\(error)")
                throw ExitCode(ExitStatus.failure)
            }
            for key in generated {
                Output.stdout("""
                    \(key.role.rawValue) \(key.role.algorithm.rawValue) id \(key.id)  \(key.fingerprint)
                      private \(key.privateKeyPath)
                      public  \(key.publicDocumentPath)

                    """)
            }
            Output.stdout("Give the devices the sealing and ack public documents (uplink.headEndKeys); keep the .key files here.\n")
        }
    }
}
