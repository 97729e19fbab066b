import ConcentratorCore
import HeadEnd
import Logging
import Platform
import Wire

/// Sends commands from the dashboard through the head-end's one command path (`CommandSender`: the
/// command key of the configuration, the counter from the database, a verified reply) and appends each
/// attempt with its outcome to the command audit. An actor: the head-end database handle behind
/// `CommandSender` is used by one command at a time.
public actor DashboardCommands {
    private let sender: CommandSender
    private let database: HeadEndDatabase
    private let model: any DashboardReadModel
    private let clock: any WallClock
    public let timeout: Duration

    /// Opens the head-end database for the command counter and loads nothing else; `key` is the command key.
    public init(configuration: HeadEndConfiguration, key: SigningPrivateKey, model: any DashboardReadModel, clock: any WallClock = SystemClock(),
                timeout: Duration = .seconds(20), logger: Logger) throws(HeadEndError) {
        let database = try HeadEndDatabase.open(path: configuration.databasePath,
                                                busyTimeoutMilliseconds: configuration.ingest.databaseBusyTimeoutMilliseconds)
        self.database = database
        self.sender = CommandSender(configuration: configuration, key: key, database: database, clock: clock, logger: logger)
        self.model = model
        self.clock = clock
        self.timeout = timeout
    }

    /// Sends `verb` (no arguments) to `device` on behalf of `user`, waits for the verified reply, audits it.
    public func send(verb: String, to device: String, user: String) async -> CommandAuditEntry {
        let id = "web-" + Hex.encode((0..<8).map { _ in UInt8.random(in: 0...255) })
        let request = CommandRequest(device: device, verb: verb, id: id)
        var entry = CommandAuditEntry(time: clock.now(), user: user, device: device, verb: verb, commandID: id, status: "no-reply", code: "",
                                      detail: "", roundTripMilliseconds: nil)
        do {
            let exchange = try await sender.send(request, timeout: timeout)
            entry.status = exchange.reply.status.rawValue
            entry.code = exchange.reply.code
            var detail = exchange.reply.message
            if let members = exchange.reply.result.members, !members.isEmpty { detail += "\n" + JSONWriter.render(exchange.reply.result, pretty: false) }
            entry.detail = detail
            entry.roundTripMilliseconds = Int64(exchange.roundTrip.inMilliseconds)
        } catch {
            entry.code = "error"
            entry.detail = "\(error)"
        }
        try? await model.recordCommand(entry)
        return entry
    }

    /// Closes the database handle.
    public func close() { database.close() }
}
