import Foundation
import Platform
import TestSupport

/// Debian's Chromium, headless, driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`:
/// commands are written to its fd 3, answers read from its fd 4, each a JSON text ended by NUL). One
/// page; navigation, clicks and form filling through `Runtime.evaluate`; screenshots as PNG.
/// Blocking: call it from a dedicated thread (`runOnDedicatedThread`).
final class HeadlessChromium: @unchecked Sendable {
    let pid: pid_t
    private let toBrowser: Int32
    private let fromBrowser: Int32
    private var nextID = 0
    private var pending: [UInt8] = []
    private var session = ""
    let profile: TemporaryDirectory

    static func executable() -> String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    init(executable: String) throws {
        profile = TemporaryDirectory("chromium-profile")
        var commands: [Int32] = [0, 0], answers: [Int32] = [0, 0]
        guard pipe(&commands) == 0, pipe(&answers) == 0 else { throw HarnessError("pipe failed") }
        // Only the dup2'ed copies (fds 3 and 4) reach chromium.
        for fd in commands + answers { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, commands[0], 3)
        posix_spawn_file_actions_adddup2(&actions, answers[1], 4)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, profile.file("stdout"), O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, profile.file("stderr"), O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let arguments = [executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                         "--no-default-browser-check", "--disable-extensions", "--disable-background-networking", "--disable-sync",
                         "--remote-debugging-pipe", "--user-data-dir=\(profile.path)", "--window-size=1280,1600", "about:blank"]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, executable, &actions, nil, &argv, environ)
        close(commands[0])
        close(answers[1])
        guard spawned == 0 else { throw HarnessError("cannot start \(executable): \(spawned)") }
        pid = child
        toBrowser = commands[1]
        fromBrowser = answers[0]
        let target = try call("Target.createTarget", ["url": "about:blank"])
        let targetID = try unwrapped(target["targetId"] as? String, "no target id: \(target)")
        let attached = try call("Target.attachToTarget", ["targetId": targetID, "flatten": true])
        session = try unwrapped(attached["sessionId"] as? String, "no session id: \(attached)")
    }

    deinit {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        close(toBrowser)
        close(fromBrowser)
    }

    var log: String { (try? String(contentsOfFile: profile.file("stderr"), encoding: .utf8)) ?? "" }

    /// Sends one command (to the page's session unless `browser`) and returns its result; throws on a protocol error.
    @discardableResult
    func call(_ method: String, _ params: [String: Any] = [:], browser: Bool = false, timeout: Duration = .seconds(30)) throws -> [String: Any] {
        nextID += 1
        let id = nextID
        var message: [String: Any] = ["id": id, "method": method, "params": params]
        if !browser, !session.isEmpty { message["sessionId"] = session }
        var bytes = [UInt8](try JSONSerialization.data(withJSONObject: message))
        bytes.append(0)
        do { try FileDescriptor.writeAll(toBrowser, bytes) } catch { throw HarnessError("chromium's command pipe: \(error) \(log.suffix(2000))") }
        let deadline = ContinuousClock.now + timeout
        while true {
            let reply = try readMessage(until: deadline)
            guard reply["id"] as? Int == id else { continue }   // events and other answers
            if let error = reply["error"] as? [String: Any] { throw HarnessError("\(method): \(error)") }
            return reply["result"] as? [String: Any] ?? [:]
        }
    }

    private func readMessage(until deadline: ContinuousClock.Instant) throws -> [String: Any] {
        while true {
            if let end = pending.firstIndex(of: 0) {
                let text = Array(pending[..<end])
                pending.removeSubrange(...end)
                return (try? JSONSerialization.jsonObject(with: Data(text))) as? [String: Any] ?? [:]
            }
            let left = deadline - ContinuousClock.now
            guard left > .zero else { throw HarnessError("chromium did not answer in time") }
            var p = pollfd(fd: fromBrowser, events: Int16(POLLIN), revents: 0)
            let ms = Int32(max(1, min(1000, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)))
            guard poll(&p, 1, ms) >= 0 else { throw HarnessError("poll failed") }
            guard p.revents != 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            let n = read(fromBrowser, &buffer, buffer.count)
            guard n > 0 else { throw HarnessError("chromium closed its pipe: \(log.suffix(2000))") }
            pending += buffer[0..<n]
        }
    }

    /// The value of a JavaScript expression in the page, or nil while the page is being replaced.
    func evaluate(_ expression: String) -> Any? {
        guard let r = try? call("Runtime.evaluate", ["expression": expression, "returnByValue": true]),
              r["exceptionDetails"] == nil else { return nil }
        return (r["result"] as? [String: Any])?["value"]
    }

    func navigate(_ url: String) throws {
        try call("Page.navigate", ["url": url])
        _ = waitFor(timeout: .seconds(20)) { self.evaluate("document.readyState") as? String == "complete" && self.url.hasPrefix(url) }
    }

    var url: String { evaluate("location.href") as? String ?? "" }
    var html: String { evaluate("document.documentElement.outerHTML") as? String ?? "" }

    /// Polls `condition` every 100 ms; true when it held before the timeout.
    func waitFor(timeout: Duration, _ condition: () -> Bool) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return true }
            usleep(100_000)
        }
        return condition()
    }

    /// Saves a PNG of the page.
    func screenshot(to path: String) throws {
        let shot = try call("Page.captureScreenshot", ["format": "png", "captureBeyondViewport": true])
        guard let base64 = shot["data"] as? String, let data = Data(base64Encoded: base64) else { throw HarnessError("no screenshot data") }
        try data.write(to: URL(fileURLWithPath: path))
    }
}

/// `#require` for non-test code paths: the value, or a harness error.
func unwrapped<T>(_ value: T?, _ what: @autoclosure () -> String) throws -> T {
    guard let value else { throw HarnessError(what()) }
    return value
}
