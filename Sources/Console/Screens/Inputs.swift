import ConcentratorCore
import Platform

/// Parsers for typed values: each says what was wrong and what is allowed.
enum Parse {
    static func identifier(_ text: String, what: String) -> Result<String, InputProblem> {
        guard !text.isEmpty else { return .failure(InputProblem("\(what) is needed: \(ConfigurationLoader.identifierRule)")) }
        guard ConfigurationLoader.isIdentifier(text) else {
            return .failure(InputProblem("\"\(TextLayout.cut(text, to: 24))\" is not a valid \(what): \(ConfigurationLoader.identifierRule)"))
        }
        return .success(text)
    }

    static func integer(_ text: String, in range: ClosedRange<Int>, what: String) -> Result<Int, InputProblem> {
        guard let value = Int(text) else {
            return .failure(InputProblem("\(what) must be a whole number \(range.lowerBound)-\(range.upperBound)"
                + (text.isEmpty ? "" : " (got \"\(TextLayout.cut(text, to: 16))\")")))
        }
        guard range.contains(value) else {
            return .failure(InputProblem("\(value) is outside \(range.lowerBound)-\(range.upperBound) for \(what)"))
        }
        return .success(value)
    }

    static func oneOf(_ text: String, _ allowed: [String], what: String) -> Result<String, InputProblem> {
        guard allowed.contains(text) else {
            return .failure(InputProblem("\(what) must be one of \(allowed.joined(separator: ", "))"
                + (text.isEmpty ? "" : " (got \"\(TextLayout.cut(text, to: 16))\")")))
        }
        return .success(text)
    }

    static func absolutePath(_ text: String, what: String) -> Result<String, InputProblem> {
        guard text.hasPrefix("/"), !text.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
            return .failure(InputProblem("\(what) must be an absolute path such as /dev/ttyRS485-1"))
        }
        return .success(text)
    }
}

extension ConsoleSession {
    /// Asks for one of the working copy's buses (the only one is the default).
    func askBus(_ label: String = "Bus") throws(ConsoleStop) -> String? {
        let names = working.busNames
        guard !names.isEmpty else {
            ui.problem("no bus is configured yet: add one in \(MenuItem.bus.reference)")
            return nil
        }
        return try ui.ask(label, default: names.count == 1 ? names[0] : nil,
                          help: ["The bus name. Configured: " + names.joined(separator: ", ")]) { text in
            names.contains(text) ? .success(text)
                : .failure(InputProblem("no bus \"\(TextLayout.cut(text, to: 20))\"; configured: \(names.joined(separator: ", "))"))
        }
    }

    /// Asks for a meter of the working copy.
    func askMeter(_ label: String = "Meter id") throws(ConsoleStop) -> String? {
        let ids = working.meterIDs
        guard !ids.isEmpty else {
            ui.problem("no meter is configured yet: \(MenuItem.scan.reference), \(MenuItem.meters.reference) "
                + "or \(MenuItem.import.reference) adds them")
            return nil
        }
        return try ui.ask(label, help: ["The meter's id. Configured: " + ids.prefix(40).joined(separator: " ")
                                        + (ids.count > 40 ? " ... (\(ids.count) in all; \(MenuItem.meters.reference) lists them)" : "")]) { text in
            ids.contains(text) ? .success(text)
                : .failure(InputProblem("no meter \"\(TextLayout.cut(text, to: 24))\" in the configuration; ? lists them"))
        }
    }

    /// Asks for an installed profile of the Modbus protocol.
    func askProfile(_ label: String = "Profile", default current: String? = nil) throws(ConsoleStop) -> String {
        let library = profiles
        let ids = library.profiles.values.filter { $0.protocolKind == .modbus }.map(\.id).sorted()
        return try ui.ask(label, default: current,
                          help: ["The meter model's profile. Installed:"] + ids.map { id in
                              "  \(TextLayout.pad(id, 24)) \(library.profile(id: id)?.name ?? "")"
                          }) { text in
            if ids.contains(text) { return .success(text) }
            if library.profile(id: text) != nil {
                return .failure(InputProblem("profile \(text) is not for Modbus; this build drives Modbus meters only"))
            }
            return .failure(InputProblem("unknown profile \"\(TextLayout.cut(text, to: 24))\"; ? lists the installed ones"))
        }
    }

    /// Whether the protocol of profile `id` uses meter keys (DLMS/COSEM does; Modbus and
    /// IEC 62056-21 do not); nil for an unknown profile.
    func profileUsesKeys(_ id: String, library: ProfileLibrary? = nil) -> Bool? {
        (library ?? profiles).profile(id: id).map { $0.protocolKind == .dlms }
    }

    /// The validator's problems with `document` (nil = valid).
    func problems(with document: ConfigDocument) -> ValidationFailure? {
        services.validate(document.text, configPath)
    }

    /// Makes `candidate` the working copy unless the validator finds a problem at a path `concerns`
    /// accepts: then it reports those under `refusal`, keeps the working copy and returns false.
    /// Problems elsewhere (from an earlier edit not fixed yet) do not block this one.
    func adopt(_ candidate: ConfigDocument, refusal: String, concerns: (String) -> Bool) throws(ConsoleStop) -> Bool {
        if let failure = problems(with: candidate) {
            let mine = failure.issues.filter { concerns($0.path) }
            if !mine.isEmpty {
                ui.problem(refusal)
                try showIssues(ValidationFailure(source: configPath, issues: mine), document: candidate)
                return false
            }
        }
        working = candidate
        return true
    }

    /// Prints validation issues in the installer's words (what, and the menu that fixes it), at
    /// most `limit` of them, each wrapped to 80 columns.
    func showIssues(_ failure: ValidationFailure, limit: Int = 12, document: ConfigDocument? = nil) throws(ConsoleStop) {
        let document = document ?? working
        var lines = failure.issues.prefix(limit).map { "  - " + IssueText.describe($0, in: document) }
        if failure.issues.count > limit { lines.append("  ... and \(failure.issues.count - limit) more") }
        try ui.show(lines)
    }

    /// "Changed in the working copy only; apply (menu 13) to use it."
    var notAppliedNote: String { "Changed in the working copy only; \(MenuItem.apply.reference) puts it to use." }
}
