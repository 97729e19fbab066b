/// Why a screen stopped before finishing.
public enum ConsoleStop: Error, Hashable, Sendable {
    /// Ctrl-C: back to the menu, nothing changed by the interrupted action.
    case cancelled
    /// The input ended: leave the console.
    case endOfInput
}

/// Why a typed value was refused; shown under the prompt before it is asked again.
public struct InputProblem: Error, Hashable, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
}

/// How a line is emphasised (with colours on; plain text otherwise).
public enum Tone: Sendable {
    case plain, heading, good, warning, bad, quiet

    var sgr: String? {
        switch self {
        case .plain: return nil
        case .heading: return "1"
        case .good: return "32"
        case .warning: return "33"
        case .bad: return "31"
        case .quiet: return "2"
        }
    }
}

/// Everything screens write and ask goes through here, so every line fits 80 columns, long
/// listings are paged, and every prompt handles help (`?`), defaults, bad input (message, then the
/// prompt again), Ctrl-C and the end of input the same way.
public final class ConsoleUI: @unchecked Sendable {
    public let terminal: any ConsoleTerminal
    public let width = TextLayout.width

    /// Prompt labels are cut to this; with a default of at most 28 columns the prompt ends before
    /// column 80.
    static let promptLabelWidth = 46

    public init(terminal: any ConsoleTerminal) { self.terminal = terminal }

    /// Lines per page: the screen minus the "more" line and one line of context.
    public var pageHeight: Int { max(5, terminal.rows - 2) }

    // MARK: - Output

    /// The physical lines `text` becomes: ASCII when needed, wrapped to 80 columns.
    public func layout(_ text: String) -> [String] {
        let plain = terminal.unicode ? text : TextLayout.ascii(text)
        return plain.split(separator: "\n", omittingEmptySubsequences: false)
            .flatMap { TextLayout.wrap(String($0), width: width) }
    }

    public func say(_ text: String = "", _ tone: Tone = .plain) {
        for line in layout(text) { terminal.write(coloured(line, tone) + "\n") }
    }

    public func heading(_ text: String) {
        say("")
        say(text, .heading)
    }

    /// A refused value or a failed step: `  ! message`.
    public func problem(_ text: String) { say("  ! " + text, .bad) }

    public func good(_ text: String) { say(text, .good) }
    public func warning(_ text: String) { say(text, .warning) }

    /// Writes `lines` a page at a time. q stops the listing; Ctrl-C cancels the action.
    public func show(_ lines: [String]) throws(ConsoleStop) {
        let physical = lines.flatMap(layout)
        let pages = Pager.pages(physical, height: pageHeight)
        for (index, page) in pages.enumerated() {
            for line in page { terminal.write(line + "\n") }
            guard index + 1 < pages.count else { break }
            let more = "-- more (\(index + 1)/\(pages.count)): Enter next page, q stop --"
            terminal.write(coloured(more, .quiet))
            let key = terminal.readKey()
            terminal.write("\r" + String(repeating: " ", count: more.count) + "\r")
            switch key {
            case .cancelled: throw .cancelled
            case .endOfInput: throw .endOfInput
            case .key(let k) where k == UInt8(ascii: "q") || k == UInt8(ascii: "Q"):
                // "q" then Enter is common: the Enter must not answer the next prompt.
                terminal.discardLineEnd(within: .milliseconds(500), afterCarriageReturn: false)
                let left = pages.count - index - 1
                say("(\(left) more page\(left == 1 ? "" : "s") not shown)", .quiet)
                return
            case .key(0x0D):
                // The LF of a CR LF line end is not a second key press.
                terminal.discardLineEnd(within: .milliseconds(30), afterCarriageReturn: true)
                continue
            case .key: continue
            }
        }
    }

    private func coloured(_ line: String, _ tone: Tone) -> String {
        guard terminal.colours, let sgr = tone.sgr, !line.isEmpty else { return line }
        return "\u{1B}[\(sgr)m" + line + "\u{1B}[0m"
    }

    // MARK: - Prompts

    /// Asks until `parse` accepts the answer. `?` or `help` shows `help`; an empty answer takes
    /// `defaultValue` when there is one (otherwise `parse` sees ""); a refused answer prints the
    /// problem and asks again.
    /// Long answers (keys, paths) use `longAnswer`: the label goes on its own line and the answer
    /// after a short `> `, so typed text stays within 80 columns.
    /// A label longer than 46 columns or a default longer than 28 takes the long form as well,
    /// so neither is ever cut.
    public func ask<T>(_ label: String, default defaultValue: String? = nil, help: [String], secret: Bool = false,
                       longAnswer: Bool = false, _ parse: (String) -> Result<T, InputProblem>) throws(ConsoleStop) -> T {
        let shown = defaultValue.map { terminal.unicode ? $0 : TextLayout.ascii($0) }
        let shownDefault = shown.map { " [" + $0 + "]" } ?? ""
        let long = longAnswer || label.count > Self.promptLabelWidth || (shown?.count ?? 0) > 28
        while true {
            if long {
                say(label + shownDefault + ":")
                terminal.write("> ")
            } else {
                terminal.write(label + shownDefault + ": ")
            }
            switch terminal.readLine(secret: secret) {
            case .cancelled: throw .cancelled
            case .endOfInput: throw .endOfInput
            case .line(let raw):
                let answer = raw.trimmingSpaces
                if answer == "?" || answer.lowercased() == "help" {
                    for line in help { say("  " + line, .quiet) }
                    if defaultValue != nil { say("  Enter alone keeps the value in brackets.", .quiet) }
                    say("  Ctrl-C cancels.", .quiet)
                    continue
                }
                switch parse(answer.isEmpty ? (defaultValue ?? "") : answer) {
                case .success(let value): return value
                case .failure(let problem): self.problem(problem.message)
                }
            }
        }
    }

    /// A yes/no question.
    public func confirm(_ question: String, default defaultAnswer: Bool) throws(ConsoleStop) -> Bool {
        let choices = defaultAnswer ? "(Y/n)" : "(y/N)"
        var label = question + " " + choices
        if label.count > Self.promptLabelWidth {
            say(question)
            label = "Answer " + choices
        }
        return try ask(label, help: ["Answer y or n."]) { text in
            switch text.lowercased() {
            case "": return .success(defaultAnswer)
            case "y", "yes": return .success(true)
            case "n", "no": return .success(false)
            default: return .failure(InputProblem("answer y or n (got \"\(TextLayout.cut(text, to: 20))\")"))
            }
        }
    }

    /// Asks for an optional free-text field: Enter keeps `current`, "-" clears it.
    public func askOptionalText(_ label: String, current: String?, maxLength: Int, help: [String]) throws(ConsoleStop) -> String? {
        try ask(label, default: current ?? "-", help: help + ["\"-\" leaves it empty."], longAnswer: true) { text in
            if text == "-" { return .success(nil) }
            if text.count > maxLength { return .failure(InputProblem("too long: \(text.count) characters; at most \(maxLength)")) }
            return .success(text)
        }
    }

    // MARK: - Progress

    /// Starts a progress line (redrawn in place, at most four times a second).
    public func progress(_ label: String) -> ProgressLine { ProgressLine(ui: self, label: label) }

    /// Starts a line redrawn in place with free text (`ProgressLine.show`): a countdown.
    public func statusLine() -> ProgressLine { ProgressLine(ui: self, label: "") }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
