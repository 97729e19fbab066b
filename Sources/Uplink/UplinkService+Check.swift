import Archive
import ConcentratorCore
import MQTT
import Platform
import Wire

/// The outcome of an end-to-end uplink check.
public struct UplinkRoundTrip: Hashable, Sendable {
    /// The sequence of the test batch.
    public var sequence: Int64
    /// From enqueueing the batch to the head-end's verified ack.
    public var milliseconds: Int
}

/// Where a running uplink check stands, reported about once a second.
public struct UplinkCheckProgress: Hashable, Sendable {
    /// A stable code: `connecting`, `waiting-for-ack`, `not-registered` (the head-end refuses the
    /// device: waiting for the operator's approval).
    public var code: String
    /// For people: the precise cause where it is known.
    public var message: String
    public var elapsedMilliseconds: Int
}

extension UplinkService {
    /// Publishes the signed enrolment request (Docs/mqtt-api.md §12) on the device's `enrol` topic.
    @discardableResult
    public func publishEnrolment(installer: String, note: String) async throws(MQTTError) -> EnrolmentRequest {
        let request = EnrolmentRequest(deviceID: deviceID, installer: installer, note: note, time: clock.now(),
                                       keys: keys.publicDocuments(deviceID: deviceID))
        _ = try await client.publish(topic: topics.enrol, payload: request.encoded(signedBy: keys.signing), qos: .atLeastOnce)
        logger.notice("uplink: enrolment request published (installer \(installer), signing key \(keys.signing.id))")
        return request
    }

    /// Sends a small event batch (`uplink_check`) ahead of everything else and waits until the
    /// head-end's signed ack for exactly that batch has removed it from the outbox: sealing, the
    /// broker, the head-end's keys and this device's registration all work. A failure says which
    /// part to check. With `enrol`, the signed enrolment request goes first (and again every 30 s)
    /// and a refusal means "waiting for the operator's approval" until the timeout; without it, a
    /// refusal ends the check at once (`not-registered`). `progress` hears where it stands about
    /// once a second; returning false from it stops the check (`cancelled`).
    public func roundTrip(timeout: Duration, enrol: (installer: String, note: String)? = nil,
                          progress: @escaping @Sendable (UplinkCheckProgress) -> Bool = { _ in true }) async -> Result<UplinkRoundTrip, ControlFailure> {
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
        var nextEnrolment = ContinuousClock.now
        var nextReport = ContinuousClock.now
        while ContinuousClock.now - started < timeout {
            try? await Task.sleep(for: .milliseconds(100))
            let pending = (try? await archive.read { try $0.outboxContains(sequence: sequence) }) ?? true
            if !pending {
                return .success(UplinkRoundTrip(sequence: sequence, milliseconds: Int((ContinuousClock.now - started).inMilliseconds)))
            }
            let state = currentState()
            if let enrol, state.connected, ContinuousClock.now >= nextEnrolment {
                do {
                    try await publishEnrolment(installer: enrol.installer, note: enrol.note)
                    nextEnrolment = .now + .seconds(30)
                } catch {
                    nextEnrolment = .now + .seconds(5)
                }
            }
            let elapsed = Int((ContinuousClock.now - started).inMilliseconds)
            let now: UplinkCheckProgress
            if let refusal = state.refusal {
                guard enrol != nil else { return .failure(ControlFailure(code: "not-registered", message: refusal)) }
                now = UplinkCheckProgress(code: "not-registered", message: refusal + "; waiting for the operator's approval",
                                          elapsedMilliseconds: elapsed)
            } else if !state.connected {
                now = UplinkCheckProgress(code: "connecting", message: "not connected to the broker \(state.broker): "
                    + (state.lastError ?? "connecting"), elapsedMilliseconds: elapsed)
            } else {
                now = UplinkCheckProgress(code: "waiting-for-ack", message: "test batch \(sequence) sent; waiting for the head-end's ack",
                                          elapsedMilliseconds: elapsed)
            }
            if ContinuousClock.now >= nextReport {
                nextReport = .now + .seconds(1)
                if !progress(now) { return .failure(ControlFailure(code: "cancelled", message: "cancelled")) }
            }
        }
        let state = currentState()
        if let refusal = state.refusal {
            return .failure(ControlFailure(code: "not-registered", message: refusal + " (not approved within \(timeout))"))
        }
        let reason = state.connected
            ? "the broker took the test batch \(sequence) but no signed ack came back within \(timeout)"
            : "not connected to the broker \(state.broker) (\(state.lastError ?? "connecting"))"
        return .failure(ControlFailure(code: state.connected ? "no-ack" : "not-connected", message: reason))
    }
}
