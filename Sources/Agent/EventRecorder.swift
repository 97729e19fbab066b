import Archive
import ConcentratorCore
import Logging
import Platform

/// Keeps the newest gateway events in memory (status, console) and writes every event to the
/// archive's events table on its own thread, so a bus thread never waits for it.
public final class EventRecorder: @unchecked Sendable {
    private let lock = ConditionLock()
    private var recent: [GatewayEvent] = []
    private let capacity = 200
    private let worker = SerialWorker(name: "events")
    private let archive: ArchiveStore
    private let logger: Logger
    /// Called for every event after it is recorded (the uplink sends events right away).
    private var listeners: [@Sendable (GatewayEvent) -> Void] = []

    public init(archive: ArchiveStore, logger: Logger) {
        self.archive = archive
        self.logger = logger
    }

    public func addListener(_ listener: @escaping @Sendable (GatewayEvent) -> Void) {
        lock.withLock { listeners.append(listener) }
    }

    /// Records `event`. Safe from any thread; returns at once.
    public func record(_ event: GatewayEvent) {
        let targets = lock.withLock { () -> [@Sendable (GatewayEvent) -> Void] in
            recent.append(event)
            if recent.count > capacity { recent.removeFirst(recent.count - capacity) }
            return listeners
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

    /// The newest `limit` events, oldest first.
    public func newest(_ limit: Int) -> [GatewayEvent] {
        lock.withLock { Array(recent.suffix(max(0, limit))) }
    }

    public func stop() { worker.stop() }
}

extension ArchiveEvent {
    init(_ event: GatewayEvent) {
        self.init(time: event.time, bus: event.bus, meter: event.meter, kind: event.kind.name, message: event.message)
    }
}
