import ConcentratorCore
import Platform

/// The running agent, reached through its control socket: the console never touches a bus the
/// agent owns (rule 1); scans and test reads are queued to the agent's bus owners.
public protocol AgentAccess: Sendable {
    /// Whether an agent answers on the socket now.
    var isRunning: Bool { get }
    /// Sends one request. Progress lines (scans) go to `progress`. Cancelling closes the
    /// connection, which makes the agent stop a running scan at the next address.
    /// Fails with code `not-running` when no agent listens.
    func call(_ request: ControlRequest, timeout: Duration, cancellation: ActionCancellation?,
              progress: @escaping (ControlReply) -> Void) -> Result<ControlReply, ControlFailure>
}

extension AgentAccess {
    public func call(_ request: ControlRequest, timeout: Duration = .seconds(60)) -> Result<ControlReply, ControlFailure> {
        call(request, timeout: timeout, cancellation: nil, progress: { _ in })
    }
}

/// `AgentAccess` over the control socket, one connection per request (the agent may restart
/// between two screens).
public struct ControlSocketAgent: AgentAccess {
    public let path: String

    public init(path: String) { self.path = path }

    public var isRunning: Bool {
        guard let client = ControlClient.connectIfRunning(path: path) else { return false }
        client.close()
        return true
    }

    public func call(_ request: ControlRequest, timeout: Duration, cancellation: ActionCancellation?,
                     progress: @escaping (ControlReply) -> Void) -> Result<ControlReply, ControlFailure> {
        let client: ControlClient
        switch ControlClient.connect(path: path) {
        case .success(let c): client = c
        case .failure(let why): return .failure(why)
        }
        defer { client.close() }
        cancellation?.onCancel { client.close() }
        do {
            return .success(try client.call(request, timeout: timeout, progress: progress))
        } catch {
            if cancellation?.isCancelled == true { return .failure(ControlFailure(code: "cancelled", message: "cancelled")) }
            return .failure(error)
        }
    }
}
