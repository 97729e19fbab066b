import ConcentratorCore
import Platform

extension ConsoleSession {
    func importScreen() throws(ConsoleStop) {
        ui.heading("Import meters from CSV")
        ui.say("Columns (first line): \(MeterImport.columns.joined(separator: ",")); id, bus, address and profile are "
            + "required. Docs/console.md describes them.", .quiet)
        let csv = try ui.ask("CSV file (a path), or paste", help: [
            "A path such as /media/usb/meters.csv, or paste to type or paste the lines here",
            "(end with a line holding a single dot).",
        ], longAnswer: true) { text -> Result<String, InputProblem> in
            if text == "paste" { return .success("") }
            guard text.hasPrefix("/") else {
                return .failure(InputProblem(text.isEmpty ? "a file path or paste is needed" : "give an absolute path such as /media/usb/meters.csv, or paste"))
            }
            guard let size = FileSystem.size(text) else { return .failure(InputProblem("cannot read \(TextLayout.cut(text, to: 40)): no such file")) }
            guard size <= 4 << 20 else { return .failure(InputProblem("the file has \(size / 1024) KiB; at most 4096 KiB")) }
            do {
                return .success(try FileSystem.readText(text))
            } catch {
                return .failure(InputProblem("\(error)"))
            }
        }
        let text = csv.isEmpty ? try readPastedLines() : csv
        var document = working
        var report: ImportReport
        let library = profiles
        switch MeterImport.run(csv: text, into: &document, validate: { services.validate($0, configPath) },
                               usesKeys: { profileUsesKeys($0, library: library) }) {
        case .success(let r): report = r
        case .failure(let problem):
            ui.problem("nothing imported: \(problem)")
            return
        }
        report.compare(with: lastScans)
        let tone: Tone = report.rows.contains(where: \.isProblem) ? .warning : .good
        ui.say(report.summary, tone)
        if lastScans.isEmpty { ui.say("No scan in this session: rows are not compared with what answers on the bus.", .quiet) }
        let problems = report.rows.filter(\.isProblem).count
        let view = problems == 0 ? "all" : try ui.ask("Show all rows, problems only, or none", default: "problems",
                                                      help: ["all: every row with its outcome;",
                                                             "problems: refused rows and rows that differ from the last scan (\(problems));",
                                                             "none: only the summary."]) { text in
            Parse.oneOf(text.lowercased(), ["all", "problems", "none"], what: "the view")
        }
        if view != "none" {
            try ui.show(report.render(problemsOnly: view == "problems"))
            ui.say(report.summary, tone)
        }
        guard !report.added.isEmpty else {
            ui.say("No row can be added.")
            return
        }
        let go = try ui.confirm("Add the \(report.added.count) good rows to the working configuration?", default: true)
        guard go else {
            ui.say("Nothing added.")
            return
        }
        working = document
        for row in report.added {
            guard let key = row.key, let entry = row.entry else { continue }
            stageMeterKey(meter: entry.id, kind: "encryption", key: key)
        }
        ui.good("Added \(report.added.count) meters. " + notAppliedNote)
    }

    /// Lines typed or pasted at the console, up to a line holding a single dot.
    private func readPastedLines() throws(ConsoleStop) -> String {
        ui.say("Paste or type the CSV lines; end with a line holding a single dot (.).", .quiet)
        var lines: [String] = []
        while lines.count < 5000 {
            switch ui.terminal.readLine(secret: false) {
            case .cancelled: throw .cancelled
            case .endOfInput: throw .endOfInput
            case .line(let line):
                if line.trimmingSpaces == "." { return lines.joined(separator: "\n") }
                lines.append(line)
            }
        }
        ui.warning("Stopped reading after 5000 lines.")
        return lines.joined(separator: "\n")
    }
}
