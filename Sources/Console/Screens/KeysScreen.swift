import ConcentratorCore
import Platform

/// Meter key files: `<state>/keys/meters/<meter id>.json`, mode 0600, written by an apply.
/// Format `concentrator-meter-key/1` with the keys in hex (Docs/console.md, "Keys").
public enum MeterKeyFile {
    public static let format = "concentrator-meter-key/1"
    /// The kinds of DLMS/COSEM keys a meter may have (global unicast encryption and authentication).
    public static let kinds = ["encryption", "authentication"]

    /// `existing` (a file's text, if any) with the key of `kind` set.
    public static func render(existing: String?, meter: String, kind: String, key: [UInt8]) -> String {
        var root = existing.flatMap { try? JSONParser.parse($0) }.flatMap { $0.members == nil ? nil : $0 }
            ?? .object([JSONMember(key: "format", value: .string(format)), JSONMember(key: "meter", value: .string(meter))])
        root = root.setting(kind, .string(KeyText.hex(key)))
        return JSONWriter.render(root, pretty: true) + "\n"
    }
}

extension ConsoleSession {
    func meterKeyPath(_ meter: String) -> String { FileSystem.join(working.stateDirectory, "keys/meters/\(meter).json") }

    /// Head-end key files the console imports go beside the configuration.
    var headEndKeyDirectory: String { FileSystem.join(FileSystem.directoryName(configPath), "headend-keys") }

    /// Stages a meter key for the next apply (merged with keys already in the file).
    func stageMeterKey(meter: String, kind: String, key: [UInt8]) {
        let path = meterKeyPath(meter)
        let existing = pendingFiles.first { $0.path == path }?.text ?? (try? FileSystem.readText(path))
        stage(PendingFile(path: path, text: MeterKeyFile.render(existing: existing, meter: meter, kind: kind, key: key), mode: 0o600,
                          what: "meter key file for \(meter)"))
    }

    func keysScreen() throws(ConsoleStop) {
        ui.heading("Keys")
        var lines: [String] = []
        switch services.keys.deviceKeys(stateDirectory: working.stateDirectory, deviceID: working.deviceID ?? "?", create: false) {
        case .success(let summary): lines += ["Device keys (public; give the fingerprints to the head-end operator):"] + summary
        case .failure(let problem): lines += ["Device keys: \(problem)"]
        }
        lines.append("")
        lines.append("Head-end keys in the working configuration:")
        for (path, info) in headEndKeys() {
            lines.append("  " + path)
            lines.append("    " + (info.map { "\($0.role) \($0.algorithm) id \($0.id)" } ?? "unreadable"))
        }
        if working.headEndKeyFiles.isEmpty { lines.append("  none yet") }
        let meterKeys = pendingFiles.filter { $0.path.hasPrefix(FileSystem.join(working.stateDirectory, "keys/meters/")) }
        if !meterKeys.isEmpty { lines.append("Meter key files waiting for apply: \(meterKeys.count)") }
        try ui.show(lines)
        let action = try ui.ask("headend, meter, create, or Enter to go back", default: "back",
                                help: ["headend: import a head-end public key from hex;",
                                       "meter: import a meter key from hex (never shown);",
                                       "create: create the device keys if they do not exist yet."]) { text in
            Parse.oneOf(text.lowercased(), ["headend", "meter", "create", "back"], what: "the action")
        }
        switch action {
        case "headend": try importHeadEndKey()
        case "meter": try importMeterKey()
        case "create":
            switch services.keys.deviceKeys(stateDirectory: working.stateDirectory, deviceID: working.deviceID ?? "?", create: true) {
            case .success(let summary): try ui.show(summary)
            case .failure(let problem): ui.problem("cannot create the device keys: \(problem)")
            }
        default: return
        }
    }

    /// The working copy's head-end key files with what they hold (staged files first).
    private func headEndKeys() -> [(String, HeadEndKeyInfo?)] {
        working.headEndKeyFiles.map { path in
            if let staged = pendingFiles.first(where: { $0.path == path })?.headEndKey { return (path, staged) }
            return (path, try? services.keys.headEndKeyFile(path: path).get())
        }
    }

    private func importHeadEndKey() throws(ConsoleStop) {
        let role = try ui.ask("Role: sealing, ack, or a command role", help: [
            "sealing: the head-end's X25519 key batches are sealed to (exactly one);",
            "ack: an Ed25519 key that signs acks; other words name command roles (Ed25519).",
        ]) { text -> Result<String, InputProblem> in
            let lower = text.lowercased()
            guard !lower.isEmpty, lower != "device", lower.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }) else {
                return .failure(InputProblem("a role is one lower-case word such as sealing or ack"))
            }
            return .success(lower)
        }
        let info = try ui.ask("Public key: 64 hex digits + 8 check digits", help: [
            "The head-end operator gives the key as hex followed by its CRC-32 (8 digits).",
            "Spaces and colons are ignored.",
        ], longAnswer: true) { text -> Result<HeadEndKeyInfo, InputProblem> in
            switch KeyText.parse(text, keyLength: 32, what: "a head-end public key") {
            case .failure(let problem): return .failure(InputProblem(problem.description))
            case .success(let key):
                return services.keys.headEndKey(role: role, publicKey: key).mapError { InputProblem($0.description) }
            }
        }
        ui.say("\(info.role) \(info.algorithm) key id \(info.id)")
        ui.say("fingerprint:")
        ui.say("  \(info.fingerprint)")
        guard try ui.confirm("Does this fingerprint match the head-end operator's?", default: false) else {
            ui.say("Key not imported.")
            return
        }
        var files = working.headEndKeyFiles
        if role == "sealing" {
            let sealing = headEndKeys().filter { $0.1?.role == "sealing" }.map(\.0)
            if !sealing.isEmpty {
                guard try ui.confirm("This replaces the current sealing key (\(sealing.count) file). Go on?", default: false) else { return }
                files.removeAll(where: sealing.contains)
            }
        }
        let path = FileSystem.join(headEndKeyDirectory, "\(role)-\(info.id).json")
        stage(PendingFile(path: path, text: info.fileText, mode: 0o644, what: "head-end key \(role) \(info.id)", headEndKey: info))
        if !files.contains(path) { files.append(path) }
        working.setHeadEndKeyFiles(files)
        ui.good("Head-end \(role) key \(info.id) staged as \(path). " + notAppliedNote)
    }

    private func importMeterKey() throws(ConsoleStop) {
        guard let meter = try askMeter() else { return }
        if let profile = working.meter(id: meter)?["profile"]?.stringValue, profileUsesKeys(profile) == false {
            ui.problem("meter \(meter) (profile \(profile)) speaks a protocol that uses no key: nothing to import. "
                + "Keys are for DLMS/COSEM meters.")
            return
        }
        let kind = try ui.ask("Key kind: encryption or authentication", default: "encryption",
                              help: ["The DLMS/COSEM global unicast encryption key or the authentication key."]) { text in
            Parse.oneOf(text.lowercased(), MeterKeyFile.kinds, what: "the kind")
        }
        let key = try ui.ask("Key: 32 hex + 8 check digits (not shown)", help: [
            "The meter's AES-128 key in hex followed by its CRC-32 (8 digits); typing shows * only.",
        ], secret: true, longAnswer: true) { text in
            KeyText.parse(text, keyLength: MeterImport.meterKeyLength, what: "a meter key").mapError { InputProblem($0.description) }
        }
        stageMeterKey(meter: meter, kind: kind, key: key)
        ui.good("The \(kind) key of \(meter) is accepted (16 bytes, check digits match); apply writes it to "
            + "\(meterKeyPath(meter)) (mode 0600).")
    }
}
