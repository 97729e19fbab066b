#if canImport(Glibc)
import Glibc
#endif
import ConcentratorCore
import Platform

extension ConsoleSession {
    /// Most lines an export shows on the screen; longer exports belong in a file.
    static let screenExportLines = 2000

    func exportScreen() throws(ConsoleStop) {
        ui.heading("Archive export")
        let now = services.clock.now()
        let from = try askTime("From (UTC)", default: now.adding(seconds: -86_400))
        let to = try ui.ask("To (UTC, exclusive)", default: ISO8601.format(now),
                            help: ["An ISO 8601 time after the start, such as 2026-11-02 or 2026-11-02T06:00:00Z."]) { text -> Result<Timestamp, InputProblem> in
            guard let t = ISO8601.parse(text) else { return .failure(InputProblem("not an ISO 8601 time such as 2026-11-02T06:00:00Z")) }
            return t > from ? .success(t) : .failure(InputProblem("the end must be after the start \(ISO8601.format(from))"))
        }
        let ids = working.meterIDs
        let meter = try ui.ask("Meter (- for all)", default: "-", help: ["One meter's id, or - for every meter."]) { text -> Result<String?, InputProblem> in
            if text == "-" { return .success(nil) }
            return ids.contains(text) ? .success(text) : .failure(InputProblem("no meter \"\(TextLayout.cut(text, to: 24))\" in the configuration"))
        }
        let destination = try ui.ask("screen, or a file such as /media/usb/export.csv", default: "screen",
                                     help: ["screen shows CSV here, a page at a time (at most \(Self.screenExportLines) lines);",
                                            "a path writes the file there: .csv for CSV, .json for JSON. The directory must exist."],
                                     longAnswer: true) { text in
            if text == "screen" { return .success(text) }
            guard case .success = Parse.absolutePath(text, what: "the file") else {
                return .failure(InputProblem("type screen, or an absolute path such as /media/usb/export.csv"))
            }
            guard text.hasSuffix(".csv") || text.hasSuffix(".json") else { return .failure(InputProblem("the file name must end in .csv or .json")) }
            guard FileSystem.isDirectory(FileSystem.directoryName(text)) else {
                return .failure(InputProblem("the directory \(FileSystem.directoryName(text)) does not exist (is the USB stick mounted?)"))
            }
            return .success(text)
        }
        if destination == "screen" {
            try exportToScreen(from: from, to: to, meter: meter)
        } else {
            try exportToFile(destination, from: from, to: to, meter: meter)
        }
    }

    private func askTime(_ label: String, default value: Timestamp) throws(ConsoleStop) -> Timestamp {
        try ui.ask(label, default: ISO8601.format(value), help: ["An ISO 8601 time such as 2026-11-01 or 2026-11-01T00:00:00Z."]) { text in
            ISO8601.parse(text).map { .success($0) } ?? .failure(InputProblem("not an ISO 8601 time such as 2026-11-01T00:00:00Z"))
        }
    }

    private func exportToScreen(from: Timestamp, to: Timestamp, meter: String?) throws(ConsoleStop) {
        let collected = Locked<(lines: [String], partial: String)>(([], ""))
        let result = services.archive.export(stateDirectory: working.stateDirectory, from: from, to: to, meter: meter, format: "csv") { chunk in
            var state = collected.value
            state.partial += String(decoding: chunk, as: UTF8.self)
            var parts = state.partial.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            state.partial = parts.removeLast()
            state.lines += parts
            collected.value = state
            return state.lines.count < Self.screenExportLines
        }
        switch result {
        case .success(let summary):
            try ui.show(collected.value.lines)
            ui.say(summary, .quiet)
        case .failure(let problem):
            if collected.value.lines.count >= Self.screenExportLines {
                try ui.show(collected.value.lines)
                ui.warning("Stopped after \(Self.screenExportLines) lines; export to a file for the rest.")
            } else {
                ui.problem("export failed: \(problem)")
            }
        }
    }

    private func exportToFile(_ path: String, from: Timestamp, to: Timestamp, meter: String?) throws(ConsoleStop) {
        if FileSystem.exists(path), !(try ui.confirm("\(path) exists. Replace it?", default: false)) { return }
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            ui.problem("cannot write \(path): \(String(cString: strerror(errno)))")
            return
        }
        let failed = Locked(false)
        let result = services.archive.export(stateDirectory: working.stateDirectory, from: from, to: to, meter: meter,
                                             format: path.hasSuffix(".json") ? "json" : "csv") { chunk in
            do { try FileDescriptor.writeAll(fd, chunk) } catch {
                failed.value = true
                return false
            }
            return true
        }
        let synced = fsync(fd) == 0
        close(fd)
        switch result {
        case .success(let summary) where synced && !failed.value:
            ui.good("Written \(path): \(summary). Unmount the stick before pulling it (umount).")
        case .success:
            ui.problem("export to \(path) failed: the disk refused the data (full, or removed?)")
        case .failure(let problem):
            ui.problem("export to \(path) failed: \(problem)")
        }
    }
}
