#if canImport(Glibc)
import Glibc
#endif
import CPlatform
import Platform

/// A pipe that wakes a thread blocked in poll(): another thread writes a byte, the poller drains it.
final class WakePipe: @unchecked Sendable {
    let readFD: Int32
    private let writeFD: Int32

    init() {
        var fds: [Int32] = [-1, -1]
        precondition(pipe(&fds) == 0, "pipe() failed: \(String(cString: strerror(errno)))")
        for fd in fds {
            _ = cplatform_set_cloexec(fd)
            _ = cplatform_set_nonblocking(fd, 1)
        }
        readFD = fds[0]
        writeFD = fds[1]
    }

    func signal() {
        var byte: UInt8 = 1
        _ = write(writeFD, &byte, 1)
    }

    func drain() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while buffer.withUnsafeMutableBytes({ read(readFD, $0.baseAddress, $0.count) }) > 0 {}
    }

    func close() {
        Glibc.close(readFD)
        Glibc.close(writeFD)
    }
}

/// A UNIX-domain stream socket address, or a description of why the path does not fit.
func unixAddress(_ path: String) -> Result<sockaddr_un, SimulatorError> {
    var addr = sockaddr_un()
    addr.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard !bytes.isEmpty, bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
        return .failure(.controlSocketFailed(path: path, reason: "the path must have 1-107 bytes"))
    }
    withUnsafeMutableBytes(of: &addr.sun_path) { raw in
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    return .success(addr)
}

/// The control channel server: a UNIX stream socket on its own thread. Each received line goes to
/// `handler`; its answer goes back as one line. Several clients may be connected at once.
final class ControlChannel: @unchecked Sendable {
    let path: String
    private let listener: Int32
    private let wake = WakePipe()
    private let finished = ConditionLock()
    private var done = false

    init(path: String, handler: @escaping @Sendable (String) -> String) throws(SimulatorError) {
        self.path = path
        let addr: sockaddr_un
        switch unixAddress(path) {
        case .success(let a): addr = a
        case .failure(let e): throw e
        }
        var st = stat()
        if lstat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFSOCK else {
                throw .controlSocketFailed(path: path, reason: "it exists and is not a socket")
            }
            unlink(path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .controlSocketFailed(path: path, reason: String(cString: strerror(errno))) }
        _ = cplatform_set_cloexec(fd)
        var bound = addr
        let rc = withUnsafePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0, listen(fd, 8) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw .controlSocketFailed(path: path, reason: reason)
        }
        listener = fd
        DedicatedThread.start(name: "sim-control") { [self] in
            serve(handler)
            finished.withLock { done = true }
            finished.broadcast()
        }
    }

    /// Stops serving, closes every connection and removes the socket file.
    func stop() {
        wake.signal()
        finished.withLock { while !done { finished.wait() } }
        Glibc.close(listener)
        wake.close()
        unlink(path)
    }

    private func serve(_ handler: (String) -> String) {
        var clients: [Int32: [UInt8]] = [:]
        defer { for fd in clients.keys { Glibc.close(fd) } }
        while true {
            var fds = [pollfd(fd: wake.readFD, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            let order = clients.keys.sorted()
            fds += order.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            guard poll(&fds, nfds_t(fds.count), -1) >= 0 || errno == EINTR else { return }
            if fds[0].revents != 0 { return }
            if fds[1].revents & Int16(POLLIN) != 0 {
                let client = accept(listener, nil, nil)
                if client >= 0 {
                    _ = cplatform_set_cloexec(client)
                    if clients.count < 16 { clients[client] = [] } else { Glibc.close(client) }
                }
            }
            for (i, fd) in order.enumerated() where fds[i + 2].revents != 0 {
                var chunk = [UInt8](repeating: 0, count: 1024)
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                guard n > 0 else {
                    Glibc.close(fd)
                    clients[fd] = nil
                    continue
                }
                var pending = clients[fd, default: []] + chunk[0..<n]
                while let newline = pending.firstIndex(of: 10) {
                    let line = String(decoding: pending[..<newline], as: UTF8.self)
                    pending.removeSubrange(...newline)
                    sendLine(handler(line), to: fd)
                }
                clients[fd] = pending.count > 4096 ? [] : pending
            }
        }
    }

    private func sendLine(_ text: String, to fd: Int32) {
        try? FileDescriptor.sendAll(fd, Array((text + "\n").utf8))
    }
}

/// Sends control lines to a running simulator (`meter-sim ctl`, scripts and tests).
public enum ControlClient {
    /// Sends one command line and returns the one-line answer (without the newline).
    public static func send(_ line: String, to path: String, timeout: Duration = .seconds(5)) throws(SimulatorError) -> String {
        let addr: sockaddr_un
        switch unixAddress(path) {
        case .success(let a): addr = a
        case .failure(let e): throw e
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .controlSocketFailed(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        let (secs, attos) = timeout.components
        var tv = timeval(tv_sec: Int(secs), tv_usec: Int(attos / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var target = addr
        let rc = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            throw .controlSocketFailed(path: path, reason: "\(String(cString: strerror(errno))) (is meter-sim running with --control \(path)?)")
        }
        let request = Array((line + "\n").utf8)
        guard request.withUnsafeBytes({ Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else {
            throw .controlSocketFailed(path: path, reason: "send failed: \(String(cString: strerror(errno)))")
        }
        var answer: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let n = read(fd, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            guard n == 1 else {
                throw .controlSocketFailed(path: path, reason: n == 0 ? "the simulator closed the connection" : "no answer in time")
            }
            if byte == 10 { return String(decoding: answer, as: UTF8.self) }
            answer.append(byte)
        }
    }
}
