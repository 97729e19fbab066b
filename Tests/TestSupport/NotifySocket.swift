import Foundation
import Platform

/// A datagram socket standing in for systemd's notification socket: a test binds it, passes its
/// path as NOTIFY_SOCKET to the process under test, and reads what arrives (`READY=1`, `STATUS=…`,
/// `WATCHDOG=1`, `STOPPING=1`), each message with the instant it arrived.
public final class NotifySocket: @unchecked Sendable {
    /// One datagram.
    public struct Message: Sendable {
        public let received: ContinuousClock.Instant
        public let text: String
        /// The `KEY=value` lines of the message.
        public var assignments: [String] { text.split(separator: "\n").map(String.init) }
    }

    public let path: String
    private let fd: Int32
    private let received = Locked<[Message]>([])
    private let closed = Locked(false)
    private let finished = DispatchSemaphore(value: 0)

    public init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        // "@name" is an abstract socket: a leading NUL and no terminating one (unix(7)).
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        precondition(bytes.count < MemoryLayout.size(ofValue: addr.sun_path), "socket path too long: \(path)")
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let length = abstract ? MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count : MemoryLayout<sockaddr_un>.size
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(length)) }
        }
        guard rc == 0 else {
            let code = errno
            Glibc.close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
        }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [self] in receiveLoop() }
        thread.start()
    }

    deinit { close() }

    private func receiveLoop() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !closed.value {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                let message = Message(received: .now, text: String(decoding: buffer[0..<n], as: UTF8.self))
                received.withLock { $0.append(message) }
            }
        }
        finished.signal()
    }

    /// Every message so far, oldest first.
    public var messages: [Message] { received.value }

    /// Messages that contain the line `assignment` (e.g. `WATCHDOG=1`).
    public func messages(containing assignment: String) -> [Message] {
        messages.filter { $0.assignments.contains(assignment) }
    }

    /// Lines starting with `prefix` (e.g. `STATUS=`), in order, without the prefix.
    public func values(of prefix: String) -> [String] {
        messages.flatMap(\.assignments).filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
    }

    /// Waits until a message contains the line `assignment`. Returns whether one did.
    @discardableResult
    public func waitFor(_ assignment: String, timeout: Duration = .seconds(20)) -> Bool {
        waitUntil(timeout: timeout) { !messages(containing: assignment).isEmpty }
    }

    public func close() {
        let first = closed.withLock { closed -> Bool in
            defer { closed = true }
            return !closed
        }
        guard first else { return }
        finished.wait()
        Glibc.close(fd)
        if !path.hasPrefix("@") { unlink(path) }
    }
}
