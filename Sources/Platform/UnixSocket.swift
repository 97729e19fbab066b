#if canImport(Glibc)
import Glibc
#endif
import ConcentratorCore
import CPlatform

/// A connected UNIX stream socket carrying newline-terminated lines (the control protocol).
/// Blocking: use on dedicated threads.
public final class LineConnection: @unchecked Sendable {
    public let fd: Int32
    private var buffer: [UInt8] = []
    /// Longest accepted line; longer input is an error (bounded memory).
    public static let maxLineBytes = 1 << 20

    public init(fd: Int32) { self.fd = fd }
    deinit { Glibc.close(fd) }

    /// Connects to the socket at `path`.
    public static func connect(path: String) throws(FileError) -> LineConnection {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw FileError(path: path, operation: "create socket for") }
        var addr = try UnixSocketAddress(path)
        let rc = addr.withSockaddr { Glibc.connect(fd, $0, $1) }
        guard rc == 0 else {
            let e = FileError(path: path, operation: "connect to")
            Glibc.close(fd)
            throw e
        }
        return LineConnection(fd: fd)
    }

    /// Writes `line` plus a newline. Returns false if the peer is gone.
    @discardableResult
    public func send(_ line: String) -> Bool {
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        do { try FileDescriptor.sendAll(fd, bytes) } catch { return false }
        return true
    }

    /// Writes `line` only if it fits in the socket buffer now (never blocks). Returns false if the
    /// peer is gone or the line was dropped.
    @discardableResult
    public func trySend(_ line: String) -> Bool {
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress!, bytes.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        if n < 0 { return errno == EAGAIN || errno == EWOULDBLOCK }
        if n < bytes.count {
            // A partial line must be completed, or the stream would be corrupt; the rest is short.
            return send(String(decoding: bytes[n..<(bytes.count - 1)], as: UTF8.self))
        }
        return true
    }

    /// Reads the next line (without the newline). Nil at end of stream, on error, or after
    /// `timeout` without a complete line.
    public func receiveLine(timeout: Duration? = nil) -> String? {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            if let nl = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[..<nl], as: UTF8.self)
                buffer.removeSubrange(...nl)
                return line
            }
            if buffer.count > Self.maxLineBytes { return nil }
            if let deadline {
                let left = deadline - ContinuousClock.now
                if left <= .zero { return nil }
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ms = Int32(max(1, min(left.inMilliseconds, 60_000)))
                let r = poll(&p, 1, ms)
                if r < 0 && errno == EINTR { continue }
                if r <= 0 { continue }
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }

    /// Shuts the socket down so a blocked reader on another thread wakes up.
    public func shutdownBoth() { shutdown(fd, Int32(SHUT_RDWR)) }
}

/// A listening UNIX stream socket. Refuses to take over a socket another live process serves.
public final class UnixListener: @unchecked Sendable {
    public let path: String
    public let fd: Int32

    /// Binds `path` with permission `mode` (0660: the agent's group may connect).
    public init(path: String, mode: mode_t = 0o660) throws(FileError) {
        if FileSystem.exists(path) {
            if (try? LineConnection.connect(path: path)) != nil {
                throw FileError(path: path, operation: "listen on (another agent is running and serves)", errnoCode: EADDRINUSE)
            }
            unlink(path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw FileError(path: path, operation: "create socket for") }
        var addr = try UnixSocketAddress(path)
        let oldMask = umask(0o777 & ~mode)
        let rc = addr.withSockaddr { bind(fd, $0, $1) }
        umask(oldMask)
        guard rc == 0, listen(fd, 16) == 0 else {
            let e = FileError(path: path, operation: "bind")
            Glibc.close(fd)
            throw e
        }
        chmod(path, mode)
        self.path = path
        self.fd = fd
    }

    /// Waits for the next connection; nil once the listener is closed.
    public func accept() -> LineConnection? {
        while true {
            let c = Glibc.accept(fd, nil, nil)
            if c >= 0 {
                cplatform_set_cloexec(c)
                return LineConnection(fd: c)
            }
            if errno == EINTR || errno == ECONNABORTED { continue }
            return nil
        }
    }

    /// Stops accepting and removes the socket file.
    public func close() {
        shutdown(fd, Int32(SHUT_RDWR))
        Glibc.close(fd)
        unlink(path)
    }
}

/// A `sockaddr_un` for a path (at most 107 bytes).
struct UnixSocketAddress {
    private var storage = sockaddr_un()

    init(_ path: String) throws(FileError) {
        storage.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: storage.sun_path) else {
            throw FileError(path: path, operation: "use as a socket path (too long)", errnoCode: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &storage.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
    }

    mutating func withSockaddr<T>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}
