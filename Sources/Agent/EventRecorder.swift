import Archive
import ConcentratorCore
import Logging
import Platform
import Synchronization

/// Keeps the newest gateway events in memory (status, console) and writes every event to the
/// archive's events table on its own thread, so a bus thread never waits for it.
public final class EventRecorder: Sendable {
    private struct State {
        var recent: [GatewayEvent] = []
        /// Called for every event after it is recorded (the uplink sends events right away).
        var listeners: [@Sendable (GatewayEvent) -> Void] = []
    }

    private let state = Mutex(State())
    private let capacity = 200
    private let worker = SerialWorker(name: "events")
    private let archive: ArchiveStore
    private let logger: Logger

    public init(archive: ArchiveStore, logger: Logger) {
        self.archive = archive
        self.logger = logger
    }

    public func addListener(_ listener: @escaping @Sendable (GatewayEvent) -> Void) {
        state.withLock { $0.listeners.append(listener) }
    }

    /// Records `event`. Safe from any thread; returns at once.
    public func record(_ event: GatewayEvent) {
        let targets = state.withLock { s -> [@Sendable (GatewayEvent) -> Void] in
            s.recent.append(event)
            if s.recent.count > capacity { s.recent.removeFirst(s.recent.count - capacity) }
            return s.listeners
        }
        worker.enqueue { [archive, logger] in
            do {
                _ = try archive.performBlocking(.recordEvent(ArchiveEvent(event)))
            } catch {
                logger.warning("event not stored in the archive: \(event.kind.name): \(error)")
            }
            for t in targets { t(event) }
        }
    }

    /// Events another component already stored in the archive together with their own state (alarm
    /// transitions, switchings): kept for the status and console only, not stored or sent again.
    public func noteStored(_ events: [GatewayEvent]) {
        state.withLock { s in
            s.recent += events
            if s.recent.count > capacity { s.recent.removeFirst(s.recent.count - capacity) }
        }
    }

    /// The newest `limit` events, oldest first.
    public func newest(_ limit: Int) -> [GatewayEvent] {
        state.withLock { Array($0.recent.suffix(max(0, limit))) }
    }

    public func stop() { worker.stop() }
}

extension ArchiveEvent {
    init(_ event: GatewayEvent) {
        self.init(time: event.time, bus: event.bus, meter: event.meter, kind: event.kind.name, message: event.message)
    }
}
