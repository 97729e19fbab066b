import ConcentratorCore
import Foundation
import TestSupport

/// A simulated field and the agent as systemd would run it: `meter-sim` on a PTY link, then
/// `concentrator run` with NOTIFY_SOCKET pointing at a datagram socket this fixture binds, and
/// WATCHDOG_USEC when asked. Everything lives in one temporary directory; processes die with it.
final class SystemdTestFixture: @unchecked Sendable {
    let dir = TemporaryDirectory("systemd-e2e")
    let meterCount: Int
    let notify: NotifySocket
    private(set) var simulator: ChildProcess?
    private(set) var agent: ChildProcess?

    var link: String { dir.file("bus1") }
    var configPath: String { dir.file("config.json") }
    var stateDirectory: String { dir.file("state") }
    var controlSocket: String { dir.file("run/control.sock") }
    var servedLog: String { dir.file("served.log") }

    /// Starts meter-sim with `meterCount` SDM630 meters (addresses 1…n) and writes the agent's
    /// configuration for them.
    init(meterCount: Int, baud: Int = 38_400, turnaround: String = "5-15") throws {
        self.meterCount = meterCount
        notify = try NotifySocket(path: dir.file("notify.sock"))
        let sim = try ChildProcess(BuiltProducts.path("meter-sim"), [
            "--link", link, "--baud", String(baud), "--meters", "1-\(meterCount):eastron-sdm630", "--turnaround", turnaround,
            "--profiles", BuiltProducts.profilesDirectory, "--served-log", servedLog,
        ], name: "meter-sim", directory: dir)
        simulator = sim
        guard sim.waitForOutput("pty", timeout: .seconds(20)) else {
            throw FixtureError("meter-sim did not start: \(sim.stderr)")
        }
        let meters = (1...meterCount).map { #"{"id": "m\#($0)", "bus": "bus1", "address": \#($0), "profile": "eastron-sdm630"}"# }
        let config = """
        {
          "device": {"id": "gw-e2e", "stateDirectory": "\(stateDirectory)", "runtimeDirectory": "\(dir.file("run"))"},
          "buses": [{"name": "bus1", "device": "\(link)", "baud": \(baud)}],
          "meters": [\(meters.joined(separator: ",\n    "))]
        }
        """
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// Starts the agent on a virtual clock at `clockOrigin`.
    func startAgent(clockOrigin: String, watchdogMicroseconds: Int? = nil, testHooks: Bool = true) throws -> ChildProcess {
        var environment = ["NOTIFY_SOCKET": notify.path]
        if let watchdogMicroseconds { environment["WATCHDOG_USEC"] = String(watchdogMicroseconds) }
        if testHooks { environment["CONCENTRATOR_TEST_HOOKS"] = "1" }
        let child = try ChildProcess(BuiltProducts.path("concentrator"), [
            "run", "--config", configPath, "--clock-origin", clockOrigin, "--clock-rate", "1",
        ], name: "concentrator", directory: dir, environment: environment)
        agent = child
        return child
    }

    /// Sends one request line on the agent's control socket and returns the reply line.
    func control(_ json: String, timeout: Duration = .seconds(10)) throws -> String {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw FixtureError("socket: \(errno)") }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in controlSocket.utf8.enumerated() { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else { throw FixtureError("connect \(controlSocket): \(String(cString: strerror(errno)))") }
        let request = Array((json + "\n").utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else {
            throw FixtureError("send failed")
        }
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var tv = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        while !reply.contains(UInt8(ascii: "\n")) {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw FixtureError("no reply to \(json)") }
            reply += buffer[0..<n]
        }
        return String(decoding: reply.prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
