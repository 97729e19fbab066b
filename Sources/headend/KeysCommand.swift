import ArgumentParser
import ConcentratorCore
import HeadEnd
import Platform
import KeyFiles
import Wire

/// `headend keys …`
struct KeysGroup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "keys", abstract: "The head-end's own keys.",
                                                    subcommands: [Generate.self, Show.self])

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
                let document = try? PublicKeyDocument.load(path: key.publicDocumentPath)
                Output.stdout("""
                    \(key.role.rawValue) \(key.role.algorithm.rawValue) id \(key.id)  \(key.fingerprint)
                      private \(key.privateKeyPath)
                      public  \(key.publicDocumentPath)
                      console \(document.map { KeyText.format($0.publicKey) } ?? "?")

                    """)
            }
            Output.stdout("Give the devices the sealing and ack public documents (uplink.headEndKeys); keep the .key files here.\n")
        }
    }

    /// `headend keys show --dir DIR [--json]`
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the head-end's public keys: role, id, fingerprint, and the key in the console's form.",
            discussion: """
                The console form is the key in hex followed by its 8-digit CRC-32 check (Docs/console.md, "Keys"): the
                installer types or pastes it in the console's keys screen (keys -> headend), and the check digits catch a
                mistyped digit. With --json: the public key documents, each with "console" added.
                """)

        @Option(help: "The key directory (as given to keys generate).") var dir: String
        @Flag(help: "JSON instead of text.") var json = false

        func run() throws {
            let names: [String]
            do { names = try FileSystem.list(dir).filter { $0.hasSuffix(".pub.json") }.sorted() } catch {
                Output.error("\(error)")
                throw ExitCode(ExitStatus.failure)
            }
            var documents: [JSONValue] = []
            for name in names {
                let document: PublicKeyDocument
                do { document = try PublicKeyDocument.load(path: FileSystem.join(dir, name)) } catch {
                    Output.error("\(error)")
                    throw ExitCode(ExitStatus.dataError)
                }
                let console = KeyText.format(document.publicKey)
                if json {
                    guard var members = (try? JSONParser.parse(document.rendered()))?.members else { continue }
                    members.append(JSONMember(key: "console", value: .string(console)))
                    documents.append(.object(members))
                } else {
                    Output.stdout("\(document.role) \(document.algorithm.rawValue) id \(document.id)  \(publicKeyFingerprint(document.publicKey))\n"
                        + "  console \(console)\n")
                }
            }
            if json { Output.stdout(JSONWriter.render(.array(documents), pretty: true) + "\n") }
            if names.isEmpty { Output.stdout("no public keys in \(dir) (headend keys generate makes them)\n") }
        }
    }
}
