/// The `device` section: who this concentrator is and where it keeps its files.
extension ConfigurationLoader {
    /// At most this many extra profile directories.
    static let maxProfileDirectories = 8

    static func readDevice(_ input: ConfigurationSectionInput, into draft: inout ConfigurationDraft) {
        guard let r = input.object() else { return }
        let defaults = DeviceSettings(id: "")
        let id = identifier(r, "id", required: true)
        let stateDirectory = absolutePath(r, "stateDirectory", required: false) ?? defaults.stateDirectory
        let runtimeDirectory = absolutePath(r, "runtimeDirectory", required: false) ?? defaults.runtimeDirectory
        var profileDirectories = defaults.profileDirectories
        if let items = r.array("profileDirectories") {
            if items.count > maxProfileDirectories {
                r.collector.add(ValidationIssue(path: r.path + ".profileDirectories", line: items[0].line,
                                                problem: "too many entries", value: "\(items.count) directories",
                                                expected: "at most \(maxProfileDirectories) directories"))
            }
            profileDirectories = items.compactMap { item in
                guard let s = item.value.stringValue else {
                    r.collector.add(path: item.path, line: item.line, problem: "wrong type", value: item.value,
                                    expected: "an absolute path (a string)")
                    return nil
                }
                guard s.count <= 1024 else {
                    r.collector.add(path: item.path, line: item.line, problem: "too long", value: item.value,
                                    expected: "at most 1024 characters")
                    return nil
                }
                return checkedAbsolutePath(s, path: item.path, line: item.line, collector: r.collector)
            }
        }
        let board = absolutePath(r, "board", required: false)
        r.finish()
        if let id {
            draft.device = DeviceSettings(id: id, stateDirectory: stateDirectory, runtimeDirectory: runtimeDirectory,
                                          profileDirectories: profileDirectories, board: board)
        }
    }
}
