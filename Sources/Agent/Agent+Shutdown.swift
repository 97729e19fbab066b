import Bus
import Platform

extension Agent {
    /// Asks every bus to stop at once, then waits for all of them against one shared deadline: each
    /// finishes its current transaction, stores the snapshot it was taking (partial) and closes its
    /// port. Stopping them one after the other could take the budget once per bus.
    ///
    /// Shutdown order (`stop()`): STOPPING=1 to systemd, control socket closed, buses stopped here,
    /// maintenance loop ended, LEDs off, event writer drained, archive closed. The uplink closes
    /// its MQTT session after the buses (so their last snapshots are in the outbox) and before the
    /// archive; the unit's TimeoutStopSec= (30 s) leaves it the time beyond `stopBudget` (20 s).
    func stopBuses(_ buses: [BusOwner], within budget: Duration) {
        let deadline = ContinuousClock.now + budget
        for bus in buses { bus.stop(timeout: .zero) }
        for bus in buses where !bus.stop(timeout: max(.zero, deadline - .now)) {
            logger.error("bus \(bus.name) did not stop within \(budget); its current snapshot may be incomplete")
        }
    }
}
