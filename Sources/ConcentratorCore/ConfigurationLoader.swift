/// Turns the text of `config.json` into a validated `ConcentratorConfig`, or throws one
/// `ValidationFailure` that lists every problem at once, in document order, each with its JSON
/// path, line, the bad value and what is allowed. Pure: no file access, no clock.
///
/// The file format is described in Docs/configuration.md and Docs/config.schema.json; the two must
/// change together with this loader (a test compares them).
public enum ConfigurationLoader {
    /// Where the agent looks for its configuration unless `--config` says otherwise.
    public static let defaultPath = "/etc/concentrator/config.json"

    /// Parses and validates a configuration document.
    /// - Parameters:
    ///   - text: the whole file.
    ///   - source: how to name the document in messages (normally its path).
    ///   - context: installed profiles and supported protocols, which the file refers to.
    public static func load(text: String, source: String, context: ConfigurationContext) throws(ValidationFailure)
        -> ConcentratorConfig {
        try readDocument(text: text, source: source) { top in
            var draft = ConfigurationDraft()
            for section in sections {
                guard let member = top.member(section.key, required: section.required) else { continue }
                let input = ConfigurationSectionInput(value: member.value, path: "$." + section.key, line: member.line,
                                                      collector: top.collector, context: context)
                section.read(input, &draft)
            }
            return draft.config
        }
    }

    /// Parses a JSON document whose top level is an object, lets `read` build the result from that
    /// object (recording every problem in its collector), reports unknown top-level keys, and
    /// returns the result or throws all issues at once in document order. Accepts and ignores the
    /// `$schema` key that editors use to find a schema. Serves the agent's configuration, board
    /// files and the head-end's configuration alike.
    public static func readDocument<Document>(text: String, source: String,
                                              _ read: (JSONObjectReader) -> Document?) throws(ValidationFailure) -> Document {
        let root: JSONValue
        do {
            root = try JSONParser.parse(text)
        } catch {
            throw ValidationFailure(source: source, issues: [syntaxIssue(error)])
        }
        let collector = IssueCollector()
        var document: Document?
        if let top = collector.object(root, at: "$", line: root.members?.first?.line ?? 1) {
            _ = top.string("$schema", maxLength: 1024)
            document = read(top)
            top.finish()
        }
        let issues = inDocumentOrder(collector.issues)
        guard issues.isEmpty, let document else {
            throw ValidationFailure(source: source, issues: issues.isEmpty
                                        ? [ValidationIssue(path: "$", problem: "incomplete document")] : issues)
        }
        return document
    }

    /// The top-level sections, read in this order (later sections may refer to earlier ones: meters
    /// name buses, live quantities must be read by some meter). A new section is one function in its
    /// own `ConfigurationLoader+Name.swift` file, one line here, and one property in the draft.
    static var sections: [ConfigurationSection] {
        [
            ConfigurationSection(key: "device", required: true, read: readDevice),
            ConfigurationSection(key: "buses", required: true, read: readBuses),
            ConfigurationSection(key: "meters", required: true, read: readMeters),
            ConfigurationSection(key: "archive", required: false, read: readArchive),
            ConfigurationSection(key: "polling", required: false, read: readPolling),
            ConfigurationSection(key: "uplink", required: false, read: readUplink),
            ConfigurationSection(key: "monitoring", required: false, read: readMonitoring),
            ConfigurationSection(key: "mesh", required: false, read: readMesh),
        ]
    }

    /// The issue for a document that is not JSON at all.
    public static func syntaxIssue(_ error: JSONSyntaxError) -> ValidationIssue {
        ValidationIssue(path: "$", line: error.line, problem: "invalid JSON at column \(error.column): \(error.message)",
                        expected: "strict JSON (RFC 8259): no comments, no trailing commas, keys in double quotes")
    }

    /// Issues sorted by source line; issues on one line keep the order they were found in.
    public static func inDocumentOrder(_ issues: [ValidationIssue]) -> [ValidationIssue] {
        issues.enumerated()
            .sorted { a, b in
                let la = a.element.line ?? Int.max, lb = b.element.line ?? Int.max
                return la != lb ? la < lb : a.offset < b.offset
            }
            .map(\.element)
    }
}

/// One top-level key of the configuration and the function that reads it into the draft.
struct ConfigurationSection {
    let key: String
    let required: Bool
    let read: (ConfigurationSectionInput, inout ConfigurationDraft) -> Void
}

/// What a section reader gets: its value, where it is, and where to record problems.
struct ConfigurationSectionInput {
    let value: JSONValue
    let path: String
    let line: Int
    let collector: IssueCollector
    let context: ConfigurationContext

    /// The section as an object reader, or nil (with an issue) when it is not an object.
    func object() -> JSONObjectReader? {
        collector.object(value, at: path, line: line)
    }

    /// The section's elements when it is an array with `allowed` many items; records an issue otherwise.
    func elements(allowed: ClosedRange<Int>, noun: String) -> [ConfigurationElement]? {
        guard let items = value.arrayValue else {
            collector.add(path: path, line: line, problem: "wrong type", value: value, expected: "an array of \(noun)")
            return nil
        }
        if !allowed.contains(items.count) {
            let problem = items.count < allowed.lowerBound ? "too few entries" : "too many entries"
            collector.add(ValidationIssue(path: path, line: line, problem: problem, value: "\(items.count) \(noun)",
                                          expected: "\(allowed.lowerBound)–\(allowed.upperBound) \(noun)"))
        }
        return items.enumerated().map { index, item in
            ConfigurationElement(value: item, path: path + "[\(index)]", line: item.members?.first?.line ?? line)
        }
    }
}

/// One element of an array section, with the line of its first member (arrays carry no lines).
struct ConfigurationElement {
    let value: JSONValue
    let path: String
    let line: Int
}

/// The configuration while it is being read. Holds what later sections and cross-checks need,
/// including names read from entries that have other problems (so one mistake is reported once).
struct ConfigurationDraft {
    var device: DeviceSettings?
    /// Fully valid buses, in document order.
    var buses: [BusSettings] = []
    /// Every bus name read, valid bus or not.
    var busNames: [BusName] = []
    /// Fully valid meters, in document order.
    var meters: [MeterSettings] = []
    /// Profile id of every meter that named a known profile, valid meter or not.
    var meterProfiles: [String] = []
    var archive = ArchiveSettings()
    var polling = PollingSettings()
    var uplink: UplinkSettings?
    var monitoring: MonitoringSettings?
    var mesh: MeshSettings?
    /// Every meter id read (valid meter or not) with its profile when known, for the monitoring section.
    var meterIDs: [(id: String, profile: String?)] = []

    var config: ConcentratorConfig? {
        device.map { ConcentratorConfig(device: $0, buses: buses, meters: meters, archive: archive, polling: polling, uplink: uplink,
                                        monitoring: monitoring, mesh: mesh) }
    }
}

// MARK: - Field checks shared by the sections

extension ConfigurationLoader {
    public static let identifierRule = "1–64 characters from A–Z, a–z, 0–9, '.', '_', '-'"

    /// Whether `s` is 1–64 characters from `[A-Za-z0-9._-]`.
    public static func isIdentifier(_ s: String) -> Bool {
        let utf8 = s.utf8
        guard (1...64).contains(utf8.count) else { return false }
        return utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
        }
    }

    /// An identifier (device id, bus name, meter id): a string of `identifierRule`.
    public static func identifier(_ reader: JSONObjectReader, _ key: String, required: Bool) -> String? {
        guard let s = reader.string(key, required: required, maxLength: 64) else { return nil }
        guard isIdentifier(s) else {
            reader.collector.add(path: reader.path + "." + key, line: reader.member(key)?.line,
                                 problem: "invalid characters", value: .string(s), expected: identifierRule)
            return nil
        }
        return s
    }

    /// An absolute file-system path without control characters.
    public static func absolutePath(_ reader: JSONObjectReader, _ key: String, required: Bool) -> String? {
        guard let s = reader.string(key, required: required, maxLength: 1024) else { return nil }
        let line = reader.member(key)?.line
        return checkedAbsolutePath(s, path: reader.path + "." + key, line: line, collector: reader.collector)
    }

    /// `s` when it is an absolute path without control characters; otherwise records an issue at `path`.
    public static func checkedAbsolutePath(_ s: String, path: String, line: Int?, collector: IssueCollector) -> String? {
        guard s.hasPrefix("/"), !containsControlCharacters(s) else {
            collector.add(path: path, line: line, problem: "not an absolute path", value: .string(s),
                          expected: "a path starting with '/', without control characters")
            return nil
        }
        return s
    }

    /// Optional free text (a label, a serial number): any characters except control characters.
    static func text(_ reader: JSONObjectReader, _ key: String, maxLength: Int) -> String? {
        guard let s = reader.string(key, maxLength: maxLength) else { return nil }
        guard !containsControlCharacters(s) else {
            reader.collector.add(path: reader.path + "." + key, line: reader.member(key)?.line,
                                 problem: "contains control characters", value: .string(s),
                                 expected: "printable text, at most \(maxLength) characters")
            return nil
        }
        return s
    }

    static func containsControlCharacters(_ s: String) -> Bool {
        s.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }

    /// "a, b, c", or `none` when the list is empty.
    static func list(_ items: [String], none: String) -> String {
        items.isEmpty ? none : items.joined(separator: ", ")
    }
}
