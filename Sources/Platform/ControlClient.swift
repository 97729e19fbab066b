import ConcentratorCore
import FoundationEssentials

/// Talks to a running agent over its control socket (used by the CLI and the console).
public final class ControlClient: @unchecked Sendable {
    private let connection: LineConnection
    public let path: String

    /// Connects, or returns nil when no agent listens at `path` (the agent is not running).
    public static func connectIfRunning(path: String) -> ControlClient? {
        guard let c = try? LineConnection.connect(path: path) else { return nil }
        return ControlClient(connection: c, path: path)
    }

    private init(connection: LineConnection, path: String) {
        self.connection = connection
        self.path = path
    }

    /// Sends `request` and returns the final reply; `progress` receives intermediate lines.
    public func call(_ request: ControlRequest, timeout: Duration = .seconds(120),
                     progress: (ControlReply) -> Void = { _ in }) throws(ControlFailure) -> ControlReply {
        let encoder = JSONEncoder()
        guard let body = try? encoder.encode(request), connection.send(String(decoding: body, as: UTF8.self)) else {
            throw ControlFailure(code: "disconnected", message: "the agent closed the control socket \(path)")
        }
        let decoder = JSONDecoder()
        while true {
            guard let line = connection.receiveLine(timeout: timeout) else {
                throw ControlFailure(code: "timeout", message: "no answer from the agent on \(path) within \(timeout)")
            }
            guard let reply = try? decoder.decode(ControlReply.self, from: Data(line.utf8)) else {
                throw ControlFailure(code: "bad-reply", message: "the agent sent an unreadable reply")
            }
            if !reply.done {
                progress(reply)
                continue
            }
            if let error = reply.error { throw error }
            return reply
        }
    }

    /// Closes the connection (a running scan is cancelled by the agent).
    public func close() { connection.shutdownBoth() }
}
