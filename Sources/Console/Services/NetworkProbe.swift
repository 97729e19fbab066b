#if canImport(Glibc)
import Glibc
#endif
import Platform

/// The first two steps of the uplink test, done here with the C library: name resolution
/// (getaddrinfo) and a TCP connection to the broker's port (non-blocking connect with a timeout,
/// cancellable with Ctrl-C).
public enum NetworkProbe {
    /// A resolved address, printable.
    public struct Address: Hashable, Sendable {
        public var text: String
        fileprivate var storage: [UInt8]
        fileprivate var family: Int32
    }

    public static func resolve(host: String, port: Int) -> Result<[Address], ServiceProblem> {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            return .failure(ServiceProblem(String(cString: gai_strerror(rc))))
        }
        defer { freeaddrinfo(list) }
        var out: [Address] = []
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let n = node {
            if let sa = n.pointee.ai_addr {
                let bytes = Array(UnsafeRawBufferPointer(start: sa, count: Int(n.pointee.ai_addrlen)))
                var name = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                getnameinfo(sa, n.pointee.ai_addrlen, &name, socklen_t(name.count), nil, 0, NI_NUMERICHOST)
                let text = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if !out.contains(where: { $0.text == text }) {
                    out.append(Address(text: text, storage: bytes, family: n.pointee.ai_family))
                }
            }
            node = n.pointee.ai_next
        }
        return out.isEmpty ? .failure(ServiceProblem("no address for this name")) : .success(out)
    }

    /// Connects to `address` within `timeout`; returns how long it took. Closes the socket again.
    public static func connect(_ address: Address, timeout: Duration, cancellation: ActionCancellation) -> Result<Duration, ServiceProblem> {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return .failure(ServiceProblem(String(cString: strerror(errno)))) }
        defer { close(fd) }
        let started = ContinuousClock.now
        let rc = address.storage.withUnsafeBytes { raw in
            Glibc.connect(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
        if rc == 0 { return .success(ContinuousClock.now - started) }
        guard errno == EINPROGRESS else { return .failure(ServiceProblem(String(cString: strerror(errno)))) }
        while true {
            if cancellation.isCancelled { return .failure(ServiceProblem("cancelled")) }
            let left = timeout - (ContinuousClock.now - started)
            if left <= .zero { return .failure(ServiceProblem("no answer within \(timeout.components.seconds) s")) }
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let r = poll(&p, 1, Int32(min(100, max(1, left.inMilliseconds))))
            if r < 0 && errno != EINTR { return .failure(ServiceProblem(String(cString: strerror(errno)))) }
            if r > 0 {
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
                return error == 0 ? .success(ContinuousClock.now - started) : .failure(ServiceProblem(String(cString: strerror(error))))
            }
        }
    }
}
