#if canImport(Glibc)
import Glibc
#endif
import Platform

/// What one wait for input on a serial port gave.
enum SerialReadResult: Equatable {
    /// Bytes as they came off the wire (before any software parity is checked).
    case bytes([UInt8])
    /// Nothing arrived within the wait.
    case timedOut
    /// The port failed (the device vanished, an I/O error): the errno.
    case failed(Int32)
}

extension SerialPort {
    /// Writes all of `bytes`, waiting for room when the port's buffer is full, without draining
    /// (a UART's write returns before the bytes are on the wire; the caller accounts for their
    /// wire time). Returns nil, or the errno of a failure.
    func writeAll(_ bytes: [UInt8]) -> Int32? {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n > 0 {
                offset += n
                continue
            }
            let code = errno
            if n < 0, code == EINTR { continue }
            guard n < 0, code == EAGAIN || code == EWOULDBLOCK else { return n == 0 ? EIO : code }
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            if poll(&p, 1, 1000) < 0, errno != EINTR { return errno }
            if p.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 { return EIO }
        }
        return nil
    }

    /// Waits up to `limit` for input, then reads what is there (up to 4 KiB).
    func readAvailable(within limit: Duration) -> SerialReadResult {
        let deadline = ContinuousClock.now + limit
        while true {
            let left = deadline - ContinuousClock.now
            let milliseconds = left <= .zero ? 0 : Int32(min(60_000, (left.inMilliseconds).rounded(.up)))
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let r = poll(&p, 1, milliseconds)
            if r < 0 {
                if errno == EINTR { continue }
                return .failed(errno)
            }
            if r == 0 {
                if ContinuousClock.now < deadline { continue }
                return .timedOut
            }
            if p.revents & Int16(POLLIN) == 0, p.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 { return .failed(EIO) }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n > 0 { return .bytes(Array(buffer[0..<n])) }
            if n < 0, errno == EINTR || errno == EAGAIN { continue }
            return .failed(n == 0 ? EIO : errno)
        }
    }
}
