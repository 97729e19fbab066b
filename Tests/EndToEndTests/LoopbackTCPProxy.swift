import Foundation
import Glibc
import Platform
import TestSupport

/// A TCP forwarder on 127.0.0.1 that a test can cut and open again: an agent's broker connection
/// goes through it, so one agent can lose its broker while the others keep theirs.
final class LoopbackTCPProxy: @unchecked Sendable {
    let port: UInt16
    let targetPort: UInt16
    private let lock = ConditionLock()
    private var listener: Int32 = -1
    private var connections: [Int32] = []

    init(targetPort: UInt16, port: UInt16) {
        self.targetPort = targetPort
        self.port = port
    }

    /// Starts accepting and forwarding.
    func open() throws {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var on: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(s, 16) == 0 else {
            Glibc.close(s)
            throw HarnessError("proxy cannot listen on \(port): errno \(errno)")
        }
        lock.withLock { listener = s }
        DedicatedThread.start(name: "proxy-accept") { [self] in
            while true {
                let client = accept(s, nil, nil)
                guard client >= 0 else { return }
                let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var target = Self.loopback(targetPort)
                let connected = withUnsafePointer(to: &target) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                guard connected == 0 else {
                    Glibc.close(client)
                    Glibc.close(upstream)
                    continue
                }
                lock.withLock { connections += [client, upstream] }
                pump(from: client, to: upstream)
                pump(from: upstream, to: client)
            }
        }
    }

    /// Closes the listener and every forwarded connection (the agent sees its broker vanish).
    func cut() {
        let (l, open) = lock.withLock { () -> (Int32, [Int32]) in
            defer {
                listener = -1
                connections = []
            }
            return (listener, connections)
        }
        if l >= 0 {
            shutdown(l, Int32(SHUT_RDWR))
            Glibc.close(l)
        }
        for fd in open { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private func pump(from source: Int32, to destination: Int32) {
        DedicatedThread.start(name: "proxy-pump") {
            var buffer = [UInt8](repeating: 0, count: 16_384)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                var sent = 0
                while sent < n {
                    let w = buffer.withUnsafeBytes { write(destination, $0.baseAddress! + sent, n - sent) }
                    if w <= 0 { break }
                    sent += w
                }
                if sent < n { break }
            }
            shutdown(source, Int32(SHUT_RDWR))
            shutdown(destination, Int32(SHUT_RDWR))
        }
    }

    private static func loopback(_ port: UInt16) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        a.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return a
    }
}
