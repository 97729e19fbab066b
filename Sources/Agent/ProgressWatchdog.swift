import Platform
import Synchronization

/// The loops whose progress keeps the systemd watchdog fed. Each loop registers a source that
/// tells when it last made progress; `WATCHDOG=1` is sent only while every source made progress
/// within half the watchdog period. A hung loop therefore stops the pings and systemd restarts
/// the agent (`WatchdogSec=` in Systemd/concentrator.service).
///
/// The agent registers every bus owner at start. The uplink registers its network loop the same
/// way: `agent.progress.register(name: "uplink") { client.lastProgress }`. A source must report
/// progress at least every few seconds even when idle (a loop that waits for work wakes up at
/// least once a second and counts that as progress).
public final class ProgressWatchdog: Sendable {
    /// One registered loop.
    public struct Source: Sendable {
        public let name: String
        public let lastProgress: @Sendable () -> ContinuousClock.Instant
    }

    private let sources = Mutex<[Source]>([])

    public init() {}

    /// Adds a loop to watch, replacing one of the same name (a bus restarted by a reload). Safe from
    /// any thread, at any time.
    public func register(name: String, lastProgress: @escaping @Sendable () -> ContinuousClock.Instant) {
        sources.withLock { sources in
            sources.removeAll { $0.name == name }
            sources.append(Source(name: name, lastProgress: lastProgress))
        }
    }

    /// Stops watching a loop (a bus removed by a reload, an uplink stopped).
    public func unregister(name: String) {
        sources.withLock { $0.removeAll { $0.name == name } }
    }

    /// Names of the registered loops.
    public var names: [String] { sources.withLock { $0.map(\.name) } }

    /// The loops that made no progress within `limit` before `now`, in registration order.
    public func stalled(now: ContinuousClock.Instant, limit: Duration) -> [String] {
        let current = sources.withLock { $0 }
        return current.filter { now - $0.lastProgress() > limit }.map(\.name)
    }
}

/// Decides, once per maintenance tick, whether to send `WATCHDOG=1`, and says when that decision
/// changes (so the log gets one line when pings stop and one when they resume).
struct WatchdogGate {
    /// The period systemd asked for (`WATCHDOG_USEC`).
    let interval: Duration
    private(set) var withheld = false
    private var nextPing: ContinuousClock.Instant

    init(interval: Duration, now: ContinuousClock.Instant) {
        self.interval = interval
        nextPing = now
    }

    /// A loop counts as stalled after half the period without progress; pings go out every
    /// quarter period. The last ping comes at most half a period after a loop hangs, so systemd
    /// acts within 1½ periods.
    var stallLimit: Duration { interval / 2 }

    enum Decision: Equatable {
        /// Not yet time for a ping.
        case wait
        case ping(resumed: Bool)
        /// Loops without progress: no ping. `first` is true the first time in a row.
        case withhold(stalled: [String], first: Bool)
    }

    mutating func tick(now: ContinuousClock.Instant, stalled: () -> [String]) -> Decision {
        guard now >= nextPing else { return .wait }
        nextPing = now + interval / 4
        let stuck = stalled()
        if stuck.isEmpty {
            defer { withheld = false }
            return .ping(resumed: withheld)
        }
        defer { withheld = true }
        return .withhold(stalled: stuck, first: !withheld)
    }
}

extension Agent {
    /// One watchdog tick of the maintenance loop: pings systemd if every loop progressed.
    func watchdogTick(_ gate: inout WatchdogGate) {
        let limit = gate.stallLimit
        switch gate.tick(now: .now, stalled: { progress.stalled(now: .now, limit: limit) }) {
        case .wait:
            break
        case .ping(let resumed):
            notifier.watchdog()
            if resumed { logger.notice("every loop progresses again; watchdog pings resumed") }
        case .withhold(let stalled, let first):
            if first {
                logger.error("\(stalled.joined(separator: ", ")) made no progress for \(limit); withholding the watchdog ping so systemd restarts the agent")
            }
        }
    }
}
