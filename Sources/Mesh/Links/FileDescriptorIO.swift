#if canImport(Glibc)
import Glibc
#endif
import ConcentratorCore

/// Blocking reads and writes on a descriptor for the links' dedicated threads: waits with poll, so
/// a non-blocking descriptor (a PTY, a socket) works too. Never call from the cooperative pool.
enum FileDescriptorIO {
    /// Writes all of `bytes`; false on an error or after `timeoutMilliseconds` without progress.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], timeoutMilliseconds: Int32 = 2_000) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if n > 0 {
                offset += n
            } else if n < 0 && errno == EINTR {
                continue
            } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                guard poll(&p, 1, timeoutMilliseconds) > 0 else { return false }
            } else {
                return false
            }
        }
        return true
    }

    /// What arrives within `timeoutMilliseconds` (empty on timeout); nil when the descriptor is
    /// closed or failed.
    static func read(_ fd: Int32, timeoutMilliseconds: Int32, maximum: Int = 4_096) -> [UInt8]? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let r = poll(&p, 1, timeoutMilliseconds)
        if r < 0 { return errno == EINTR ? [] : nil }
        if r == 0 { return [] }
        if p.revents & Int16(POLLIN) == 0 && p.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 { return nil }
        var buffer = [UInt8](repeating: 0, count: maximum)
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if n > 0 { return Array(buffer[0..<n]) }
        if n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) { return [] }
        return nil
    }
}

/// A monotonic clock as a `WallClock` (milliseconds since the process's first use), for ledgers
/// such as the duty-cycle budget that a wall-clock step must not reopen.
public struct MonotonicClock: WallClock {
    private static let origin = ContinuousClock.now
    public init() {}
    public func realDuration(ofMilliseconds milliseconds: Int64) -> Duration { .milliseconds(milliseconds) }
    public func now() -> Timestamp {
        let (s, atto) = (ContinuousClock.now - Self.origin).components
        return Timestamp(milliseconds: 1_000_000 + s * 1000 + atto / 1_000_000_000_000_000)
    }
}
