#if canImport(Glibc)
import Glibc
#endif

/// The sd_notify protocol, self-contained: datagrams like `READY=1` sent to the AF_UNIX socket
/// named by $NOTIFY_SOCKET (a path, or an abstract name starting with '@'). Without the variable
/// (not started by systemd) every call is a no-op. See sd_notify(3).
public final class SystemdNotifier: @unchecked Sendable {
    private let fd: Int32
    private var address: UnixDatagramAddress?
    /// The watchdog period systemd asked for ($WATCHDOG_USEC), if any and meant for this process.
    public let watchdogInterval: Duration?

    public init(environment: [String: String]) {
        if let path = environment["NOTIFY_SOCKET"], !path.isEmpty, let addr = UnixDatagramAddress(path) {
            address = addr
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        } else {
            address = nil
            fd = -1
        }
        if let usec = environment["WATCHDOG_USEC"].flatMap(Int64.init), usec > 0,
           environment["WATCHDOG_PID"].flatMap(Int32.init).map({ $0 == getpid() }) ?? true {
            watchdogInterval = .microseconds(usec)
        } else {
            watchdogInterval = nil
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Whether a notification socket was given.
    public var isActive: Bool { fd >= 0 }

    /// Sends one message (several `KEY=value` lines). Returns whether it was sent.
    @discardableResult
    public func notify(_ message: String) -> Bool {
        guard fd >= 0, var address else { return false }
        let bytes = Array(message.utf8)
        let sent = address.withSockaddr { addr, len in
            bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), addr, len) }
        }
        return sent == bytes.count
    }

    public func ready(status: String) { notify("READY=1\nSTATUS=\(status)") }
    public func status(_ line: String) { notify("STATUS=\(line)") }
    public func watchdog() { notify("WATCHDOG=1") }
    public func stopping() { notify("STOPPING=1") }
}

/// A `sockaddr_un` for sd_notify: a path, or an abstract name ('@' becomes a leading NUL).
struct UnixDatagramAddress {
    private var storage = sockaddr_un()
    private var length: socklen_t

    init?(_ path: String) {
        var bytes = Array(path.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        guard bytes.count < MemoryLayout.size(ofValue: storage.sun_path) else { return nil }
        storage.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &storage.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let offset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)!
        length = socklen_t(offset + bytes.count + (abstract ? 0 : 1))
    }

    mutating func withSockaddr<T>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        let len = length
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, len) }
        }
    }
}
