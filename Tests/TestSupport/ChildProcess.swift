import Foundation
import Platform

/// A real child process started by a test, with stdout and stderr captured to files so the test
/// can wait for lines and read everything afterwards. Killed when released.
public final class ChildProcess: @unchecked Sendable {
    public let process = Process()
    public let stdoutPath: String
    public let stderrPath: String
    public let name: String

    public init(_ executable: String, _ arguments: [String], name: String? = nil, directory: TemporaryDirectory,
                environment: [String: String] = [:]) throws {
        self.name = name ?? (executable as NSString).lastPathComponent
        stdoutPath = directory.file("\(self.name).stdout")
        stderrPath = directory.file("\(self.name).stderr")
        FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        // The child gets its own copies of these descriptors; the test's are closed once it runs, or a
        // test that starts hundreds of processes runs out of descriptors.
        let output = FileHandle(forWritingAtPath: stdoutPath)
        let errors = FileHandle(forWritingAtPath: stderrPath)
        defer { try? output?.close(); try? errors?.close() }
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        // A child inherits the spawning thread's signal mask, and Swift's pool threads block most
        // signals: a child started from one would ignore SIGTERM. Spawn with nothing blocked.
        var nothingBlocked = sigset_t()
        var previousMask = sigset_t()
        sigemptyset(&nothingBlocked)
        pthread_sigmask(SIG_SETMASK, &nothingBlocked, &previousMask)
        defer { pthread_sigmask(SIG_SETMASK, &previousMask, nil) }
        try process.run()
    }

    public var stdout: String { readTextFile(stdoutPath) }
    public var stderr: String { readTextFile(stderrPath) }
    public var isRunning: Bool { process.isRunning }
    public var pid: Int32 { process.processIdentifier }

    /// Waits until stdout (or stderr) contains `text`. Returns whether it appeared.
    @discardableResult
    public func waitForOutput(_ text: String, inStderr: Bool = false, timeout: Duration = .seconds(20)) -> Bool {
        waitUntil(timeout: timeout) { (inStderr ? stderr : stdout).contains(text) }
    }

    /// Sends `signal` (SIGTERM by default) and waits for the process to exit.
    @discardableResult
    public func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(15)) -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, signal)
        let exited = waitUntil(timeout: timeout) { !process.isRunning }
        if !exited {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    /// Waits for the process to exit by itself and returns its status.
    public func waitForExit(timeout: Duration = .seconds(60)) -> Int32? {
        waitUntil(timeout: timeout) { !process.isRunning } ? process.terminationStatus : nil
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// Runs a command to completion and returns its exit status and output.
public func runCommand(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                       timeout: Duration = .seconds(120)) throws -> (status: Int32, stdout: String, stderr: String) {
    let dir = TemporaryDirectory("cmd")
    let child = try ChildProcess(executable, arguments, name: "cmd", directory: dir, environment: environment)
    guard let status = child.waitForExit(timeout: timeout) else {
        child.stop(signal: SIGKILL)
        throw NSError(domain: "runCommand", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(executable) timed out"])
    }
    return (status, child.stdout, child.stderr)
}

/// A free TCP port on 127.0.0.1 (bound and released; a tiny race is acceptable in tests).
public func freeLoopbackPort() -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return UInt16(bigEndian: addr.sin_port)
}
