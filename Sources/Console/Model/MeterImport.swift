import ConcentratorCore

/// What happened to one CSV row, modelled on the Open Meter Chain 2 bulk-association report.
public enum ImportOutcome: String, Hashable, Sendable, CaseIterable {
    case added = "added"
    case duplicate = "duplicate"
    case badAddress = "bad address"
    case unknownBus = "unknown bus"
    case busFull = "bus full"
    case unknownProfile = "unknown profile"
    case badKey = "bad key"
    case invalid = "invalid"
}

/// One row of the report.
public struct ImportRow: Hashable, Sendable {
    /// The CSV line the row starts on.
    public var line: Int
    public var id: String
    public var outcome: ImportOutcome
    /// What was added, or every problem found in the row.
    public var detail: String
    /// The meter entry, for added rows.
    public var entry: MeterEntry?
    /// The row's meter key (16 bytes), when it had a valid one. Never rendered.
    public var key: [UInt8]?
    /// How an added row differs from the last scan of its bus ("did not answer in the last scan").
    public var notes: [String] = []

    /// Refused, or added but different from what the last scan saw.
    public var isProblem: Bool { outcome != .added || !notes.isEmpty }
}

/// The per-row report of a bulk import.
public struct ImportReport: Hashable, Sendable {
    public var rows: [ImportRow]

    public var added: [ImportRow] { rows.filter { $0.outcome == .added } }
    public var refused: [ImportRow] { rows.filter { $0.outcome != .added } }

    /// Added rows that differ from the last scan of their bus.
    public var differing: [ImportRow] { rows.filter { $0.outcome == .added && !$0.notes.isEmpty } }

    /// "27 rows: 24 added, 1 duplicate, 1 bad address, 1 bad key; 2 added differ from the last scan".
    public var summary: String {
        let parts = ImportOutcome.allCases.compactMap { outcome -> String? in
            let n = rows.filter { $0.outcome == outcome }.count
            return n == 0 && outcome != .added ? nil : "\(n) \(outcome.rawValue)"
        }
        let differ = differing.count
        return "\(rows.count) rows: " + parts.joined(separator: ", ")
            + (differ == 0 ? "" : "; \(differ) added differ\(differ == 1 ? "s" : "") from the last scan")
    }

    /// A header and one line per row (more when a detail or note is long), each within 80
    /// columns; with `problemsOnly`, only refused rows and rows that differ from the last scan.
    public func render(problemsOnly: Bool = false) -> [String] {
        var lines = [TextLayout.row([("line", 5, true), ("id", 16, false), ("outcome", 15, false), ("detail", 0, false)])]
        for row in rows where !problemsOnly || row.isProblem {
            // Refused rows keep every word of their detail: it says what to fix.
            let detail = ([row.detail] + row.notes.map { "! " + $0 }).joined(separator: "; ")
            lines += TextLayout.wrappedRow([(String(row.line), 5, true), (row.id.isEmpty ? "-" : row.id, 16, false),
                                            (row.outcome.rawValue, 15, false), (detail, 0, false)])
        }
        return lines
    }

    /// Notes each added row that differs from the last scan of its bus: its address did not
    /// answer, answered garbled, or answered as another model. Rows on buses without a scan, or
    /// at addresses the scan did not probe, get no note.
    public mutating func compare(with scans: [String: ScanRecord]) {
        for index in rows.indices where rows[index].outcome == .added {
            guard let entry = rows[index].entry, let scan = scans[entry.bus], let address = entry.address.intValue,
                  scan.addresses.contains(address) else { continue }
            guard let hit = scan.hit(at: address) else {
                rows[index].notes.append("did not answer in the last scan")
                continue
            }
            if hit.isGarbled {
                rows[index].notes.append("answered garbled in the last scan")
            } else if let found = hit.profile, found != entry.profile {
                rows[index].notes.append("model differs: the last scan found \(found)")
            } else if hit.profile == nil {
                rows[index].notes.append("the last scan did not recognise the model")
            }
        }
    }
}

/// Why a CSV file was refused as a whole (before any row was looked at).
public struct ImportFileProblem: Error, Hashable, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Bulk import of meters from CSV (columns: Docs/console.md, "CSV import"). Each row is judged
/// against the working copy plus the rows accepted before it, by the agent's own validator, so the
/// import accepts exactly what the agent would: a row is added only when it makes no new problem.
public enum MeterImport {
    public static let columns = ["id", "bus", "address", "profile", "pod", "serialNumber", "label", "key"]
    public static let requiredColumns = ["id", "bus", "address", "profile"]
    /// Meter keys (DLMS/COSEM global unicast encryption keys) are AES-128: 16 bytes.
    public static let meterKeyLength = 16

    /// Reads `csv`, adds the good rows to `document` and reports every row.
    /// - Parameter validate: the agent's configuration validator (nil = valid).
    /// - Parameter usesKeys: whether the protocol of a profile uses meter keys (nil: unknown
    ///   profile); a key given for a meter whose protocol uses none is refused as a bad key.
    public static func run(csv: String, into document: inout ConfigDocument, validate: (String) -> ValidationFailure?,
                           usesKeys: (String) -> Bool? = { _ in nil }) -> Result<ImportReport, ImportFileProblem> {
        let records: [CSVRecord]
        switch CSVParser.parse(csv) {
        case .success(let r): records = r
        case .failure(let e): return .failure(ImportFileProblem("not readable as CSV: \(e)"))
        }
        guard let header = records.first else { return .failure(ImportFileProblem("the file is empty; the first line must name the columns")) }
        var position: [String: Int] = [:]
        for (index, name) in header.fields.enumerated() {
            guard columns.contains(name) else {
                return .failure(ImportFileProblem("line \(header.line): unknown column \"\(TextLayout.cut(name, to: 20))\"; "
                    + "the columns are \(columns.joined(separator: ", "))"))
            }
            guard position[name] == nil else { return .failure(ImportFileProblem("line \(header.line): column \"\(name)\" twice")) }
            position[name] = index
        }
        let missing = requiredColumns.filter { position[$0] == nil }
        guard missing.isEmpty else {
            return .failure(ImportFileProblem("line \(header.line): missing column(s) \(missing.joined(separator: ", ")); "
                + "required: \(requiredColumns.joined(separator: ", "))"))
        }
        var rows: [ImportRow] = []
        for record in records.dropFirst() {
            rows.append(judge(record, columnCount: header.fields.count, position: position, document: &document, validate: validate,
                              usesKeys: usesKeys))
        }
        return .success(ImportReport(rows: rows))
    }

    private static func judge(_ record: CSVRecord, columnCount: Int, position: [String: Int], document: inout ConfigDocument,
                              validate: (String) -> ValidationFailure?, usesKeys: (String) -> Bool?) -> ImportRow {
        func field(_ name: String) -> String? {
            guard let i = position[name], i < record.fields.count else { return nil }
            let value = record.fields[i]
            return value.isEmpty ? nil : value
        }
        let id = field("id") ?? ""
        guard record.fields.count == columnCount else {
            return ImportRow(line: record.line, id: id, outcome: .invalid,
                             detail: "\(record.fields.count) fields; the header has \(columnCount)")
        }
        let addressText = field("address") ?? ""
        let address: JSONValue = Int(addressText).map { .integer($0) } ?? .string(addressText)
        let entry = MeterEntry(id: id, bus: field("bus") ?? "", address: address, profile: field("profile") ?? "",
                               pod: field("pod"), serialNumber: field("serialNumber"), label: field("label"))
        var problems: [(ImportOutcome, String)] = []
        var candidate = document
        candidate.appendMeter(entry.json())
        let prefix = "$.meters[\(candidate.meters.count - 1)]"
        for issue in validate(candidate.text)?.issues ?? [] where issue.path == prefix || issue.path.hasPrefix(prefix + ".") {
            problems.append(classify(issue, prefix: prefix))
        }
        var key: [UInt8]?
        if let keyText = field("key") {
            if usesKeys(entry.profile) == false {
                problems.append((.badKey, "key: the meter's protocol (profile \(entry.profile)) uses no key; leave the key column empty"))
            } else {
                switch KeyText.parse(keyText, keyLength: meterKeyLength, what: "a meter key") {
                case .success(let bytes): key = bytes
                case .failure(let problem): problems.append((.badKey, "key: \(problem)"))
                }
            }
        }
        guard problems.isEmpty else {
            let outcome = ImportOutcome.allCases.first { o in problems.contains { $0.0 == o } } ?? .invalid
            return ImportRow(line: record.line, id: id, outcome: outcome, detail: problems.map(\.1).joined(separator: "; "))
        }
        document = candidate
        let detail = "\(entry.bus) address \(addressText) \(entry.profile)" + (key == nil ? "" : " (key ok)")
        return ImportRow(line: record.line, id: id, outcome: .added, detail: detail, entry: entry, key: key)
    }

    /// Sorts a validator issue about the row into a report category.
    private static func classify(_ issue: ValidationIssue, prefix: String) -> (ImportOutcome, String) {
        let field = issue.path == prefix ? "row" : String(issue.path.dropFirst(prefix.count + 1))
        var text = field + ": " + issue.problem
        if let value = issue.value { text += " (" + value + ")" }
        if let expected = issue.expected { text += "; allowed: " + expected }
        let outcome: ImportOutcome
        switch field {
        case "id" where issue.problem.hasPrefix("duplicate"): outcome = .duplicate
        case "address" where issue.problem.contains("already used"): outcome = .duplicate
        case "address": outcome = .badAddress
        case "bus" where issue.problem.hasPrefix("too many"): outcome = .busFull
        case "bus" where issue.problem == "unknown bus": outcome = .unknownBus
        case "profile": outcome = .unknownProfile
        default: outcome = .invalid
        }
        return (outcome, text)
    }
}
