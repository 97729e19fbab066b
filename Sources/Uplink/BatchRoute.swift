/// Another way to the head-end than the device's own broker connection: the mesh (Docs/mesh.md,
/// "Integration"). The drain publishes through it while the broker is unreachable and the route is
/// available; the drain's logic does not change with the route (a batch still leaves the outbox only
/// when the head-end's signed ack comes back, through `UplinkService.acknowledgementArrived`).
public protocol BatchRoute: AnyObject, Sendable {
    /// Whether the route can take batches now (the mesh: a route to a gateway exists).
    var isAvailable: Bool { get }
    /// Hands over one sealed batch; returns once the route holds it. `attempt` counts the earlier
    /// sends of this outbox entry; `isEvent` and `isBackfill` give its traffic class.
    func send(sealedBatch: [UInt8], sequence: Int64, attempt: Int, isEvent: Bool, isBackfill: Bool) async throws
}
