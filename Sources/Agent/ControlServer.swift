import Bus
import ConcentratorCore
import FoundationEssentials
import Logging
import Platform
import Synchronization
import Uplink

/// Serves the local control socket (`<runtime dir>/control.sock`, mode 0660): one JSON request
/// per line, one or more JSON replies per request. Each connection gets its own thread, at most
/// `maxConnections` at once; bus work is queued to the bus owners (rule 1), never done here.
final class ControlServer: @unchecked Sendable {
    private let listener: UnixListener
    private let handler: ControlRequestHandler
    private let logger: Logger
    private let connections = Mutex(0)
    private let maxConnections = 8

    init(path: String, handler: ControlRequestHandler, logger: Logger) throws(FileError) {
        listener = try UnixListener(path: path, mode: 0o660)
        self.handler = handler
        self.logger = logger
    }

    var path: String { listener.path }

    func start() {
        DedicatedThread.start(name: "control-accept") { [self] in
            while let connection = listener.accept() {
                let admitted = connections.withLock { connections -> Bool in
                    guard connections < maxConnections else { return false }
                    connections += 1
                    return true
                }
                guard admitted else {
                    connection.send(Self.encode(ControlReply(error: ControlFailure(code: "busy", message: "too many control connections"))))
                    continue
                }
                DedicatedThread.start(name: "control-conn") { [self] in
                    serve(connection)
                    connections.withLock { $0 -= 1 }
                }
            }
        }
    }

    func stop() { listener.close() }

    private func serve(_ connection: LineConnection) {
        while let line = connection.receiveLine(timeout: .seconds(600)) {
            guard !line.isEmpty else { continue }
            let request: ControlRequest
            do {
                request = try JSONDecoder().decode(ControlRequest.self, from: Data(line.utf8))
            } catch {
                connection.send(Self.encode(ControlReply(error: ControlFailure(code: "bad-request", message: "not a control request: \(error)"))))
                continue
            }
            handler.handle(request) { reply, urgent in
                // Progress comes from a bus thread: never let a slow client block it.
                urgent ? connection.trySend(Self.encode(reply)) : connection.send(Self.encode(reply))
            }
        }
    }

    static func encode(_ reply: ControlReply) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(reply)).map { String(decoding: $0, as: UTF8.self) }
            ?? #"{"done":true,"error":{"code":"internal","message":"reply not encodable"}}"#
    }
}

/// What the control socket needs from the running agent (which may reload its configuration, so
/// buses and setup are read at each request).
protocol AgentControl: AnyObject, Sendable {
    var currentBuses: [BusOwner] { get }
    var setup: AgentSetup { get }
    var events: EventRecorder? { get }
    func status() -> AgentStatus
    /// The newest `limit` audit entries (commands from the head-end), newest first.
    func newestAuditRecords(limit: Int) -> [CommandAuditRecord]
    /// Re-reads the configuration file and applies it; the failure lists every problem.
    func reload() -> Result<String, ControlFailure>
    /// The uplink, if configured and running.
    var uplink: UplinkService? { get }
    /// Edge monitoring's alarms and schedules as JSON text (Agent+Monitoring.swift), nil without it.
    func monitoringReport() -> String?
    /// A `schedule.set` change from the console (`arguments`: the verb's args as JSON text); the
    /// output's report as JSON text, or why not.
    func changeScheduleFromConsole(_ arguments: String) -> Result<String, ControlFailure>
}

extension AgentControl {
    func monitoringReport() -> String? { nil }
    func changeScheduleFromConsole(_ arguments: String) -> Result<String, ControlFailure> {
        .failure(ControlFailure(code: "unsupported", message: "edge monitoring does not run"))
    }
}

/// Answers control requests against the running agent.
final class ControlRequestHandler: @unchecked Sendable {
    unowned let agent: any AgentControl
    /// Whether test-only operations are allowed (CONCENTRATOR_TEST_HOOKS=1 at start).
    let testHooks: Bool

    init(agent: any AgentControl, testHooks: Bool = false) {
        self.agent = agent
        self.testHooks = testHooks
    }

    /// Answers `request` through `send(reply, fromBusThread)`, which returns false once the client
    /// has gone. Final replies are sent from the connection thread; scan progress from the bus thread.
    func handle(_ request: ControlRequest, send: @escaping @Sendable (ControlReply, Bool) -> Bool) {
        let reply: (ControlReply) -> Void = { _ = send($0, false) }
        let buses = agent.currentBuses
        switch request.op {
        case "ping":
            reply(ControlReply())
        case "status":
            reply(ControlReply(status: agent.status()))
        case "events":
            reply(ControlReply(events: agent.events?.newest(request.limit ?? 50) ?? []))
        case "audit":
            reply(ControlReply(audit: agent.newestAuditRecords(limit: min(max(request.limit ?? 50, 1), 1000))))
        case "monitoring":
            guard let report = agent.monitoringReport() else { return reply(failure("unsupported", "edge monitoring does not run (no monitoring section in the configuration)")) }
            reply(ControlReply(message: report))
        case "schedule.set":
            guard let arguments = request.arguments else { return reply(failure("bad-request", "schedule.set needs \"arguments\"")) }
            switch agent.changeScheduleFromConsole(arguments) {
            case .success(let report): reply(ControlReply(message: report))
            case .failure(let failure): reply(ControlReply(error: failure))
            }
        case "reload":
            switch agent.reload() {
            case .success(let summary): reply(ControlReply(message: summary))
            case .failure(let failure): reply(ControlReply(error: failure))
            }
        case "read":
            guard let meter = request.meter else { return reply(failure("bad-request", "read needs \"meter\"")) }
            guard let bus = buses.first(where: { $0.owns(meter) }) else {
                return reply(failure("unknown-meter", "no meter \(meter) in the configuration"))
            }
            let deadline = Duration.milliseconds(Int64(request.timeoutMilliseconds ?? 30_000))
            switch bus.readNow(meter: meter, quantities: request.quantities.map(Set.init), startDeadline: deadline) {
            case .success(let snapshot): reply(ControlReply(snapshot: snapshot))
            case .failure(let e): reply(failure(e))
            }
        case "relay":
            guard let meter = request.meter else { return reply(failure("bad-request", "relay needs \"meter\"")) }
            guard let bus = buses.first(where: { $0.owns(meter) }) else {
                return reply(failure("unknown-meter", "no meter \(meter) in the configuration"))
            }
            switch bus.setRelay(meter: meter, connected: request.connected) {
            case .success(let state): reply(ControlReply(relayConnected: state))
            case .failure(let e): reply(failure(e))
            }
        case "scan":
            guard let name = request.bus else { return reply(failure("bad-request", "scan needs \"bus\"")) }
            guard let bus = buses.first(where: { $0.name == name }) else {
                return reply(failure("unknown-bus", "no bus \(name); configured: \(buses.map(\.name.rawValue).joined(separator: ", "))"))
            }
            if let kind = request.meterProtocol, kind != .modbus {
                return reply(protocolScan(request, kind: kind, bus: bus, send: send))
            }
            let addresses: [Int]
            if let list = request.addresses {
                guard !list.isEmpty, list.allSatisfy({ (1...247).contains($0) }) else {
                    return reply(failure("bad-request", "scan addresses must be 1–247 (got \(list.count) addresses)"))
                }
                addresses = list
            } else {
                let from = request.from ?? 1, to = request.to ?? 247
                guard (1...247).contains(from), (from...247).contains(to) else {
                    return reply(failure("bad-request", "scan range must lie within 1–247 (got \(from)–\(to))"))
                }
                addresses = Array(from...to)
            }
            var line: LineSettings?
            if let given = request.line {
                guard let settings = given.lineSettings else {
                    return reply(failure("bad-request", "scan line settings are not valid (baud \(given.baud), \(given.dataBits) data bits, "
                        + "parity \(given.parity), \(given.stopBits) stop bits)"))
                }
                line = settings
            }
            let profiles = agent.setup.profiles.profiles.values.filter { $0.protocolKind == .modbus }.sorted { $0.id < $1.id }
            let timeout = Duration.milliseconds(Int64(request.timeoutMilliseconds ?? 250))
            let cancellation = ActionCancellation()
            let result = bus.scan(addresses: addresses.map { UInt8($0) }, profiles: profiles, timeout: timeout, line: line,
                                  cancellation: cancellation) { p in
                // A client that hung up (Ctrl-C) cancels the scan at the next address.
                if !send(ControlReply(done: false, progress: p), true) { cancellation.cancel() }
            }
            switch result {
            case .success(let hits): reply(ControlReply(scan: hits))
            case .failure(let e): reply(failure(e))
            }
        case "uplink.check":
            guard let uplink = agent.uplink else {
                return reply(failure("no-uplink", "no uplink is configured or it could not start (see the agent's log)"))
            }
            let timeout = Duration.milliseconds(Int64(min(max(request.timeoutMilliseconds ?? 60_000, 1000), 900_000)))
            let enrol = request.enrol == true ? (installer: request.installer ?? "", note: request.note ?? "") : nil
            let trip = waitForAsync {
                await uplink.roundTrip(timeout: timeout, enrol: enrol) { p in
                    // Where the check stands; a client that hung up (Ctrl-C) stops it.
                    send(ControlReply(done: false, error: ControlFailure(code: p.code, message: p.message), message: p.message), true)
                }
            }
            switch trip {
            case .success(let trip):
                reply(ControlReply(message: "the head-end acknowledged test batch \(trip.sequence) after \(trip.milliseconds) ms",
                                   roundTripMilliseconds: trip.milliseconds))
            case .failure(let f): reply(ControlReply(error: f))
            }
        case "poll":
            reply(pollNow(request, buses: buses, send: send))
        case "commissioning.report":
            reply(recordCommissioningReport(request, events: agent.events, now: agent.status().now))
        case "test.stall":
            reply(stall(request, buses: buses))
        case "test.clock-step":
            reply(stepClock(request))
        default:
            reply(failure("unknown-op", "unknown operation \"\(request.op)\"; known: ping, status, read, scan, poll, relay, events, audit, reload, uplink.check, commissioning.report"))
        }
    }

    /// `test.stall`: makes a bus thread hang, as a stuck driver would (the watchdog test's hook).
    private func stall(_ request: ControlRequest, buses: [BusOwner]) -> ControlReply {
        guard testHooks else {
            return failure("test-hooks-disabled", "test.stall is a test-only operation; the agent must be started with \(AgentOptions.testHooksVariable)=1")
        }
        guard let name = request.bus, let bus = buses.first(where: { $0.name == name }) else {
            return failure("unknown-bus", "test.stall needs \"bus\", one of: \(buses.map(\.name.rawValue).joined(separator: ", "))")
        }
        guard let ms = request.durationMilliseconds, (1...600_000).contains(ms) else {
            return failure("bad-request", "test.stall needs \"durationMilliseconds\" in 1–600000")
        }
        bus.injectStall(.milliseconds(Int64(ms)))
        return ControlReply()
    }

    /// `test.clock-step`: moves the agent's wall clock by `durationMilliseconds` (negative: back), as a
    /// bad RTC or a wrong NTP answer would (the clock-jump test's hook).
    private func stepClock(_ request: ControlRequest) -> ControlReply {
        guard testHooks, let clock = (agent as? Agent)?.options.clock as? SteppableClock else {
            return failure("test-hooks-disabled", "test.clock-step is a test-only operation; the agent must be started with \(AgentOptions.testHooksVariable)=1")
        }
        guard let ms = request.durationMilliseconds, ms != 0 else {
            return failure("bad-request", "test.clock-step needs a non-zero \"durationMilliseconds\"")
        }
        clock.step(milliseconds: Int64(ms))
        return ControlReply()
    }

    func failure(_ code: String, _ message: String) -> ControlReply {
        ControlReply(error: ControlFailure(code: code, message: message))
    }

    func failure(_ error: BusError) -> ControlReply {
        let code: String = switch error {
        case .unknownMeter: "unknown-meter"
        case .busBusy: "bus-busy"
        case .stopping: "stopping"
        case .cancelled: "cancelled"
        case .unsupported: "unsupported"
        case .transaction: "meter-error"
        case .portUnavailable: "port-unavailable"
        }
        return failure(code, error.description)
    }
}
