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
    private let store: HeadEndStoreWorker
    private let model: any DashboardReadModel
    private let clock: any WallClock
    public let timeout: Duration

    /// Opens the head-end store (SQLite or PostgreSQL) for the command counter and loads nothing else;
    /// `key` is the command key. Blocks while the store opens: call it from start-up code.
    @available(*, noasync)
    public init(configuration: HeadEndConfiguration, key: SigningPrivateKey, model: any DashboardReadModel, clock: any WallClock = SystemClock(),
                timeout: Duration = .seconds(20), logger: Logger) throws(HeadEndError) {
        let location = configuration.databaseLocation, busy = configuration.ingest.databaseBusyTimeoutMilliseconds
        let store = try HeadEndStoreWorker(name: "dashboard-commands") { () throws(HeadEndError) -> any HeadEndStore in
            try HeadEndStores.open(location, busyTimeoutMilliseconds: busy, now: clock.now(), applicationName: "headend-dashboard")
        }
        self.store = store
        self.sender = CommandSender(configuration: configuration, key: key, store: store, clock: clock, logger: logger)
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

    /// Closes the store.
    public func close() async { await store.close() }
}
