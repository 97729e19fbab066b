import ConcentratorCore
import Logging
import Platform

/// Everything one simulated RS-485 line needs.
public struct SimulatorConfiguration: Sendable {
    /// One line holds at most this many meters (one RS-485 segment of the gateway's design).
    public static let maximumMeters = 64

    public var line: LineSettings
    public var meters: [SimulatedMeterSetup]
    /// Seeds every meter's values and turnaround; the same seed gives the same field.
    public var seed: UInt64
    /// The time meter values follow (energy counters integrate it). Line timing always runs in real time.
    public var clock: any WallClock
    /// A symbolic link kept pointing at the current PTY, so clients have a stable name.
    public var linkPath: String?
    /// The served log (JSON lines, appended).
    public var servedLogPath: String?
    /// The control channel's UNIX socket.
    public var controlPath: String?
    /// Faults in force from the start. `vanish:S` keeps the port away for S seconds after start.
    public var faults: [FaultAssignment]
    /// Secrets and link limits of the DLMS meters (those whose profile is a DLMS profile).
    public var dlms = DLMSSimulatorOptions()
    /// IEC 62056-21 meters on the same line (IEC62056/IECSimulatedMeter.swift); their sign-on is
    /// told from Modbus by its `/?`.
    public var iecMeters: [IECSimulatedMeterSetup]
    /// A wired M-Bus segment served on this line instead of Modbus meters (Docs/mbus.md).
    public var mbus: MBusSegmentSetup?

    public init(line: LineSettings = LineSettings(), meters: [SimulatedMeterSetup], seed: UInt64 = 1,
                clock: any WallClock = SystemClock(), linkPath: String? = nil, servedLogPath: String? = nil,
                controlPath: String? = nil, faults: [FaultAssignment] = [], iecMeters: [IECSimulatedMeterSetup] = []) {
        self.line = line
        self.meters = meters
        self.seed = seed
        self.clock = clock
        self.linkPath = linkPath
        self.servedLogPath = servedLogPath
        self.controlPath = controlPath
        self.faults = faults
        self.iecMeters = iecMeters
    }
}

/// Where the line is reachable now. Announced on every (re)appearance of the port.
public struct LineEndpoint: Hashable, Sendable {
    public var ptyPath: String
    public var linkPath: String?

    /// The line `meter-sim` prints on stdout: `pty /dev/pts/5 link /tmp/sim/bus1`.
    public var announcement: String { "pty \(ptyPath)" + (linkPath.map { " link \($0)" } ?? "") }
}

/// A snapshot of the simulator's state, as the control channel's `status` reports it.
public struct SimulatorStatus: Hashable, Sendable {
    public var endpoint: LineEndpoint?
    public var meterCount: Int
    /// Requests answered so far (with or without an injected fault).
    public var answered: Int
    public var faults: String
    /// Meters whose breaking relay is open (disconnected).
    public var openRelays: [UInt8]

    /// `line=up pty=/dev/pts/5 link=/tmp/sim/bus1 meters=64 answered=120 faults=7:silence open-relays=none`
    public var summary: String {
        let line = endpoint.map { "line=up pty=\($0.ptyPath)" + ($0.linkPath.map { " link=\($0)" } ?? "") } ?? "line=vanished"
        let relays = openRelays.isEmpty ? "none" : openRelays.map(String.init).joined(separator: ",")
        return "\(line) meters=\(meterCount) answered=\(answered) faults=\(faults) open-relays=\(relays)"
    }
}

/// A simulated field: up to 64 Modbus meters answering on one pseudo-terminal, with the line's timing
/// emulated (every byte costs its character time, every meter has its turnaround), faults on demand,
/// a served log and a control channel. The line runs on its own dedicated thread.
///
///     let bus = try SimulatedBus(configuration: config)
///     try bus.start()          // the PTY exists when this returns (unless it starts vanished)
///     … clients open bus.endpoint!.ptyPath or the link …
///     bus.stop()
public final class SimulatedBus: @unchecked Sendable {
    public let configuration: SimulatorConfiguration
    let logger = Logger(label: "meter-sim")
    let servedLog: ServedLog?
    let wake = WakePipe()
    /// The IEC 62056-21 meters, nil when there are none.
    let iecLine: IECSimulatedLine?
    private let onLineOpened: @Sendable (LineEndpoint) -> Void

    // Shared state, under `lock`.
    let lock = ConditionLock()
    var meters: [UInt8: SimulatedMeter] = [:]
    /// DLMS meters by physical HDLC address (LineLoop+DLMS.swift); addresses are unique across protocols.
    var dlmsMeters: [UInt8: DLMSMeterServer] = [:]
    var faults = FaultTable()
    var currentEndpoint: LineEndpoint?
    var vanishUntil: MonotonicInstant?
    var stopRequested = false
    var answered = 0
    var garbageSource: SeededRandom
    /// The M-Bus slaves when the line carries M-Bus (`configuration.mbus`).
    var mbusSegment: MBusSimulatedSegment?
    private var state = RunState.created

    // Owned by the line thread once started.
    var pty: PseudoTerminal?
    private var control: ControlChannel?

    private enum RunState { case created, running, stopped }

    /// Checks the setup and opens the served log. `onLineOpened` is called each time the port
    /// (re)appears, on the thread that opened it.
    public init(configuration: SimulatorConfiguration,
                onLineOpened: @escaping @Sendable (LineEndpoint) -> Void = { _ in }) throws(SimulatorError) {
        self.configuration = configuration
        self.onLineOpened = onLineOpened
        let line = configuration.line
        guard line.baud >= 50, (5...8).contains(line.dataBits), (1...2).contains(line.stopBits) else {
            throw .invalidSetup("invalid line settings \(line.summary) (baud ≥ 50, data bits 5-8, stop bits 1-2)")
        }
        let meterCount = configuration.meters.count + configuration.iecMeters.count
        guard meterCount <= SimulatorConfiguration.maximumMeters else {
            throw .invalidSetup("\(meterCount) meters on one line; at most \(SimulatorConfiguration.maximumMeters)")
        }
        iecLine = configuration.iecMeters.isEmpty ? nil : try IECSimulatedLine(setups: configuration.iecMeters, seed: configuration.seed)
        for setup in configuration.meters {
            guard (1...247).contains(setup.address) else { throw .invalidSetup("slave address \(setup.address) is not in 1-247") }
            guard meters[setup.address] == nil, dlmsMeters[setup.address] == nil else {
                throw .invalidSetup("slave address \(setup.address) is given twice")
            }
            if setup.profile.protocolKind == .dlms {
                dlmsMeters[setup.address] = try DLMSMeterServer(setup: setup, options: configuration.dlms, seed: configuration.seed)
                continue
            }
            guard setup.profile.protocolKind == .modbus, setup.profile.modbus != nil else {
                throw .invalidSetup("profile \(setup.profile.id) (address \(setup.address)) is not a Modbus profile")
            }
            guard setup.turnaroundMilliseconds.lowerBound >= 0, setup.turnaroundMilliseconds.upperBound <= 10_000 else {
                throw .invalidSetup("turnaround \(setup.turnaroundMilliseconds) ms for address \(setup.address) is not within 0-10000 ms")
            }
            meters[setup.address] = SimulatedMeter(setup: setup, seed: configuration.seed)
        }
        for assignment in configuration.faults {
            guard case .meter(let target, let fault) = assignment else { continue }
            if case .slave(let a) = target, meters[a] == nil, dlmsMeters[a] == nil { throw .noMeter(address: a) }
            faults.set(fault, for: target)
        }
        garbageSource = SeededRandom(seed: SeededRandom.mix(configuration.seed ^ 0x6A5B))
        mbusSegment = try configuration.mbus.map { setup throws(SimulatorError) in try setup.segment(seed: configuration.seed) }
        servedLog = try configuration.servedLogPath.map { path throws(SimulatorError) in try ServedLog(path: path) }
    }

    deinit { wake.close() }

    /// Opens the port (unless a `vanish:S` fault keeps it away at start), the control socket, and
    /// starts serving.
    public func start() throws(SimulatorError) {
        guard state == .created else { throw .invalidSetup("the simulator was already started") }
        let initialVanish = configuration.faults.compactMap { a -> Double? in
            if case .vanish(let s) = a { return s }
            return nil
        }.last
        if let seconds = initialVanish {
            vanishUntil = MonotonicInstant.now().adding(nanoseconds: Int64(seconds * 1e9))
        } else {
            try openLine()
        }
        if let path = configuration.controlPath {
            do {
                control = try ControlChannel(path: path) { [weak self] line in
                    self?.handleControlLine(line) ?? "error the simulator is stopping"
                }
            } catch {
                closeLine()
                throw error
            }
        }
        state = .running
        DedicatedThread.start(name: "sim-line") { [self] in
            runLine()
            lock.withLock { state = .stopped }
            lock.broadcast()
        }
    }

    /// Stops serving: closes the port, removes the link and the control socket. Safe to call twice.
    public func stop() {
        let wasRunning: Bool = lock.withLock {
            stopRequested = true
            return state == .running
        }
        if wasRunning {
            lock.broadcast()
            wake.signal()
            lock.withLock { while state != .stopped { lock.wait() } }
        }
        control?.stop()
        control = nil
        servedLog?.close()
    }

    /// Where clients reach the line now; nil while the port has vanished.
    public var endpoint: LineEndpoint? { lock.withLock { currentEndpoint } }

    /// Sets the fault of one meter, or of all (`.all` also clears every per-meter fault).
    public func setFault(_ fault: MeterFault, for target: FaultTarget) throws(SimulatorError) {
        lock.lock()
        defer { lock.unlock() }
        if case .slave(let a) = target, meters[a] == nil, dlmsMeters[a] == nil { throw .noMeter(address: a) }
        faults.set(fault, for: target)
    }

    /// Makes the port disappear now (clients get I/O errors, the link goes away) and come back as a new
    /// PTY, with the link re-pointed, after `seconds`. A second call while away moves the return time.
    public func vanish(seconds: Double) {
        lock.withLock { vanishUntil = MonotonicInstant.now().adding(nanoseconds: Int64(seconds * 1e9)) }
        lock.broadcast()
        wake.signal()
    }

    /// The relay state of the meter at `slave` (true = connected), or nil when there is no such meter
    /// or it has no relay.
    public func relayConnected(slave: UInt8) -> Bool? {
        lock.withLock { meters[slave].flatMap { $0.relayCoil == nil ? nil : $0.supply.isConnected } ?? dlmsRelayConnected(slave) }
    }

    /// Switches a meter's breaking relay from the control side (as a technician would on site).
    public func setRelay(slave: UInt8, connected: Bool) throws(SimulatorError) {
        let now = configuration.clock.now()
        lock.lock()
        defer { lock.unlock() }
        if meters[slave] == nil, dlmsMeters[slave] != nil { return try dlmsSetRelay(slave, connected: connected, at: now) } // LineLoop+DLMS.swift
        guard var meter = meters[slave] else { throw .noMeter(address: slave) }
        guard meter.relayCoil != nil else { throw .invalidSetup("the meter at address \(slave) has no relay") }
        meter.setRelay(connected: connected, at: now)
        meters[slave] = meter
    }

    /// Sets how far the meter's clock at `slave` runs ahead of the simulator's time (`clock ADDR SECONDS`).
    public func setClockOffset(slave: UInt8, seconds: Int64) throws(SimulatorError) {
        let now = configuration.clock.now()
        lock.lock()
        defer { lock.unlock() }
        if meters[slave] == nil, dlmsMeters[slave] != nil { return try dlmsSetClock(slave, to: now.adding(seconds: seconds), at: now) }
        guard var meter = meters[slave] else { throw .noMeter(address: slave) }
        guard meter.meterClock(at: now) != nil else { throw .invalidSetup("the meter at address \(slave) has no settable clock") }
        meter.setClock(now.adding(seconds: seconds), at: now)
        meters[slave] = meter
    }

    /// Changes the Modbus or DLMS meter at `slave` (a held value, its status or alarm register).
    private func updateMeter(_ slave: UInt8, _ change: (inout SimulatedMeter) -> Void) throws(SimulatorError) {
        lock.lock()
        defer { lock.unlock() }
        if meters[slave] == nil, var dlms = dlmsMeters[slave] {
            change(&dlms.objects.meter)
            dlmsMeters[slave] = dlms
            return
        }
        guard var meter = meters[slave] else { throw .noMeter(address: slave) }
        change(&meter)
        meters[slave] = meter
    }

    /// The meter at `slave` as it is now (its profile, turnaround, relay), or nil.
    public func meter(at slave: UInt8) -> SimulatedMeter? { lock.withLock { meters[slave] } }

    public func status() -> SimulatorStatus {
        lock.withLock {
            SimulatorStatus(endpoint: currentEndpoint, meterCount: meters.count + dlmsMeters.count, answered: answered, faults: faults.summary,
                            openRelays: (meters.values.filter { $0.relayCoil != nil && !$0.supply.isConnected }.map(\.address)
                                         + dlmsMeters.keys.filter { dlmsRelayConnected($0) == false }).sorted())
        }
    }

    /// Runs one control-channel line and returns the one-line answer.
    public func handleControlLine(_ line: String) -> String {
        let command: ControlCommand
        do { command = try ControlCommand.parse(line) } catch { return "error \(error)" }
        do {
            switch command {
            case .fault(let target, let fault):
                try setFault(fault, for: target)
                return "ok fault \(target) \(fault)"
            case .vanish(let seconds):
                vanish(seconds: seconds)
                return "ok vanish \(seconds)"
            case .status:
                return "ok " + status().summary
            case .coil(let slave, let set):
                if let set { try setRelay(slave: slave, connected: set) }
                guard meter(at: slave) != nil || dlmsInvocationCounters(address: slave) != nil else { throw SimulatorError.noMeter(address: slave) }
                guard let connected = relayConnected(slave: slave) else {
                    throw SimulatorError.invalidSetup("the meter at address \(slave) has no relay")
                }
                return "ok coil \(slave) \(connected ? "on" : "off")"
            case .clock(let slave, let offset):
                if let offset { try setClockOffset(slave: slave, seconds: offset) }
                if let ms = dlmsClockOffsetMilliseconds(slave: slave) { return "ok clock \(slave) offset \(Double(ms) / 1000)" }
                guard let meter = meter(at: slave) else { throw SimulatorError.noMeter(address: slave) }
                guard meter.meterClock(at: configuration.clock.now()) != nil else {
                    throw SimulatorError.invalidSetup("the meter at address \(slave) has no settable clock")
                }
                let seconds = Double(meter.clockOffsetMilliseconds) / 1000
                return "ok clock \(slave) offset \(seconds)"
            case .iecFault(let address, let fault):
                try setIECFault(fault, for: address)
                return "ok iec-fault \(address) \(fault)"
            case .iecClock(let address, let offset):
                try setIECClockOffset(address: address, seconds: offset)
                return "ok iec-clock \(address) offset \(offset)"
            case .setValue(let slave, let quantity, let value):
                try updateMeter(slave) { $0.hold(quantity, at: value) }
                return "ok set \(slave) \(quantity) \(value.map { String($0) } ?? "auto")"
            case .statusBits(let slave, let raw):
                try updateMeter(slave) { $0.statusRaw = raw }
                return "ok status-bits \(slave) \(raw)"
            case .iecError(let address, let raw):
                try setIECErrorCode(address: address, raw: raw)
                return "ok iec-error \(address) \(raw)"
            }
        } catch {
            return "error \(error)"
        }
    }

    /// Opens a new PTY and points the link at it (line thread, or `start`).
    func openLine() throws(SimulatorError) {
        let terminal = try PseudoTerminal.open(linkedAt: configuration.linkPath)
        pty = terminal
        if let iecLine { lock.withLock { iecLine.adopt(terminal) } } // 7E1, or 8N1 with software parity
        let endpoint = LineEndpoint(ptyPath: terminal.slavePath, linkPath: configuration.linkPath)
        lock.withLock { currentEndpoint = endpoint }
        logger.info("line up", metadata: ["pty": "\(terminal.slavePath)", "line": "\(configuration.line.summary)"])
        onLineOpened(endpoint)
    }

    /// Removes the link, then closes the PTY.
    func closeLine() {
        if let link = configuration.linkPath { StableLink.remove(link) }
        pty?.close()
        pty = nil
        lock.withLock { currentEndpoint = nil }
    }
}
