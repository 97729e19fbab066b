import Platform

/// The outcome of reading a line at a prompt.
public enum LineResult: Hashable, Sendable {
    case line(String)
    /// Ctrl-C: cancel the current action.
    case cancelled
    /// The input ended (Ctrl-D on an empty line, or the serial line hung up).
    case endOfInput
}

/// The outcome of waiting for one key (the pager).
public enum KeyResult: Hashable, Sendable {
    case key(UInt8)
    case cancelled
    case endOfInput
}

/// The terminal the console draws on: a serial line or a pseudo-terminal in raw mode
/// (`PosixTerminal`), or a script in tests. Output is plain text with `\n` line ends.
public protocol ConsoleTerminal: AnyObject, Sendable {
    /// Lines on the screen (24 unless the terminal says otherwise).
    var rows: Int { get }
    /// Whether colours may be used (off for TERM=dumb, NO_COLOR, or output that is not a terminal).
    var colours: Bool { get }
    /// Whether the output understands UTF-8; otherwise the console writes ASCII only.
    var unicode: Bool { get }
    func write(_ text: String)
    /// Reads one line with echo (`*` for secrets) and line editing.
    func readLine(secret: Bool) -> LineResult
    /// Waits for one key press.
    func readKey() -> KeyResult
    /// Drops a line end (CR, LF or CR LF) that arrives as the next input within `within`, so a
    /// key answered with Enter after it (the pager's `q`, then Enter) leaves nothing for the next
    /// prompt; after a CR only the LF of a CR LF is dropped. Anything else stays queued.
    func discardLineEnd(within: Duration, afterCarriageReturn: Bool)
    /// Runs a long action; Ctrl-C during it cancels `cancellation` instead of the tool.
    func runCancellable<T>(_ body: (ActionCancellation) -> T) -> T
    /// Runs a step that must not be interrupted (writing and applying the configuration): Ctrl-C
    /// is ignored and a termination signal waits until it is over.
    func runUninterruptible<T>(_ body: () -> T) -> T
}
