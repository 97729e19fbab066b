import Foundation
import Platform

/// A failure to prepare or run the test broker, with the broker's log tail when there is one.
public struct MosquittoBrokerError: Error, CustomStringConvertible {
    public let description: String
}

/// Runs blocking work (child processes, polling with sleeps) on a dedicated thread, so async tests
/// never stall Swift's cooperative pool, which has only as many threads as there are cores.
public func runOnDedicatedThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DedicatedThread.start(name: "test-blocking") {
            continuation.resume(with: Result { try body() })
        }
    }
}

/// Finds a program in the usual system directories and `PATH` (mosquitto lives in /usr/sbin).
public func findProgram(_ name: String) throws -> String {
    var directories = ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/sbin", "/bin"]
    directories += (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
    for directory in directories where FileManager.default.isExecutableFile(atPath: directory + "/" + name) {
        return directory + "/" + name
    }
    throw MosquittoBrokerError(description: "\(name) not found; run scripts/install-deps.sh")
}

/// TLS material made with `openssl` in a test's temporary directory: a CA, a server certificate for
/// 127.0.0.1 and localhost signed by it, a client certificate signed by it, and a second CA that
/// signed nothing (for "wrong CA" tests). EC P-256 keys, valid for two days.
public struct TestCertificates: Sendable {
    public let caFile: String
    public let serverCertificate: String
    public let serverKey: String
    public let clientCertificate: String
    public let clientKey: String
    public let otherCAFile: String

    public static func generate(in directory: TemporaryDirectory) async throws -> TestCertificates {
        try await runOnDedicatedThread { try generateBlocking(in: directory) }
    }

    private static func generateBlocking(in directory: TemporaryDirectory) throws -> TestCertificates {
        let openssl = try findProgram("openssl")
        func run(_ arguments: [String]) throws {
            let result = try runCommand(openssl, arguments, timeout: .seconds(60))
            if result.status != 0 {
                throw MosquittoBrokerError(description: "openssl \(arguments.prefix(2).joined(separator: " ")) failed: \(result.stderr)")
            }
        }
        func makeCA(_ name: String) throws {
            try run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", directory.file("\(name).key"), "-out", directory.file("\(name).crt"), "-days", "2",
                     "-subj", "/CN=Concentrator Test \(name)",
                     "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        }
        func makeLeaf(_ name: String, commonName: String, extensions: String) throws {
            try run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", directory.file("\(name).key"), "-out", directory.file("\(name).csr"), "-subj", "/CN=\(commonName)"])
            let extensionFile = directory.file("\(name).ext")
            try extensions.write(toFile: extensionFile, atomically: true, encoding: .utf8)
            try run(["x509", "-req", "-in", directory.file("\(name).csr"), "-CA", directory.file("ca.crt"),
                     "-CAkey", directory.file("ca.key"), "-set_serial", name == "server" ? "2" : "3", "-days", "2",
                     "-out", directory.file("\(name).crt"), "-extfile", extensionFile])
        }
        try makeCA("ca")
        try makeCA("other-ca")
        try makeLeaf("server", commonName: "localhost",
                     extensions: "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
        try makeLeaf("client", commonName: "test-device",
                     extensions: "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
        return TestCertificates(caFile: directory.file("ca.crt"), serverCertificate: directory.file("server.crt"),
                                serverKey: directory.file("server.key"), clientCertificate: directory.file("client.crt"),
                                clientKey: directory.file("client.key"), otherCAFile: directory.file("other-ca.crt"))
    }
}

/// A real mosquitto broker for tests, on 127.0.0.1 and a random free port, with a generated
/// configuration and its log captured. Supports anonymous or password access, an ACL, TLS with
/// certificates or a pre-shared key, stop/start on the same port, and kill -9. Killed when released.
public final class MosquittoBroker: @unchecked Sendable {
    /// What the generated mosquitto.conf contains.
    public struct Configuration: Sendable {
        public var allowAnonymous = true
        /// username → password, written with `mosquitto_passwd -b`.
        public var users: [String: String] = [:]
        /// The ACL file's text (mosquitto's `user` / `topic` lines), if any.
        public var acl: String?
        public var certificates: TestCertificates?
        public var requireClientCertificate = false
        /// identity → hexadecimal key; switches the listener to TLS-PSK.
        public var preSharedKeys: [String: String] = [:]

        public init() {}
    }

    public let configuration: Configuration
    public let port: UInt16
    public let directory: TemporaryDirectory
    private let program: String
    private var process: ChildProcess?
    private var runs = 0
    private var logs: [String] = []

    /// Writes the configuration and starts the broker; returns once it listens.
    public init(_ configuration: Configuration = Configuration()) async throws {
        self.configuration = configuration
        directory = TemporaryDirectory("mosquitto")
        port = freeLoopbackPort()
        program = try findProgram("mosquitto")
        try await runOnDedicatedThread { [self] in
            try writeConfiguration()
            try startBlocking()
        }
    }

    deinit {
        resume()
        process?.stop(signal: SIGKILL, timeout: .seconds(5))
    }

    public var configurationFile: String { directory.file("mosquitto.conf") }

    /// Everything the broker logged, over all its runs.
    public var log: String {
        (logs + [process.map { $0.stderr + $0.stdout } ?? ""]).joined(separator: "\n")
    }

    public var isRunning: Bool { process?.isRunning ?? false }

    /// Starts the broker (again) on the same port and waits until it listens (at most 10 s).
    public func start() async throws {
        try await runOnDedicatedThread { [self] in try startBlocking() }
    }

    private func startBlocking() throws {
        precondition(process?.isRunning != true, "the broker is already running")
        if let old = process { logs.append(old.stderr + old.stdout) }
        runs += 1
        let child = try ChildProcess(program, ["-c", configurationFile], name: "mosquitto-\(runs)", directory: directory)
        process = child
        let listening = waitUntil(timeout: .seconds(10)) {
            // mosquitto logs "mosquitto version … running" once its listeners are open.
            !child.isRunning || child.stderr.contains(" running")
        }
        guard listening, child.isRunning else {
            let text = child.stderr + child.stdout
            child.stop(signal: SIGKILL)
            throw MosquittoBrokerError(description: "mosquitto did not start on port \(port): \(text.suffix(2000))")
        }
    }

    /// Stops the broker with SIGTERM (it sends DISCONNECT to v5 clients and exits).
    public func stop() async {
        _ = try? await runOnDedicatedThread { [self] in process?.stop(signal: SIGTERM, timeout: .seconds(10)) }
    }

    /// Kills the broker with SIGKILL: no DISCONNECT, the kernel closes the sockets.
    public func kill9() async {
        _ = try? await runOnDedicatedThread { [self] in process?.stop(signal: SIGKILL, timeout: .seconds(10)) }
    }

    /// Freezes the broker with SIGSTOP: connections stay open but nothing is answered, like a dead
    /// link. `resume()` thaws it.
    public func pause() {
        if let pid = process?.pid { kill(pid, SIGSTOP) }
    }

    /// Thaws a paused broker with SIGCONT.
    public func resume() {
        if let pid = process?.pid { kill(pid, SIGCONT) }
    }

    /// Stops and starts the broker on the same port. Sessions are lost (no persistence).
    public func restart() async throws {
        await stop()
        try await start()
    }

    private func writeConfiguration() throws {
        var lines = ["listener \(port) 127.0.0.1", "log_dest stderr", "log_type all",
                     "allow_anonymous \(configuration.allowAnonymous)", "persistence false"]
        if geteuid() == 0 {
            // As root, mosquitto drops to the user "mosquitto", which cannot read the test's files.
            lines.append("user root")
        }
        if !configuration.users.isEmpty {
            let passwordFile = directory.file("passwords")
            _ = FileManager.default.createFile(atPath: passwordFile, contents: Data())
            let passwd = try findProgram("mosquitto_passwd")
            for (user, password) in configuration.users.sorted(by: { $0.key < $1.key }) {
                let result = try runCommand(passwd, ["-b", passwordFile, user, password], timeout: .seconds(30))
                if result.status != 0 {
                    throw MosquittoBrokerError(description: "mosquitto_passwd failed: \(result.stderr)")
                }
            }
            lines.append("password_file \(passwordFile)")
        }
        if let acl = configuration.acl {
            let aclFile = directory.file("acl")
            try acl.write(toFile: aclFile, atomically: true, encoding: .utf8)
            lines.append("acl_file \(aclFile)")
        }
        if let certificates = configuration.certificates {
            lines += ["cafile \(certificates.caFile)", "certfile \(certificates.serverCertificate)",
                      "keyfile \(certificates.serverKey)", "require_certificate \(configuration.requireClientCertificate)"]
        } else if !configuration.preSharedKeys.isEmpty {
            let pskFile = directory.file("psk")
            let text = configuration.preSharedKeys.sorted(by: { $0.key < $1.key }).map { "\($0.key):\($0.value)\n" }.joined()
            try text.write(toFile: pskFile, atomically: true, encoding: .utf8)
            lines += ["psk_hint concentrator-test", "psk_file \(pskFile)"]
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: configurationFile, atomically: true, encoding: .utf8)
    }
}
