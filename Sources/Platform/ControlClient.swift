#if canImport(Glibc)
import Glibc
#endif
import ConcentratorCore
import FoundationEssentials

/// Talks to a running agent over its control socket (used by the CLI and the console).
public final class ControlClient: @unchecked Sendable {
    private let connection: LineConnection
    public let path: String

    /// Connects, or returns nil when no agent can be reached at `path` (see `connect(path:)` for why).
    public static func connectIfRunning(path: String) -> ControlClient? {
        guard let c = try? LineConnection.connect(path: path) else { return nil }
        return ControlClient(connection: c, path: path)
    }

    /// Connects, or says why not: `permission-denied` (naming the group that grants access) when the
    /// socket or its directory refuses this user, `not-running` when no agent listens (issue 17 #13).
    public static func connect(path: String) -> Result<ControlClient, ControlFailure> {
        do {
            return .success(ControlClient(connection: try LineConnection.connect(path: path), path: path))
        } catch {
            guard error.errnoCode == EACCES || error.errnoCode == EPERM else {
                return .failure(ControlFailure(code: "not-running",
                                               message: "the agent is not running (no control socket at \(path)); start it with: systemctl start concentrator"))
            }
            return .failure(ControlFailure(code: "permission-denied", message: permissionDenied(path)))
        }
    }

    /// What refused this user: the socket itself, or the directory holding it, with its group.
    private static func permissionDenied(_ path: String) -> String {
        var st = stat()
        let socketVisible = stat(path, &st) == 0
        let directory = FileSystem.directoryName(path)
        if !socketVisible { _ = stat(directory, &st) }
        let what = socketVisible ? "the socket" : "its directory \(directory)"
        let group = getgrgid(st.st_gid).map { String(cString: $0.pointee.gr_name) } ?? "gid \(st.st_gid)"
        let mode = String(st.st_mode & 0o777, radix: 8)
        return "permission denied on the agent's control socket \(path): \(what) belongs to group \(group) (mode 0\(mode)); "
            + "run this as root, or add your user to the group \(group) (sudo usermod -aG \(group) $USER, then log in again)"
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
