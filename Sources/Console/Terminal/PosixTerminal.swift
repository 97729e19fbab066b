#if canImport(Glibc)
import Glibc
#endif
import Platform

/// The console's real terminal: standard input and output, normally a serial line (115200 8N1)
/// or a pseudo-terminal.
///
/// - Raw-ish mode: no canonical input, no echo, no ISIG. Ctrl-C arrives as byte 0x03, so it cancels
///   the current action instead of killing the tool; output processing stays on (`\n` → CR LF).
/// - One dedicated thread reads the input into a queue. During a long action a Ctrl-C fires the
///   action's cancellation at once, even while the console thread is blocked in the action.
/// - One dedicated thread waits for signals with `sigwait` (the process blocked SIGINT, SIGTERM
///   and SIGHUP in every thread before starting): SIGINT counts as Ctrl-C; SIGTERM and SIGHUP (the
///   line hung up) restore the terminal and exit, after an uninterruptible step has finished.
public final class PosixTerminal: ConsoleTerminal, @unchecked Sendable {
    public let rows: Int
    public let colours: Bool
    public let unicode: Bool
    private let input: Int32
    private let output: Int32
    private let inputIsTerminal: Bool
    private var saved = termios()
    private var rawModeSet = false

    private let lock = ConditionLock()
    private var queue: [UInt8] = []
    private var ended = false
    private var action: ActionCancellation?
    private var uninterruptible = false
    /// Held while an uninterruptible step runs; a termination signal takes it before exiting.
    private let uninterruptibleStep = ConditionLock()
    private let outputLock = ConditionLock()

    /// - Parameters:
    ///   - environment: the process environment (TERM, NO_COLOR, LINES, LANG/LC_ALL/LC_CTYPE).
    ///   - colourAllowed: false for `--no-color`.
    public init(environment: [String: String], colourAllowed: Bool = true, input: Int32 = 0, output: Int32 = 1) {
        self.input = input
        self.output = output
        inputIsTerminal = isatty(input) == 1
        let outputIsTerminal = isatty(output) == 1
        colours = colourAllowed && TerminalCapabilities.colours(environment: environment, outputIsTerminal: outputIsTerminal)
        unicode = TerminalCapabilities.unicode(environment: environment)
        rows = TerminalCapabilities.rows(environment: environment)
    }

    /// Switches to raw mode and starts the input and signal threads.
    public func start() {
        if inputIsTerminal, tcgetattr(input, &saved) == 0 {
            var raw = saved
            raw.c_lflag &= ~tcflag_t(ICANON | ECHO | ISIG | IEXTEN)
            raw.c_iflag &= ~tcflag_t(ICRNL | INLCR | IGNCR)
            raw.c_oflag |= tcflag_t(OPOST | ONLCR)
            withUnsafeMutableBytes(of: &raw.c_cc) { cc in
                cc[Int(VMIN)] = 1
                cc[Int(VTIME)] = 0
            }
            rawModeSet = tcsetattr(input, TCSANOW, &raw) == 0
        }
        DedicatedThread.start(name: "console-input") { [self] in readInput() }
        DedicatedThread.start(name: "console-signals") { [self] in waitForSignals() }
    }

    /// Puts the terminal back the way it was (call before exiting).
    public func restore() {
        if rawModeSet {
            tcsetattr(input, TCSANOW, &saved)
            rawModeSet = false
        }
    }

    public func write(_ text: String) {
        outputLock.withLock { try? FileDescriptor.writeAll(output, text) }
    }

    public func readLine(secret: Bool) -> LineResult {
        var editor = LineEditor(secret: secret)
        while true {
            guard let byte = nextByte() else {
                write("\n")
                return .endOfInput
            }
            for event in editor.feed(byte) {
                switch event {
                case .echo(let text):
                    if inputIsTerminal { write(text) }
                case .submit(let line):
                    if inputIsTerminal { write("\n") }
                    return .line(line)
                case .cancel:
                    write("^C\n")
                    return .cancelled
                case .endOfInput:
                    write("\n")
                    return .endOfInput
                }
            }
        }
    }

    public func readKey() -> KeyResult {
        guard let byte = nextByte() else { return .endOfInput }
        if byte == 0x03 { return .cancelled }
        if byte == 0x1B { discardEscapeSequence() }
        return .key(byte)
    }

    public func discardLineEnd(within: Duration, afterCarriageReturn: Bool) {
        let deadline = ContinuousClock.now + within
        lock.lock()
        defer { lock.unlock() }
        while queue.isEmpty && !ended {
            let left = deadline - ContinuousClock.now
            if left <= .zero { return }
            lock.wait(for: left)
        }
        if queue.first == 0x0D, !afterCarriageReturn {
            queue.removeFirst()
            // The LF of a CR LF may follow a moment later.
            if queue.isEmpty && !ended { lock.wait(for: .milliseconds(30)) }
            if queue.first == 0x0A { queue.removeFirst() }
        } else if queue.first == 0x0A {
            queue.removeFirst()
        }
    }

    public func runCancellable<T>(_ body: (ActionCancellation) -> T) -> T {
        let cancellation = ActionCancellation()
        lock.withLock { action = cancellation }
        defer { lock.withLock { action = nil } }
        return body(cancellation)
    }

    public func runUninterruptible<T>(_ body: () -> T) -> T {
        uninterruptibleStep.lock()
        lock.withLock { uninterruptible = true }
        defer {
            lock.withLock { uninterruptible = false }
            uninterruptibleStep.unlock()
        }
        return body()
    }

    // MARK: - Threads

    private func nextByte() -> UInt8? {
        lock.lock()
        defer { lock.unlock() }
        while queue.isEmpty && !ended { lock.wait() }
        return queue.isEmpty ? nil : queue.removeFirst()
    }

    /// Drops the rest of a cursor-key sequence that is already queued (ESC [ A and friends).
    private func discardEscapeSequence() {
        lock.withLock {
            guard let first = queue.first, first == 0x5B || first == 0x4F else { return }
            queue.removeFirst()
            while let b = queue.first {
                queue.removeFirst()
                if (0x40...0x7E).contains(b) { break }
            }
        }
    }

    private func readInput() {
        var buffer = [UInt8](repeating: 0, count: 256)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(input, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                lock.withLock { ended = true }
                lock.broadcast()
                return
            }
            for byte in buffer[0..<n] { receive(byte) }
            lock.broadcast()
        }
    }

    /// Queues a byte, except a Ctrl-C during an action (it cancels the action) or during an
    /// uninterruptible step (ignored).
    private func receive(_ byte: UInt8) {
        let toCancel = lock.withLock { () -> ActionCancellation? in
            if byte == 0x03 {
                if let action { return action }
                if uninterruptible { return nil }
            }
            queue.append(byte)
            return nil
        }
        if let toCancel {
            toCancel.cancel()
            write("^C\n")
        }
    }

    private func waitForSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&set, s) }
        while true {
            var received: Int32 = 0
            guard sigwait(&set, &received) == 0 else { continue }
            if received == SIGINT {
                receive(0x03)
                lock.broadcast()
                continue
            }
            uninterruptibleStep.lock()
            restore()
            write("\nconsole: \(TerminationSignals.name(received)); leaving\n")
            exit(128 + received)
        }
    }
}

/// What the environment says about the terminal.
public enum TerminalCapabilities {
    /// Colours only on a terminal, and never with TERM=dumb, TERM unset, or NO_COLOR set to a
    /// non-empty value (https://no-color.org).
    public static func colours(environment: [String: String], outputIsTerminal: Bool) -> Bool {
        guard outputIsTerminal else { return false }
        if let noColour = environment["NO_COLOR"], !noColour.isEmpty { return false }
        guard let term = environment["TERM"], !term.isEmpty, term != "dumb" else { return false }
        return true
    }

    /// UTF-8 only when the locale says so; a VT100 on a serial line gets ASCII.
    public static func unicode(environment: [String: String]) -> Bool {
        let locale = [environment["LC_ALL"], environment["LC_CTYPE"], environment["LANG"]]
            .compactMap { $0 }.first { !$0.isEmpty } ?? ""
        let lower = locale.lowercased()
        return lower.contains("utf-8") || lower.contains("utf8")
    }

    /// Screen height: LINES when set (10–200), otherwise 24. Serial lines report no window size.
    public static func rows(environment: [String: String]) -> Int {
        if let lines = environment["LINES"].flatMap({ Int($0) }), (10...200).contains(lines) { return lines }
        return 24
    }
}
