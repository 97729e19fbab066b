import Agent
import ArgumentParser
import Bus
import ConcentratorCore
import Console
import Logging
import Platform

/// Where the running agent's control socket is, from the configuration.
func controlSocketPath(_ setup: AgentSetup, override: String?) -> String {
    override ?? FileSystem.join(setup.config.device.runtimeDirectory, "control.sock")
}

/// A bus opened by the CLI itself because the agent is not running. It takes the same port lock
/// as the agent, so the two can never be masters on one bus together.
final class DirectBus: SnapshotSink, @unchecked Sendable {
    let owner: BusOwner

    /// Without `logger`, warnings go to stderr (the one-shot CLI commands); the console passes a
    /// logger of its own, since stderr is its screen.
    init(setup: AgentSetup, bus: BusName, logger: Logger? = nil) {
        let logger = logger ?? {
            LineLogHandler.bootstrap(level: .warning, timestamps: false)
            return Logger(label: "cli")
        }()
        let settings = setup.config.bus(bus)!
        owner = BusOwner(settings: settings, meters: setup.meters(on: bus), schedule: .onDemandOnly, clock: SystemClock(),
                         sink: NoSink(), logger: logger)
        owner.start()
    }

    deinit { owner.stop() }

    func store(bus: BusName, series: SeriesKind, intervalStart: Timestamp, snapshots: [MeterSnapshot]) throws {}
    func storedMeters(bus: BusName, series: SeriesKind, intervalStart: Timestamp) throws -> Set<MeterID> { [] }

    private final class NoSink: SnapshotSink, @unchecked Sendable {
        func store(bus: BusName, series: SeriesKind, intervalStart: Timestamp, snapshots: [MeterSnapshot]) throws {}
        func storedMeters(bus: BusName, series: SeriesKind, intervalStart: Timestamp) throws -> Set<MeterID> { [] }
    }
}

/// `concentrator read --meter M`: reads a meter now and prints its quantities with units.
struct Read: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read a meter now (through the agent when it runs) and print its values with units.")

    @OptionGroup var options: ConfigOption
    @Option(help: "The meter id.") var meter: String
    @Option(name: .customLong("quantity"), help: "Only this quantity (repeatable).") var quantities: [String] = []
    @Option(help: "Control socket path.") var controlSocket: String?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let setup = try loadSetupOrExit(options.config)
        guard let settings = setup.config.meter(MeterID(meter)) else {
            Output.error("no meter \"\(meter)\" in \(options.config); configured: \(setup.config.meters.prefix(10).map(\.id.rawValue).joined(separator: ", "))")
            throw ExitCode(ExitStatus.usage)
        }
        let wanted: [QuantityID]? = quantities.isEmpty ? nil : quantities.map { QuantityID($0) }
        let snapshot: MeterSnapshot
        if let client = try agentClientOrExit(controlSocketPath(setup, override: controlSocket)) {
            do throws(ControlFailure) {
                snapshot = try client.call(ControlRequest(op: "read", meter: settings.id, quantities: wanted)).snapshot!
            } catch {
                Output.error(error.description)
                throw ExitCode(ExitStatus.failure)
            }
        } else {
            let direct = DirectBus(setup: setup, bus: settings.bus)
            switch direct.owner.readNow(meter: settings.id, quantities: wanted.map { Set($0) }) {
            case .success(let s): snapshot = s
            case .failure(let e):
                Output.error(e.description)
                throw ExitCode(ExitStatus.failure)
            }
        }
        if json {
            LogOutputLine.stdout(JSONText.encode(snapshot))
            return
        }
        LogOutputLine.stdout("meter \(settings.id) (\(settings.profile), bus \(settings.bus) address \(settings.address)) at \(ISO8601.format(snapshot.gatewayTime))")
        for v in snapshot.values {
            let def = QuantityCatalog.definition(of: v.quantity)
            let name = Output.column(v.quantity.rawValue, 26)
            if let value = v.value {
                let unit = def?.unit.rawValue ?? ""
                let flag = def.map { $0.plausible.contains(value) ? "" : "  (outside \(Output.number($0.plausible.lowerBound))…\(Output.number($0.plausible.upperBound)))" } ?? ""
                LogOutputLine.stdout("  \(name) \(Output.column(Output.number(value), 14, right: true)) \(Output.column(unit, 5))\(flag)")
            } else {
                LogOutputLine.stdout("  \(name) \(Output.column("—", 14, right: true))   \(v.error?.description ?? "no value")")
            }
        }
    }
}

/// `concentrator scan --bus B`: finds the meters on a bus and which profile fits each.
struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Scan a bus for Modbus meters (through the agent when it runs) and name the fitting profile.")

    @OptionGroup var options: ConfigOption
    @Option(help: "The bus name.") var bus: String
    @Option(help: "First address.") var from: Int = 1
    @Option(help: "Last address.") var to: Int = 247
    @Option(help: "Addresses to probe instead of --from/--to: a list such as 10-29,100-121,200-221.") var addresses: String?
    @Option(help: "Response timeout per address, in milliseconds.") var timeoutMs: Int = 250
    @Option(help: "Control socket path.") var controlSocket: String?
    @Flag(help: "Print JSON.") var json = false
    @Option(name: .customLong("protocol"), help: "modbus (default); iec62056-21 (with --device-addresses); dlms (HDLC server addresses by --addresses, 16-16381); mbus (the wired secondary-address search).")
    var meterProtocol: String = "modbus"
    @Option(help: "IEC 62056-21: the device addresses to sign on to, comma separated, or FIRST-LAST in decimal keeping FIRST's width (00000001-00000020).")
    var deviceAddresses: String?

    func validate() throws {
        if meterProtocol != "modbus" { return try validateProtocolScan() }
        guard (1...247).contains(from), (from...247).contains(to) else {
            throw ValidationError("--from and --to must satisfy 1 ≤ from ≤ to ≤ 247")
        }
        guard (20...5000).contains(timeoutMs) else { throw ValidationError("--timeout-ms must be 20–5000") }
        if let addresses, case .failure(let problem) = AddressSelection.list(addresses, within: 1...247) {
            throw ValidationError("--addresses: \(problem.message)")
        }
    }

    /// The addresses to probe.
    private var probed: [Int] {
        addresses.flatMap { try? AddressSelection.list($0, within: 1...247).get() } ?? Array(from...to)
    }

    func run() throws {
        let setup = try loadSetupOrExit(options.config)
        let name = BusName(bus)
        guard setup.config.bus(name) != nil else {
            Output.error("no bus \"\(bus)\"; configured: \(setup.config.buses.map(\.name.rawValue).joined(separator: ", "))")
            throw ExitCode(ExitStatus.usage)
        }
        if meterProtocol != "modbus" { return try runProtocolScan(setup) }
        let showProgress = !json
        let hits: [ScanHit]
        if let client = try agentClientOrExit(controlSocketPath(setup, override: controlSocket)) {
            do throws(ControlFailure) {
                hits = try client.call(ControlRequest(op: "scan", bus: name, timeoutMilliseconds: timeoutMs, addresses: probed),
                                       timeout: .seconds(600)) { reply in
                    if showProgress, let p = reply.progress { Output.progress(done: p.done, total: p.total, suffix: "found \(p.found)") }
                }.scan ?? []
            } catch {
                Output.error(error.description)
                throw ExitCode(ExitStatus.failure)
            }
        } else {
            let direct = DirectBus(setup: setup, bus: name)
            let profiles = setup.profiles.profiles.values.filter { $0.protocolKind == .modbus }.sorted { $0.id < $1.id }
            let result = direct.owner.scan(addresses: probed.map { UInt8($0) }, profiles: profiles,
                                           timeout: .milliseconds(Int64(timeoutMs))) { p in
                if showProgress { Output.progress(done: p.done, total: p.total, suffix: "found \(p.found)") }
            }
            hits = try Self.hitsOrExit(result)
        }
        printHits(hits, title: "\(hits.filter { !$0.isGarbled }.count) meters answered on bus \(bus) (addresses \(AddressSelection.text(probed)))",
                  addressWidth: 6)
    }
}

/// The running agent's control client; otherwise exits with the reason: 69 when no agent runs, 1
/// when this user may not use its socket (the message names the group that grants access).
func runningAgentClientOrExit(_ path: String) throws -> ControlClient {
    switch ControlClient.connect(path: path) {
    case .success(let client): return client
    case .failure(let why):
        Output.error(why.message)
        throw ExitCode(why.code == "permission-denied" ? ExitStatus.failure : ExitStatus.unavailable)
    }
}

/// The running agent's control client, or nil when no agent runs (the tool then opens the port
/// itself); exits when an agent runs but its socket refuses this user: opening the port beside it
/// would only fail with "locked".
func agentClientOrExit(_ path: String) throws -> ControlClient? {
    switch ControlClient.connect(path: path) {
    case .success(let client): return client
    case .failure(let why) where why.code == "permission-denied":
        Output.error(why.message)
        throw ExitCode(ExitStatus.failure)
    case .failure: return nil
    }
}
