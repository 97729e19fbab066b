import Platform
import Synchronization

/// Splits a listing into screen pages.
public enum Pager {
    /// `lines` in pages of at most `height` lines (at least one page, possibly empty).
    public static func pages(_ lines: [String], height: Int) -> [[String]] {
        let size = max(1, height)
        guard !lines.isEmpty else { return [[]] }
        return stride(from: 0, to: lines.count, by: size).map { Array(lines[$0..<min($0 + size, lines.count)]) }
    }
}

/// The text of a progress line: `label [#######-------] 35/70  found 30  ETA 0:12`, at most 79
/// columns (a VT100 writing the last column would wrap on the next character).
public enum ProgressText {
    public static let barWidth = 20

    public static func render(label: String, done: Int, total: Int, note: String, elapsed: Duration) -> String {
        let filled = total <= 0 ? barWidth : min(barWidth, done * barWidth / total)
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: barWidth - filled)
        var eta = "ETA --:--"
        if done >= total, total > 0 {
            eta = "took " + clock(elapsed)
        } else if done > 0 {
            eta = "ETA " + clock(elapsed * (total - done) / done)
        }
        let text = "\(label) [\(bar)] \(done)/\(total)  \(note)  \(eta)"
        return TextLayout.cut(text, to: TextLayout.width - 1)
    }

    /// `m:ss`, or `h:mm:ss` from an hour.
    public static func clock(_ duration: Duration) -> String {
        let seconds = max(0, Int(duration.components.seconds))
        let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60)
        let mm = m < 10 && h > 0 ? "0\(m)" : "\(m)"
        let ss = s < 10 ? "0\(s)" : "\(s)"
        return h > 0 ? "\(h):\(mm):\(ss)" : "\(mm):\(ss)"
    }
}

/// A progress line redrawn in place with a carriage return (light on a slow serial line: at most
/// four redraws a second, plus the last one). Safe to update from another thread.
public final class ProgressLine: Sendable {
    private struct State {
        var lastDraw: ContinuousClock.Instant?
        var drawnLength = 0
        var finished = false
    }

    private let ui: ConsoleUI
    private let label: String
    private let started = ContinuousClock.now
    private let state = Mutex(State())

    init(ui: ConsoleUI, label: String) {
        self.ui = ui
        self.label = label
    }

    public func update(done: Int, total: Int, note: String) {
        state.withLock { s in
            guard !s.finished else { return }
            let now = ContinuousClock.now
            if let lastDraw = s.lastDraw, now - lastDraw < .milliseconds(250), done < total { return }
            s.lastDraw = now
            let text = ProgressText.render(label: label, done: done, total: total, note: note, elapsed: now - started)
            let fill = String(repeating: " ", count: max(0, s.drawnLength - text.count))
            ui.terminal.write("\r" + text + fill)
            s.drawnLength = text.count
        }
    }

    /// Draws `text` instead of a bar (a countdown), cut to 79 columns, at most four times a second.
    public func show(_ text: String) {
        state.withLock { s in
            guard !s.finished else { return }
            let now = ContinuousClock.now
            if let lastDraw = s.lastDraw, now - lastDraw < .milliseconds(250) { return }
            s.lastDraw = now
            let shown = TextLayout.cut(text, to: TextLayout.width - 1)
            ui.terminal.write("\r" + shown + String(repeating: " ", count: max(0, s.drawnLength - shown.count)))
            s.drawnLength = shown.count
        }
    }

    /// Ends the line (the last drawing stays on screen).
    public func finish() {
        state.withLock { s in
            guard !s.finished else { return }
            s.finished = true
            if s.drawnLength > 0 { ui.terminal.write("\n") }
        }
    }

    public var elapsed: Duration { ContinuousClock.now - started }
}
