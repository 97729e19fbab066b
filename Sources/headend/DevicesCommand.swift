import ArgumentParser
import ConcentratorCore
import HeadEnd
import KeyFiles
import Platform
import Wire

/// `headend devices …`: the registry of devices and their public keys.
struct DevicesGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices", abstract: "The registry of known devices and their public keys (seen by a running head-end at once).",
        subcommands: [Add.self, List.self, Remove.self, Pending.self, Approve.self, Dismiss.self])

    /// `headend devices add --id ID --key FILE [--key FILE …]`
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a device, or add keys to it (a new signing key sits beside the old one).",
            discussion: "Each --key file holds one public key document, or a JSON array of them, as `concentrator keys show` writes.")

        @OptionGroup var options: DatabaseOption
        @Option(help: "The device id.") var id: String
        @Option(name: .customLong("key"), help: "A public key document of the device; repeatable.") var keyFiles: [String]

        func run() throws {
            var documents: [PublicKeyDocument] = []
            do {
                for path in keyFiles { documents += try PublicKeyDocuments.load(path: path) }
            } catch {
                Output.error("\(error)")
                throw ExitCode(ExitStatus.dataError)
            }
            let database = try openDatabase(options)
            defer { database.close() }
            do {
                let added = try database.registerDevice(id, keys: documents, at: SystemClock().now())
                let known = documents.filter { !added.contains($0.id) }
                for doc in documents where added.contains(doc.id) {
                    Output.stdout("added \(doc.algorithm.rawValue) key \(doc.id) (\(publicKeyFingerprint(doc.publicKey))) to \(id)\n")
                }
                for doc in known { Output.stdout("key \(doc.id) was already registered for \(id)\n") }
            } catch {
                Output.error("\(error)")
                throw ExitCode(ExitStatus.dataError)
            }
        }
    }

    /// `headend devices list [--json]`
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List devices with their key ids and fingerprints.")

        @OptionGroup var options: DatabaseOption
        @Flag(help: "JSON instead of text.") var json = false

        func run() throws {
            let database = try openDatabase(options)
            defer { database.close() }
            let devices: [RegisteredDevice]
            do { devices = try database.devices() } catch {
                Output.error("\(error)")
                throw ExitCode(ExitStatus.failure)
            }
            if json {
                Output.stdout(JSONWriter.render(.array(devices.map(Self.json)), pretty: true) + "\n")
                return
            }
            if devices.isEmpty { Output.stdout("no devices\n") }
            for device in devices {
                Output.stdout("\(device.name)\(device.registered ? "" : " (removed)")  added \(ISO8601.format(device.added))\n")
                for key in device.keys { Output.stdout("  \(key.algorithm.rawValue)  id \(key.id)  \(key.fingerprint)\n") }
            }
        }

        static func json(_ device: RegisteredDevice) -> JSONValue {
            .object([
                JSONMember(key: "device", value: .string(device.name)),
                JSONMember(key: "registered", value: .bool(device.registered)),
                JSONMember(key: "added", value: .string(ISO8601.format(device.added))),
                JSONMember(key: "keys", value: .array(device.keys.map { key in
                    .object([JSONMember(key: "algorithm", value: .string(key.algorithm.rawValue)),
                             JSONMember(key: "id", value: .string(key.id.hex)),
                             JSONMember(key: "fingerprint", value: .string(key.fingerprint))])
                })),
            ])
        }
    }

    /// `headend devices remove --id ID [--key-id KEYID]`
    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Unregister a device (its data stays), or revoke one of its keys with --key-id.")

        @OptionGroup var options: DatabaseOption
        @Option(help: "The device id.") var id: String
        @Option(help: "Revoke only this key (16 hex digits).") var keyID: String?

        func validate() throws {
            if let keyID, KeyID(hex: keyID) == nil { throw ValidationError("--key-id must be 16 hexadecimal digits") }
        }

        func run() throws {
            let database = try openDatabase(options)
            defer { database.close() }
            do {
                if let keyID, let key = KeyID(hex: keyID) {
                    guard try database.revokeKey(key, ofDevice: id) else {
                        Output.error("device \(id) has no key \(keyID)")
                        throw ExitCode(ExitStatus.dataError)
                    }
                    Output.stdout("revoked key \(key) of \(id)\n")
                } else {
                    guard try database.unregisterDevice(id) else {
                        Output.error("device \(id) is not registered")
                        throw ExitCode(ExitStatus.dataError)
                    }
                    Output.stdout("removed \(id); its stored data is kept\n")
                }
            } catch let e as HeadEndError {
                Output.error("\(e)")
                throw ExitCode(ExitStatus.failure)
            }
        }
    }
}

/// `headend devices pending [--json]`
struct Pending: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List enrolment requests waiting for approval, with the fingerprint to compare with the installer's.")

    @OptionGroup var options: DatabaseOption
    @Flag(help: "JSON instead of text.") var json = false

    func run() throws {
        let database = try openDatabaseForReading(options)
        defer { database.close() }
        let pending: [PendingEnrolment]
        do { pending = try database.pendingEnrolments() } catch {
            Output.error("\(error)")
            throw ExitCode(ExitStatus.failure)
        }
        if json {
            Output.stdout(JSONWriter.render(.array(pending.map { p in
                .object([JSONMember(key: "device", value: .string(p.device)), JSONMember(key: "keyId", value: .string(p.keyID)),
                         JSONMember(key: "fingerprint", value: .string(p.fingerprint)), JSONMember(key: "installer", value: .string(p.installer)),
                         JSONMember(key: "note", value: .string(p.note)), JSONMember(key: "time", value: .string(ISO8601.format(p.time))),
                         JSONMember(key: "received", value: .string(ISO8601.format(p.received))),
                         JSONMember(key: "registered", value: .bool(p.registered))])
            }), pretty: true) + "\n")
            return
        }
        if pending.isEmpty { Output.stdout("no enrolment requests pending\n") }
        for p in pending {
            Output.stdout("\(p.device)\(p.registered ? " (registered; adds a key)" : "")  installer \(p.installer)  received \(ISO8601.format(p.received))\n"
                + (p.note.isEmpty ? "" : "  site \(p.note)\n")
                + "  signing key \(p.keyID)  \(p.fingerprint)\n"
                + "  approve after comparing: headend devices approve --id \(p.device) --fingerprint <what the installer reads>\n")
        }
    }
}

/// `headend devices approve --id ID --fingerprint F`
struct Approve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Approve a pending enrolment: registers the device with the keys it sent, if the fingerprint matches.",
        discussion: "--fingerprint is the one the installer reads from the console: the whole sha256:… or at least its first 16 hex digits.")

    @OptionGroup var options: DatabaseOption
    @Option(help: "The device id.") var id: String
    @Option(help: "The device's signing key fingerprint as the installer reads it.") var fingerprint: String

    func run() throws {
        let database = try openDatabase(options)
        defer { database.close() }
        do {
            let added = try database.approveEnrolment(device: id, fingerprint: fingerprint, at: SystemClock().now())
            Output.stdout("approved \(id): registered keys \(added.map(\.hex).joined(separator: ", ")); its batches are accepted from now on\n")
        } catch {
            Output.error("\(error)")
            throw ExitCode(ExitStatus.dataError)
        }
    }
}

/// `headend devices dismiss --id ID`
struct Dismiss: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Drop a pending enrolment request without registering the device.")

    @OptionGroup var options: DatabaseOption
    @Option(help: "The device id.") var id: String

    func run() throws {
        let database = try openDatabase(options)
        defer { database.close() }
        do {
            guard try database.dismissEnrolment(device: id) else {
                Output.error("no enrolment request of \(id) is pending")
                throw ExitCode(ExitStatus.dataError)
            }
            Output.stdout("dismissed the enrolment request of \(id)\n")
        } catch let e as HeadEndError {
            Output.error("\(e)")
            throw ExitCode(ExitStatus.failure)
        }
    }
}

/// Opens the database for writing (creating it when missing), or exits with a message.
func openDatabase(_ options: DatabaseOption) throws -> any HeadEndStore {
    let location = try options.databaseLocation()
    do { return try HeadEndStores.open(location, now: SystemClock().now(), applicationName: "headend-cli") } catch {
        Output.error("cannot open the database: \(error)")
        throw ExitCode(ExitStatus.unavailable)
    }
}

/// Public key documents from a file: one document, or a JSON array of documents.
enum PublicKeyDocuments {
    static func load(path: String) throws -> [PublicKeyDocument] {
        let text = try FileSystem.readText(path)
        guard let items = (try? JSONParser.parse(text))?.arrayValue else { return [try PublicKeyDocument.parse(text, path: path)] }
        return try items.enumerated().map { index, item in
            try PublicKeyDocument.parse(JSONWriter.render(item, pretty: false), path: "\(path)[\(index)]")
        }
    }
}
