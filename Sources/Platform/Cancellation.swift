import Synchronization

/// The cancellation of one long action (a bus scan, a test read, a connectivity check): Ctrl-C in
/// the console, or a control client that hung up, fires it; the action checks `isCancelled` between
/// steps, and its services register what cancelling means for them (close a socket, stop waiting).
public final class ActionCancellation: Sendable {
    private struct State: ~Copyable {
        var cancelled = false
        var handlers: [@Sendable () -> Void] = []
    }

    private let state = Mutex(State())

    public init() {}

    public var isCancelled: Bool { state.withLock { $0.cancelled } }

    /// Runs `handler` when the action is cancelled (at once if it already is).
    public func onCancel(_ handler: @escaping @Sendable () -> Void) {
        let runNow = state.withLock { s -> Bool in
            if s.cancelled { return true }
            s.handlers.append(handler)
            return false
        }
        if runNow { handler() }
    }

    public func cancel() {
        let toRun = state.withLock { s -> [@Sendable () -> Void] in
            guard !s.cancelled else { return [] }
            s.cancelled = true
            defer { s.handlers = [] }
            return s.handlers
        }
        for handler in toRun { handler() }
    }
}
