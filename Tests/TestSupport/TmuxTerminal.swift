import Foundation
import Platform

/// A program running in a real terminal: a detached tmux session of a fixed size (80×24 by
/// default) on a private tmux server. Tests type with `send-keys` and read the screen with
/// `capture-pane`; every capture is kept, and its lines wider than the terminal are collected.
public final class TmuxTerminal: @unchecked Sendable {
    public let columns: Int
    public let rows: Int
    private let tmux: String
    private let socket: String
    private let configuration: String
    /// Every screen captured so far, in order.
    public private(set) var captures: [String] = []
    /// Captured lines wider than `columns` (wrapped lines are joined with `-J`, so a line the
    /// program wrote too long shows at its full length).
    public private(set) var overlongLines: [String] = []

    /// Starts `command` (run by /bin/sh) in a new session.
    public init(command: String, directory: TemporaryDirectory, columns: Int = 80, rows: Int = 24,
                environment: [String: String] = [:]) throws {
        tmux = try findProgram("tmux")
        socket = directory.file("tmux.sock")
        configuration = directory.file("tmux.conf")
        self.columns = columns
        self.rows = rows
        try "set -g history-limit 50000\nset -g status off\n".write(toFile: configuration, atomically: true, encoding: .utf8)
        let exports = environment.sorted { $0.key < $1.key }.map { "\($0.key)='\($0.value)'" }.joined(separator: " ")
        let result = try run(["new-session", "-d", "-x", String(columns), "-y", String(rows), "-s", "console",
                              exports.isEmpty ? command : "env \(exports) \(command)"])
        guard result.status == 0 else { throw HarnessError("tmux new-session failed: \(result.stderr)") }
    }

    deinit { _ = try? run(["kill-server"]) }

    /// Runs one tmux command. Not through Foundation's `Process`: the first command forks the tmux
    /// server, which would inherit the descriptor `Process` watches for the child's exit (and those
    /// of every other child), so exits would never be noticed. Here tmux gets only stdin
    /// (/dev/null) and an output file, and is reaped with waitpid.
    @discardableResult
    private func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let output = socket + ".out-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(output) }
        let descriptor = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw HarnessError("cannot create \(output): \(String(cString: strerror(errno)))") }
        let started = ProgramSpawner.spawn(tmux, ["-S", socket, "-f", configuration] + arguments, output: descriptor)
        close(descriptor)
        let pid: pid_t
        switch started {
        case .success(let child): pid = child
        case .failure(let error): throw HarnessError("cannot run tmux: \(error)")
        }
        let status = ProgramSpawner.waitForExit(pid)
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        return (status, text, text)
    }

    /// Types `text` literally, then Enter (unless `enter` is false).
    public func type(_ text: String, enter: Bool = true) throws {
        if !text.isEmpty { try run(["send-keys", "-t", "console", "-l", text]) }
        if enter { try run(["send-keys", "-t", "console", "Enter"]) }
    }

    /// Sends one key by tmux name: `C-c`, `Enter`, `q`.
    public func key(_ name: String) throws {
        try run(["send-keys", "-t", "console", name])
    }

    /// The visible screen now (trailing spaces trimmed by tmux), recorded and width-checked.
    @discardableResult
    public func capture() throws -> String {
        let screen = try run(["capture-pane", "-t", "console", "-p", "-J"]).stdout
        record(screen)
        return screen
    }

    /// The whole scrollback and screen, width-checked.
    public func history() throws -> String {
        let text = try run(["capture-pane", "-t", "console", "-p", "-J", "-S", "-"]).stdout
        record(text)
        return text
    }

    /// The descriptors open in this process now.
    private func record(_ screen: String) {
        captures.append(screen)
        for line in screen.split(separator: "\n", omittingEmptySubsequences: false) where line.count > columns {
            overlongLines.append(String(line))
        }
    }

    /// The last non-empty line of the screen (where the cursor waits at a prompt).
    public func lastLine(_ screen: String) -> String {
        screen.split(separator: "\n").last { !$0.trimmingCharacters(in: .whitespaces).isEmpty }.map(String.init) ?? ""
    }

    /// Captures until `condition` holds for the screen; returns the screen, or nil after `timeout`.
    public func wait(timeout: Duration = .seconds(20), _ condition: (String) -> Bool) throws -> String? {
        let deadline = ContinuousClock.now + timeout
        while true {
            let screen = try capture()
            if condition(screen) { return screen }
            if ContinuousClock.now > deadline { return nil }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    /// Waits until the cursor line starts with `prompt` (and the screen contains `containing`).
    public func waitForPrompt(_ prompt: String, containing: String? = nil, timeout: Duration = .seconds(20)) throws -> String? {
        try wait(timeout: timeout) { screen in
            lastLine(screen).hasPrefix(prompt) && (containing.map { screen.contains($0) } ?? true)
        }
    }

    /// Whether the session still runs.
    public var isRunning: Bool { (try? run(["has-session", "-t", "console"]).status) == 0 }
}
