import Bus
import ConcentratorCore
import Logging
import Platform

/// What the uplink LED shows. The uplink sets it through `Agent.showUplink(_:)`.
public enum UplinkIndication: Sendable, Equatable {
    /// No uplink configured or it is stopped: LED off.
    case off
    /// Trying to connect: slow blink.
    case connecting
    /// Connected to the broker: steady on.
    case connected
}

/// The blink patterns, as pure functions of a 100 ms tick counter.
enum IndicatorPattern {
    /// Ticks per second.
    static let ticksPerSecond = 10

    /// Healthy: a heartbeat (two short flashes each second). Unhealthy: a fast 5 Hz blink.
    static func status(healthy: Bool, tick: Int) -> Bool {
        healthy ? [0, 2].contains(tick % ticksPerSecond) : tick % 2 == 0
    }

    /// Connected: on. Connecting: 1 Hz blink. Off: off.
    static func uplink(_ state: UplinkIndication, tick: Int) -> Bool {
        switch state {
        case .off: return false
        case .connecting: return tick % ticksPerSecond < ticksPerSecond / 2
        case .connected: return true
        }
    }

    /// A bus-activity LED is on for the tick after the poll counter moved, then off for at least
    /// one tick, so continuous traffic shows as a flicker.
    static func activity(count: Int, previousCount: Int, wasOn: Bool) -> Bool {
        count != previousCount && !wasOn
    }
}

/// Drives the board's LEDs from its own thread, every 100 ms, from counters and states that other
/// threads publish. No bus thread ever waits for an LED: a bus only increments its poll counter.
/// An LED that fails is reported once and then left alone; the agent runs on without it.
final class IndicatorPanel: @unchecked Sendable {
    /// A bus-activity LED and the counter it follows.
    struct Activity {
        let led: any IndicatorLED
        let count: @Sendable () -> Int
    }

    private var statusLED: (any IndicatorLED)?
    private var uplinkLED: (any IndicatorLED)?
    private var activity: [Activity]
    private let healthy: @Sendable () -> Bool
    private let logger: Logger
    private let lock = ConditionLock()
    private var uplinkState = UplinkIndication.off
    private var stopRequested = false
    private var running = false

    // Indicator-thread state.
    private var lastWritten: [ObjectIdentifier: Bool] = [:]
    private var lastCounts: [Int]
    private var isHealthy = true

    init(status: (any IndicatorLED)?, uplink: (any IndicatorLED)?, activity: [Activity], healthy: @escaping @Sendable () -> Bool,
         logger: Logger) {
        statusLED = status
        uplinkLED = uplink
        self.activity = activity
        self.healthy = healthy
        self.logger = logger
        lastCounts = activity.map { $0.count() }
    }

    /// Opens the LEDs the board names; a bus-activity LED follows the bus configured on its port.
    /// LEDs that cannot be opened are logged and skipped.
    static func open(board: BoardDefinition, buses: [BusOwner], settings: [BusSettings], healthy: @escaping @Sendable () -> Bool,
                     logger: Logger) -> IndicatorPanel {
        func opened(_ led: BoardLED?) -> (any IndicatorLED)? {
            guard let led else { return nil }
            do {
                return try IndicatorLEDs.open(led)
            } catch {
                logger.warning("LED \(led.label) of board \(board.id) cannot be driven: \(error); running without it")
                return nil
            }
        }
        var activity: [Activity] = []
        for bus in settings {
            guard let port = board.port(device: bus.device), let owner = buses.first(where: { $0.name == bus.name }),
                  let led = opened(board.led(.busActivity, port: port.name)) else { continue }
            activity.append(Activity(led: led, count: { owner.pollsCompleted }))
        }
        return IndicatorPanel(status: opened(board.led(.status)), uplink: opened(board.led(.uplink)), activity: activity,
                              healthy: healthy, logger: logger)
    }

    /// How many LEDs are driven.
    var ledCount: Int { (statusLED == nil ? 0 : 1) + (uplinkLED == nil ? 0 : 1) + activity.count }

    func showUplink(_ state: UplinkIndication) { lock.withLock { uplinkState = state } }

    func start() {
        guard ledCount > 0 else { return }
        lock.withLock { running = true }
        DedicatedThread.start(name: "indicators") { [self] in
            var tick = 0
            while !lock.withLock({ stopRequested }) {
                step(tick)
                tick += 1
                lock.lock()
                if !stopRequested { lock.wait(for: .milliseconds(1000 / IndicatorPattern.ticksPerSecond)) }
                lock.unlock()
            }
            for led in allLEDs { led.release() }
            lock.withLock { running = false }
            lock.broadcast()
        }
    }

    /// Stops the thread and switches every LED off (handing LED class devices back to their
    /// previous kernel trigger).
    func stop() {
        lock.withLock { stopRequested = true }
        lock.broadcast()
        lock.lock()
        while running { lock.wait(for: .milliseconds(100)) }
        lock.unlock()
    }

    /// One tick: health is sampled once a second, patterns every tick.
    func step(_ tick: Int) {
        if tick % IndicatorPattern.ticksPerSecond == 0 { isHealthy = healthy() }
        if let led = statusLED { statusLED = write(led, IndicatorPattern.status(healthy: isHealthy, tick: tick)) }
        if let led = uplinkLED {
            uplinkLED = write(led, IndicatorPattern.uplink(lock.withLock { uplinkState }, tick: tick))
        }
        var kept: [Activity] = []
        var counts: [Int] = []
        for (i, a) in activity.enumerated() {
            let count = a.count()
            let on = IndicatorPattern.activity(count: count, previousCount: lastCounts[i], wasOn: lastWritten[ObjectIdentifier(a.led)] ?? false)
            if write(a.led, on) != nil {
                kept.append(a)
                counts.append(count)
            }
        }
        activity = kept
        lastCounts = counts
    }

    /// Writes a changed state; returns nil (drop the LED) after an error.
    private func write(_ led: any IndicatorLED, _ on: Bool) -> (any IndicatorLED)? {
        let key = ObjectIdentifier(led)
        guard lastWritten[key] != on else { return led }
        do {
            try led.set(on)
            lastWritten[key] = on
            return led
        } catch {
            logger.warning("LED \(led.label) failed: \(error); no longer driving it")
            return nil
        }
    }

    private var allLEDs: [any IndicatorLED] { [statusLED, uplinkLED].compactMap { $0 } + activity.map(\.led) }
}

extension Agent {
    /// Starts driving the LEDs of the board named by `device.board` (none without a board).
    func startIndicators() {
        let setup = self.setup
        guard let board = setup.board else { return }
        let panel = IndicatorPanel.open(board: board, buses: currentBuses, settings: setup.config.buses,
                                        healthy: { [weak self] in self?.isHealthy() ?? false }, logger: logger)
        logger.info("board \(board.id): driving \(panel.ledCount) LEDs")
        panel.start()
        indicators = panel
    }

    /// Sets what the uplink LED shows (called by the uplink on connection changes).
    public func showUplink(_ state: UplinkIndication) { indicators?.showUplink(state) }

    /// Whether the status LED shows a heartbeat: every loop progresses, every port is open and no
    /// snapshot waits for the archive. Otherwise it blinks fast.
    func isHealthy() -> Bool {
        let limit = notifier.watchdogInterval.map { $0 / 2 } ?? .seconds(30)
        guard progress.stalled(now: .now, limit: limit).isEmpty else { return false }
        return currentBuses.allSatisfy { bus in
            let s = bus.status()
            return s.portOpen && s.pendingCommits == 0
        }
    }
}
