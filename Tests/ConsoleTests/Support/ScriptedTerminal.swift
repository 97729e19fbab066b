import Console
import Foundation
import Platform

/// A terminal fed from a script of keystrokes (bytes, as a serial line delivers them), recording
/// everything the console writes, with the echo a real terminal would show.
final class ScriptedTerminal: ConsoleTerminal, @unchecked Sendable {
    let rows = 24
    let colours = false
    let unicode = false
    private var input: [UInt8]
    private(set) var output = ""
    private let cancelDuringActions: Bool

    /// What the installer types.
    enum Keys {
        /// A line followed by Enter.
        case line(String)
        /// Ctrl-C.
        case interrupt
        /// One key without Enter (an answer to the pager).
        case key(Character)
        /// Bytes as a terminal sends them (`\r\n` from a terminal that ends lines with CR LF).
        case raw([UInt8])
    }

    /// - Parameter cancelDuringActions: every long action sees Ctrl-C at once.
    init(_ keys: [Keys], cancelDuringActions: Bool = false) {
        input = keys.flatMap { key -> [UInt8] in
            switch key {
            case .line(let text): return Array(text.utf8) + [0x0D]
            case .interrupt: return [0x03]
            case .key(let c): return Array(String(c).utf8)
            case .raw(let bytes): return bytes
            }
        }
        self.cancelDuringActions = cancelDuringActions
    }

    convenience init(lines: [String]) { self.init(lines.map { .line($0) }) }

    func write(_ text: String) { output += text }

    func readLine(secret: Bool) -> LineResult {
        var editor = LineEditor(secret: secret)
        while !input.isEmpty {
            for event in editor.feed(input.removeFirst()) {
                switch event {
                case .echo(let text): output += text
                case .submit(let line):
                    output += "\n"
                    return .line(line)
                case .cancel:
                    output += "^C\n"
                    return .cancelled
                case .endOfInput:
                    return .endOfInput
                }
            }
        }
        output += "\n"
        return .endOfInput
    }

    func readKey() -> KeyResult {
        guard !input.isEmpty else { return .endOfInput }
        let byte = input.removeFirst()
        return byte == 0x03 ? .cancelled : .key(byte)
    }

    func discardLineEnd(within: Duration, afterCarriageReturn: Bool) {
        if input.first == 0x0D, !afterCarriageReturn {
            input.removeFirst()
            if input.first == 0x0A { input.removeFirst() }
        } else if input.first == 0x0A {
            input.removeFirst()
        }
    }

    func runCancellable<T>(_ body: (ActionCancellation) -> T) -> T {
        let cancellation = ActionCancellation()
        if cancelDuringActions { cancellation.cancel() }
        return body(cancellation)
    }

    func runUninterruptible<T>(_ body: () -> T) -> T { body() }

    /// Every physical line written (progress redraws split at carriage returns).
    var lines: [String] {
        output.split(separator: "\n", omittingEmptySubsequences: false).flatMap { $0.split(separator: "\r", omittingEmptySubsequences: false) }
            .map(String.init)
    }

    /// The output with lines the console wrapped (continued with an indent of two) joined again,
    /// and runs of spaces made one: for finding a message whatever its wrapping.
    var flat: String {
        var text = output.replacingOccurrences(of: "\n  ", with: " ")
        while text.contains("  ") { text = text.replacingOccurrences(of: "  ", with: " ") }
        return text
    }

    /// The lines wider than 80 columns (should be none).
    var overlongLines: [String] { lines.filter { TextLayout.visibleWidth($0) > TextLayout.width } }

    /// Whether all scripted input was consumed.
    var inputLeft: Int { input.count }
}
