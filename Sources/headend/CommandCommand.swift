import ArgumentParser
import ConcentratorCore
import HeadEnd
import KeyFiles
import Logging
import Platform
import Wire

/// `headend command DEVICE VERB [--arg K=V …] [--args JSON] [--key FILE] [--id ID] [--timeout S] [--json]`
struct Command: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send a signed command to a device and print its verified reply.",
        discussion: """
            Verbs: ping, status, read, backfill, relay, time.sync, scan, meters.add, meters.remove, config.get, config.set,
            keys.rotate, restart (Docs/mqtt-api.md §11.4 lists their arguments). Examples:
              headend command gw-0001 read --arg 'meters=["bus1-m1"]'
              headend command gw-0001 relay --arg meter=bus1-m3 --arg action=disconnect --key /etc/headend/keys/operator-….key
              headend command gw-0001 config.set --args '{"patch": {"uplink": {"drain": {"maxBytesPerSecond": 5000}}}}'
            A --arg value is read as JSON when it parses as JSON, otherwise as a string. Exit status: 0 ok; 1 rejected or error
            (the code is printed); 69 no verified reply in time; 65 bad arguments or an unknown device; 78 configuration or key file.
            """)

    @Option(help: "The head-end configuration (broker, topic prefix, database, default command key).")
    var config: String = HeadEndConfiguration.defaultPath
    @Argument(help: "The device id.") var device: String
    @Argument(help: "The verb.") var verb: String
    @Option(name: .customLong("arg"), help: "An argument KEY=VALUE; repeatable.") var pairs: [String] = []
    @Option(name: .customLong("args"), help: "All arguments as one JSON object (--arg entries are added to it).") var argumentsJSON: String?
    @Option(help: "The command private key (default: keys.command of the configuration).") var key: String?
    @Option(help: "The command id (default: random). Sending an id again returns the stored reply without running twice.")
    var id: String?
    @Option(help: "Seconds to wait for the reply.") var timeout: Int = 30
    @Option(help: "Seconds the command stays valid (1–86400).") var validity: Int = 300
    @Flag(help: "Print the reply as JSON.") var json = false

    func validate() throws {
        guard (1...3600).contains(timeout) else { throw ValidationError("--timeout must be 1–3600 seconds") }
        guard (1...86_400).contains(validity) else { throw ValidationError("--validity must be 1–86400 seconds") }
        if let id, !CommandEnvelope.isValidID(id) { throw ValidationError("--id must be 1–64 of A–Z a–z 0–9 . _ -") }
    }

    func run() throws {
        let configuration = try loadConfigurationOrExit(config)
        let arguments = try parsedArguments()
        guard let keyPath = key ?? configuration.commandKeyFile else {
            Output.error("no command key: give --key FILE or set keys.command in \(config)")
            throw ExitCode(ExitStatus.usage)
        }
        let signingKey: SigningPrivateKey
        do { signingKey = try PrivateKeyFile.loadSigningKey(path: keyPath) } catch {
            Output.error("\(error)")
            throw ExitCode(ExitStatus.config)
        }
        LineLogHandler.bootstrap(level: .warning, timestamps: true)
        let opened = OneShot<Result<HeadEndStoreWorker, HeadEndError>>()
        let location = configuration.databaseLocation, busy = configuration.ingest.databaseBusyTimeoutMilliseconds
        Task {
            do throws(HeadEndError) {
                opened.set(.success(try await HeadEndStoreWorker(name: "headend-db") { () throws(HeadEndError) -> any HeadEndStore in
                    try HeadEndStores.open(location, busyTimeoutMilliseconds: busy, now: SystemClock().now(), applicationName: "headend-command")
                }))
            } catch {
                opened.set(.failure(error))
            }
        }
        let store: HeadEndStoreWorker
        switch opened.wait() {
        case .success(let worker): store = worker
        case .failure(let error):
            Output.error("cannot open the database: \(error)")
            throw ExitCode(ExitStatus.failure)
        }
        let request = CommandRequest(device: device, verb: verb, arguments: arguments,
                                     id: id ?? Hex.encode((0..<12).map { _ in UInt8.random(in: 0...255) }),
                                     validity: .seconds(validity))
        let sender = CommandSender(configuration: configuration, key: signingKey, store: store, logger: Logger(label: "headend"))
        let timeout = Duration.seconds(timeout)
        let outcome = OneShot<Result<CommandExchange, HeadEndError>>()
        Task {
            do throws(HeadEndError) { outcome.set(.success(try await sender.send(request, timeout: timeout))) } catch {
                outcome.set(.failure(error))
            }
        }
        let result = outcome.wait()
        let closed = OneShot<Bool>()
        Task {
            await store.close()
            closed.set(true)
        }
        _ = closed.wait()
        switch result {
        case .success(let exchange):
            Output.stdout(json ? Self.renderJSON(exchange) : Self.renderText(exchange))
            if exchange.reply.status != .ok { throw ExitCode(ExitStatus.failure) }
        case .failure(.invalidRequest(let what)):
            Output.error(what)
            throw ExitCode(ExitStatus.dataError)
        case .failure(let error):
            Output.error("\(error)")
            throw ExitCode(ExitStatus.unavailable)
        }
    }

    /// `--args` merged with every `--arg KEY=VALUE`.
    private func parsedArguments() throws -> JSONValue {
        var members: [JSONMember] = []
        if let argumentsJSON {
            guard let value = try? JSONParser.parse(argumentsJSON), let m = value.members else {
                throw ValidationError("--args must be a JSON object")
            }
            members = m
        }
        for pair in pairs {
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
                throw ValidationError("--arg \(pair): expected KEY=VALUE")
            }
            let key = String(pair[..<eq]), text = String(pair[pair.index(after: eq)...])
            let value = (try? JSONParser.parse(text)) ?? .string(text)
            members.removeAll { $0.key == key }
            members.append(JSONMember(key: key, value: value))
        }
        return .object(members)
    }

    static func renderText(_ e: CommandExchange) -> String {
        let r = e.reply
        var text = "\(r.device) \(r.verb ?? e.envelope.verb) \(r.commandID): \(r.status.rawValue) \(r.code) — \(r.message)"
        text += " (\(Int(e.roundTrip.inMilliseconds)) ms, reply signed by \(e.replyKey))\n"
        if let members = r.result.members, !members.isEmpty {
            text += JSONWriter.render(r.result, pretty: true) + "\n"
        }
        if !e.registeredKeys.isEmpty {
            text += "registered the device's new keys: \(e.registeredKeys.map(\.hex).joined(separator: ", "))\n"
        }
        return text
    }

    static func renderJSON(_ e: CommandExchange) -> String {
        guard let reply = try? JSONParser.parse(e.reply.body()) else { return "{}\n" }
        return JSONWriter.render(.object([
            JSONMember(key: "reply", value: reply),
            JSONMember(key: "replyKey", value: .string(e.replyKey.hex)),
            JSONMember(key: "counter", value: CanonicalJSON.integer(e.envelope.counter)),
            JSONMember(key: "roundTripMilliseconds", value: CanonicalJSON.integer(Int64(e.roundTrip.inMilliseconds))),
            JSONMember(key: "registeredKeys", value: .array(e.registeredKeys.map { .string($0.hex) })),
        ]), pretty: false) + "\n"
    }
}
