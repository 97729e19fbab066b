import Archive
import ConcentratorCore
import Platform
import Wire

/// The outcome of an end-to-end uplink check.
public struct UplinkRoundTrip: Hashable, Sendable {
    /// The sequence of the test batch.
    public var sequence: Int64
    /// From enqueueing the batch to the head-end's verified ack.
    public var milliseconds: Int
}

extension UplinkService {
    /// Sends a small event batch (`uplink_check`) ahead of everything else and waits until the
    /// head-end's signed ack for exactly that batch has removed it from the outbox: sealing, the
    /// broker, the head-end's keys and this device's registration all work. A failure says which
    /// part to check.
    public func roundTrip(timeout: Duration) async -> Result<UplinkRoundTrip, ControlFailure> {
        let started = ContinuousClock.now
        let event = GatewayEvent(time: clock.now(), kind: .uplinkCheck, severity: .info, message: "uplink check")
        let recipe = BatchRecipe.events([event])
        let sequence: Int64
        do {
            sequence = try await archive.perform(.enqueueOutbox(OutboxItem(created: clock.now(), kind: recipe.outboxKind,
                                                                            priority: recipe.priority, payload: recipe.encoded(),
                                                                            sealed: false)))
        } catch {
            return .failure(ControlFailure(code: "archive", message: "cannot queue the test batch: \(error)"))
        }
        workArrived()
        while ContinuousClock.now - started < timeout {
            try? await Task.sleep(for: .milliseconds(100))
            let pending = (try? await archive.read { try $0.outboxContains(sequence: sequence) }) ?? true
            if !pending {
                return .success(UplinkRoundTrip(sequence: sequence, milliseconds: Int((ContinuousClock.now - started).inMilliseconds)))
            }
        }
        let state = currentState()
        let reason = state.connected
            ? "the broker took the test batch \(sequence) but no signed ack came back within \(timeout)"
            : "not connected to the broker \(state.broker) (\(state.lastError ?? "connecting"))"
        return .failure(ControlFailure(code: "no-ack", message: reason))
    }
}
