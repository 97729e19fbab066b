import Archive
import ConcentratorCore
import Logging
import Platform
import Wire

/// What the monitoring components need from the agent, as closures (they hold no reference to the
/// agent, so the agent's lifecycle can start, stop and replace them as it likes).
struct MonitoringEnvironment: Sendable {
    var archive: ArchiveStore
    var clock: any WallClock
    var logger: Logger
    /// Whether an uplink is configured (events then also go into the outbox).
    var reportsToUplink: @Sendable () -> Bool
    /// New outbox entries exist: the uplink should send them now.
    var workArrived: @Sendable () -> Void
    /// Events stored here, for the recent-events list of the status and console.
    var noteStored: @Sendable ([GatewayEvent]) -> Void
    /// Whether the gateway's clock is synchronised (noted in switching events).
    var clockSynchronised: @Sendable () -> Bool
}

/// The one write path of edge monitoring: state parts, the events they caused, their audit entries
/// and (with an uplink) the outbox entry of an event batch, in one archive transaction; then the
/// uplink is told, so the events go out at once. Blocking: call it from a dedicated thread.
struct MonitoringRecorder: Sendable {
    let environment: MonitoringEnvironment

    /// Returns false (after one log line) when the archive refused the write; the caller keeps its
    /// state in memory and writes it again with the next change.
    @discardableResult
    func record(_ parts: [(part: MonitoringStatePart, value: [UInt8])], events: [GatewayEvent] = [], audit: [AuditEntry] = []) -> Bool {
        let now = environment.clock.now()
        var outbox: OutboxItem?
        if !events.isEmpty, environment.reportsToUplink() {
            let recipe = BatchRecipe.events(events)
            outbox = OutboxItem(created: now, kind: recipe.outboxKind, priority: recipe.priority, payload: recipe.encoded(), sealed: false)
        }
        let record = MonitoringRecord(parts: parts, events: events.map(ArchiveEvent.init), audit: audit, outbox: outbox)
        do {
            let sequence = try environment.archive.performBlocking(.recordMonitoring(record, at: now))
            if sequence != nil { environment.workArrived() }
            if !events.isEmpty { environment.noteStored(events) }
            return true
        } catch {
            environment.logger.error("monitoring: \(parts.map(\.part.rawValue).joined(separator: "+")) and \(events.count) events not stored: \(error); kept in memory, written again with the next change")
            return false
        }
    }
}
