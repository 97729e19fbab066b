#if canImport(Glibc)
import Glibc
#endif
import ConcentratorCore
import Platform

extension MeshLinkAddress {
    /// Parses "a.b.c.d:port".
    public static func ipv4(parsing text: String) -> MeshLinkAddress? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let port = UInt16(parts[1]) else { return nil }
        let octets = parts[0].split(separator: ".", omittingEmptySubsequences: false).map { UInt8($0) }
        guard octets.count == 4, octets.allSatisfy({ $0 != nil }) else { return nil }
        let host = octets.reduce(UInt32(0)) { $0 << 8 | UInt32($1!) }
        return .ipv4(host: host, port: port)
    }
}

/// A mesh link over UDP/IPv4 on a LAN or Wi-Fi mesh: unicast to a neighbour's address, and
/// "broadcast" to the configured targets (the subnet's broadcast address, a multicast group, or a
/// list of peers, whichever the site has). One socket; a dedicated thread (`mesh-udp`) receives.
public final class UDPMeshLink: MeshLink, @unchecked Sendable {
    /// Where the socket binds, where broadcasts go, and the MTU.
    public struct Settings: Sendable {
        public var name = "udp0"
        /// Local address to bind (host byte order; 0: any) and port (0: any free one).
        public var bindHost: UInt32 = 0
        public var port: UInt16 = 47_800
        /// Where broadcasts go: a broadcast address, a multicast group, or peers.
        public var broadcastTargets: [MeshLinkAddress] = []
        /// A multicast group to join (host byte order), if any.
        public var multicastGroup: UInt32?
        /// 1200 bytes stays below any LAN or VPN path MTU, so IP never fragments.
        public var mtu = 1_200

        public init() {}
    }

    public let settings: Settings
    public let properties: MeshLinkProperties
    private let fd: Int32
    private let clock: any WallClock
    private let lock = ConditionLock()
    private var counters = MeshLinkStatistics()
    private var running = false
    private var stopping = false
    private var finished = false
    /// The bound address (the port the kernel chose when `settings.port` was 0).
    public let localAddress: MeshLinkAddress

    public init(settings: Settings, clock: any WallClock = MonotonicClock()) throws(MeshLinkError) {
        self.settings = settings
        self.clock = clock
        properties = MeshLinkProperties(name: settings.name, kind: .udp, mtu: settings.mtu)
        let s = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { throw .io(link: settings.name, detail: "socket: \(String(cString: strerror(errno)))") }
        var on: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(s, SOL_SOCKET, SO_BROADCAST, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.socketAddress(host: settings.bindHost, port: settings.port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            let reason = String(cString: strerror(errno))
            close(s)
            throw .io(link: settings.name, detail: "bind port \(settings.port): \(reason) (is another agent using it?)")
        }
        if let group = settings.multicastGroup {
            var request = ip_mreq(imr_multiaddr: in_addr(s_addr: group.bigEndian), imr_interface: in_addr(s_addr: settings.bindHost.bigEndian))
            guard setsockopt(s, Int32(IPPROTO_IP), IP_ADD_MEMBERSHIP, &request, socklen_t(MemoryLayout<ip_mreq>.size)) == 0 else {
                let reason = String(cString: strerror(errno))
                close(s)
                throw .io(link: settings.name, detail: "join multicast group: \(reason)")
            }
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { getsockname(s, $0, &length) }
        }
        localAddress = .ipv4(host: UInt32(bigEndian: actual.sin_addr.s_addr), port: UInt16(bigEndian: actual.sin_port))
        fd = s
    }

    public var statistics: MeshLinkStatistics { lock.withLock { counters } }

    static func socketAddress(host: UInt32, port: UInt16) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        a.sin_addr = in_addr(s_addr: host.bigEndian)
        return a
    }

    public func start(receive: @escaping @Sendable (MeshLinkDatagram) -> Void) throws(MeshLinkError) {
        lock.lock()
        let refused = running || stopping
        if !refused { running = true }
        lock.unlock()
        if refused { throw .closed(link: settings.name) }
        DedicatedThread.start(name: "mesh-udp") { [self] in
            defer {
                lock.withLock { finished = true }
                lock.broadcast()
            }
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while !lock.withLock({ stopping }) {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&p, 1, 100) > 0 else { continue }
                var from = sockaddr_in()
                var length = socklen_t(MemoryLayout<sockaddr_in>.size)
                let n = buffer.withUnsafeMutableBytes { raw in
                    withUnsafeMutablePointer(to: &from) {
                        $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { recvfrom(fd, raw.baseAddress, raw.count, 0, $0, &length) }
                    }
                }
                guard n > 0 else { continue }
                let source = MeshLinkAddress.ipv4(host: UInt32(bigEndian: from.sin_addr.s_addr), port: UInt16(bigEndian: from.sin_port))
                if source == localAddress { continue }
                lock.withLock {
                    counters.datagramsReceived += 1
                    counters.bytesReceived += n
                }
                receive(MeshLinkDatagram(bytes: Array(buffer[0..<n]), source: source, receivedAt: clock.now()))
            }
        }
    }

    public func send(_ bytes: [UInt8], to destination: MeshLinkDestination, priority: MeshPriority) throws(MeshLinkError) {
        guard bytes.count <= properties.mtu else { throw .tooLarge(link: settings.name, bytes: bytes.count, mtu: properties.mtu) }
        guard lock.withLock({ running && !stopping }) else { throw .closed(link: settings.name) }
        let targets: [MeshLinkAddress]
        switch destination {
        case .broadcast: targets = settings.broadcastTargets
        case .unicast(let address): targets = [address]
        }
        var failure: String?
        for target in targets {
            guard case .ipv4(let host, let port) = target else { continue }
            var address = Self.socketAddress(host: host, port: port)
            let n = bytes.withUnsafeBytes { raw in
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) {
                        sendto(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL), $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
            lock.withLock {
                if n == bytes.count {
                    counters.datagramsSent += 1
                    counters.bytesSent += n
                } else {
                    counters.datagramsDropped += 1
                }
            }
            if n != bytes.count { failure = "send to \(target): \(String(cString: strerror(errno)))" }
        }
        if let failure { throw .io(link: settings.name, detail: failure) }
    }

    public func stop() {
        let wasRunning = lock.withLock { () -> Bool in
            stopping = true
            return running
        }
        if wasRunning {
            lock.withLock {
                while !finished { lock.wait(for: .milliseconds(200)) }
            }
        }
        close(fd)
    }
}
