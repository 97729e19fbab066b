import ConcentratorCore
import Platform
#if canImport(Glibc)
import Glibc
#endif

/// Small helpers for human-readable command output (80 columns, no colour).
enum Output {
    static func error(_ text: String) {
        LogOutputLine.stderr("error: " + text)
    }

    /// Pads or cuts `text` to `width` columns.
    static func column(_ text: String, _ width: Int, right: Bool = false) -> String {
        let t = text.count > width ? String(text.prefix(width - 1)) + "…" : text
        let pad = String(repeating: " ", count: width - t.count)
        return right ? pad + t : t + pad
    }

    static func number(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e12 { return String(Int64(v)) }
        let s = String(v)
        return s.count > 12 ? String(v.formatted3()) : s
    }

    /// A progress bar on stderr: `[#########           ] 120/247  found 60`.
    static func progress(done: Int, total: Int, suffix: String) {
        let width = 30
        let filled = total == 0 ? width : done * width / total
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        LogOutputLine.stderrRaw("\r[\(bar)] \(done)/\(total)  \(suffix)   ")
        if done == total { LogOutputLine.stderrRaw("\n") }
    }

    static func duration(milliseconds ms: Double) -> String {
        ms < 1000 ? "\(Int(ms)) ms" : ms < 120_000 ? "\((ms / 100).rounded() / 10) s" : "\(Int(ms / 60_000)) min"
    }
}

extension Double {
    func formatted3() -> String {
        let scaled = (self * 1000).rounded() / 1000
        return String(scaled)
    }
}

/// Direct writes to stdout/stderr (no buffering surprises when mixed with progress bars).
enum LogOutputLine {
    static func stdout(_ line: String) { write(1, line + "\n") }
    static func stderr(_ line: String) { write(2, line + "\n") }
    static func stderrRaw(_ text: String) { write(2, text) }
    static func stdoutRaw(_ text: String) { write(1, text) }

    private static func write(_ fd: Int32, _ text: String) { try? FileDescriptor.writeAll(fd, text) }
}
