import Agent
import ArgumentParser
import ConcentratorCore
import KeyFiles
import Platform

/// `concentrator keys …`
struct KeysGroup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "keys", abstract: "The device's keys.",
                                                    subcommands: [Show.self])

    /// `concentrator keys show`: public keys and fingerprints for registration at the head-end.
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the device's public keys and fingerprints (generating them at first use); never a secret.")

        @OptionGroup var options: ConfigOption
        @Flag(help: "Print the public key documents as one JSON array, the file `headend devices add --key FILE` registers.")
        var documents = false

        func run() throws {
            let setup = try loadSetupOrExit(options.config)
            let device = setup.config.device
            let keys: DeviceKeys
            do {
                keys = try DeviceKeyStore(stateDirectory: device.stateDirectory).loadOrCreate().keys
            } catch {
                Output.error("\(error)")
                throw ExitCode(ExitStatus.failure)
            }
            if documents {
                let docs = keys.publicDocuments(deviceID: device.id).map { String($0.rendered().reversed().drop { $0.isWhitespace }.reversed()) }
                LogOutputLine.stdout("[\n" + docs.joined(separator: ",\n") + "\n]")
            } else {
                LogOutputLine.stdout(keys.summary(deviceID: device.id))
            }
        }
    }
}
