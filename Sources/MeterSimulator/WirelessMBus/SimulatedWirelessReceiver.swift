#if canImport(Glibc)
import Glibc
#endif
import ConcentratorCore
import Logging
import MeterProtocols
import Platform

/// Everything a simulated wireless receiver needs (`meter-sim --wmbus …`).
public struct WirelessReceiverConfiguration: Sendable {
    public var meters: [WirelessMeterSetup]
    public var seed: UInt64
    /// The time the meters' schedules and values follow (an `AcceleratedClock` speeds them up).
    public var clock: any WallClock
    public var linkPath: String?

    public init(meters: [WirelessMeterSetup], seed: UInt64 = 1, clock: any WallClock = SystemClock(), linkPath: String? = nil) {
        self.meters = meters
        self.seed = seed
        self.clock = clock
        self.linkPath = linkPath
    }
}

/// An iM871A USB stick on a pseudo-terminal: N wireless meters send on their schedules, the stick
/// frames what it hears as HCI indications and answers the host's PING and SET_CONFIG. Its own
/// dedicated thread; `stop()` removes the link.
public final class SimulatedWirelessReceiver: @unchecked Sendable {
    public let configuration: WirelessReceiverConfiguration
    private let logger = Logger(label: "meter-sim")
    private let wake = WakePipe()
    private let lock = ConditionLock()
    private var field: WirelessMeterField
    private var emulator = IM871AEmulator()
    private var pty: PseudoTerminal?
    private var stopRequested = false
    private var running = false
    private var sent = 0
    private let onLineOpened: @Sendable (LineEndpoint) -> Void

    public init(configuration: WirelessReceiverConfiguration,
                onLineOpened: @escaping @Sendable (LineEndpoint) -> Void = { _ in }) throws(SimulatorError) {
        guard !configuration.meters.isEmpty else { throw .invalidSetup("no wireless meters given") }
        var identities = Set<MBusIdentity>()
        for meter in configuration.meters {
            guard identities.insert(meter.identity).inserted else {
                throw .invalidSetup("wireless meter \(meter.identity.numberText) is given twice")
            }
            if meter.security != .none, meter.key == nil {
                throw .invalidSetup("wireless meter \(meter.identity.numberText) uses \(meter.security.rawValue) but has no key")
            }
        }
        self.configuration = configuration
        self.onLineOpened = onLineOpened
        field = WirelessMeterField(meters: configuration.meters, seed: configuration.seed, origin: configuration.clock.now())
    }

    deinit { wake.close() }

    /// Telegrams written to the port so far, and the link mode the host set.
    public var status: (sent: Int, mode: WirelessLinkMode) { lock.withLock { (sent, emulator.mode) } }

    public func start() throws(SimulatorError) {
        let terminal = try PseudoTerminal.open(linkedAt: configuration.linkPath)
        pty = terminal
        running = true
        logger.info("wireless receiver up", metadata: ["pty": "\(terminal.slavePath)", "meters": "\(configuration.meters.count)"])
        onLineOpened(LineEndpoint(ptyPath: terminal.slavePath, linkPath: configuration.linkPath))
        DedicatedThread.start(name: "sim-wmbus") { [self] in
            run()
            lock.withLock { running = false }
            lock.broadcast()
        }
    }

    public func stop() {
        lock.withLock { stopRequested = true }
        wake.signal()
        lock.withLock { while running { lock.wait() } }
        if let link = configuration.linkPath { StableLink.remove(link) }
        pty?.close()
        pty = nil
    }

    private func run() {
        guard let pty else { return }
        let origin = field.origin
        while !lock.withLock({ stopRequested }) {
            var fds = [pollfd(fd: pty.masterFD, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: wake.readFD, events: Int16(POLLIN), revents: 0)]
            if poll(&fds, 2, 20) > 0 {
                if fds[1].revents != 0 { wake.drain() }
                if fds[0].revents & Int16(POLLIN) != 0 {
                    let input = pty.readAvailable()
                    let answer = lock.withLock { emulator.hostWrote(input) }
                    if !answer.isEmpty { pty.write(answer[...]) }
                }
            }
            let now = Double(configuration.clock.now().milliseconds - origin.milliseconds) / 1000
            for telegram in field.telegrams(upTo: now) {
                guard let bytes = lock.withLock({ emulator.indication(for: telegram) }) else { continue }
                pty.write(bytes[...])
                lock.withLock { sent += 1 }
            }
        }
    }
}

extension PseudoTerminal {
    /// A new PTY with the symbolic link `link` (when given) pointing at it.
    static func open(linkedAt link: String?) throws(SimulatorError) -> PseudoTerminal {
        let terminal = try PseudoTerminal()
        if let link {
            do { try StableLink.point(link, to: terminal.slavePath) } catch {
                terminal.close()
                throw error
            }
        }
        return terminal
    }
}
