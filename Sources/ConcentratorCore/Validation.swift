/// One problem found while validating a JSON document (a config, a profile, a CSV row rendered as
/// JSON): where it is, what was wrong, and what is allowed.
public struct ValidationIssue: Hashable, Sendable, CustomStringConvertible {
    /// JSON path, for example `$.buses[1].baud`.
    public var path: String
    /// Source line of the offending member, when known.
    public var line: Int?
    /// What is wrong, as a short phrase ("out of range", "unknown key").
    public var problem: String
    /// The offending value, rendered briefly; nil when the value is missing.
    public var value: String?
    /// What would be accepted.
    public var expected: String?

    public init(path: String, line: Int? = nil, problem: String, value: String? = nil, expected: String? = nil) {
        self.path = path
        self.line = line
        self.problem = problem
        self.value = value
        self.expected = expected
    }

    public var description: String {
        var s = path
        if let line { s += " (line \(line))" }
        s += ": " + problem
        if let value { s += ": got " + value }
        if let expected { s += "; allowed: " + expected }
        return s
    }
}

/// Every problem found in one document. Thrown as a whole: validation never stops at the first.
public struct ValidationFailure: Error, Hashable, Sendable, CustomStringConvertible {
    public var source: String
    public var issues: [ValidationIssue]

    public init(source: String, issues: [ValidationIssue]) {
        self.source = source
        self.issues = issues
    }

    public var description: String {
        let plural = issues.count == 1 ? "problem" : "problems"
        return "\(source): \(issues.count) \(plural)\n" + issues.map { "  - " + $0.description }.joined(separator: "\n")
    }
}

/// Collects issues while a document is read. Not thread-safe; one per validation run.
public final class IssueCollector {
    public private(set) var issues: [ValidationIssue] = []
    public init() {}

    public func add(_ issue: ValidationIssue) { issues.append(issue) }

    public func add(path: String, line: Int?, problem: String, value: JSONValue? = nil, expected: String? = nil) {
        issues.append(ValidationIssue(path: path, line: line, problem: problem, value: value?.brief, expected: expected))
    }

    /// Starts reading `value` as an object at `path`; records an issue and returns nil if it is not one.
    public func object(_ value: JSONValue, at path: String, line: Int? = nil) -> JSONObjectReader? {
        guard let members = value.members else {
            add(path: path, line: line, problem: "wrong type", value: value, expected: "an object")
            return nil
        }
        return JSONObjectReader(members: members, path: path, line: line, collector: self)
    }
}

/// Reads the members of one JSON object with type and range checks, recording every problem in
/// its collector. Call `finish()` to report keys that were never read (unknown keys).
public final class JSONObjectReader {
    public let path: String
    public let line: Int?
    public let collector: IssueCollector
    private let members: [JSONMember]
    private var read: Set<String> = []

    init(members: [JSONMember], path: String, line: Int?, collector: IssueCollector) {
        self.members = members
        self.path = path
        self.line = line
        self.collector = collector
        var seen: Set<String> = []
        for m in members where !seen.insert(m.key).inserted {
            collector.add(path: path + "." + m.key, line: m.line, problem: "duplicate key")
        }
    }

    /// The member, marking it read. Records "missing" when required and absent.
    public func member(_ key: String, required: Bool = false) -> JSONMember? {
        read.insert(key)
        let m = members.first(where: { $0.key == key })
        if m == nil, required {
            collector.add(path: path + "." + key, line: line, problem: "missing required key")
        }
        if case .null? = m?.value, !required { return nil }
        return m
    }

    public func has(_ key: String) -> Bool { members.contains(where: { $0.key == key }) }

    private func typeError(_ key: String, _ m: JSONMember, _ expected: String) {
        collector.add(path: path + "." + key, line: m.line, problem: "wrong type", value: m.value, expected: expected)
    }

    public func string(_ key: String, required: Bool = false, allowed: [String]? = nil, maxLength: Int = 256,
                       allowEmpty: Bool = false) -> String? {
        guard let m = member(key, required: required) else { return nil }
        guard let s = m.value.stringValue else { typeError(key, m, "a string"); return nil }
        if let allowed, !allowed.contains(s) {
            collector.add(path: path + "." + key, line: m.line, problem: "not one of the allowed values", value: m.value,
                          expected: allowed.joined(separator: ", "))
            return nil
        }
        if s.isEmpty, !allowEmpty {
            collector.add(path: path + "." + key, line: m.line, problem: "must not be empty", value: m.value)
            return nil
        }
        if s.count > maxLength {
            collector.add(path: path + "." + key, line: m.line, problem: "too long", value: m.value,
                          expected: "at most \(maxLength) characters")
            return nil
        }
        return s
    }

    public func int(_ key: String, required: Bool = false, in range: ClosedRange<Int>? = nil) -> Int? {
        guard let m = member(key, required: required) else { return nil }
        guard let i = m.value.intValue else { typeError(key, m, "an integer" + (range.map { " \($0.lowerBound)–\($0.upperBound)" } ?? "")); return nil }
        if let range, !range.contains(i) {
            collector.add(path: path + "." + key, line: m.line, problem: "out of range", value: m.value,
                          expected: "\(range.lowerBound)–\(range.upperBound)")
            return nil
        }
        return i
    }

    /// An integer that must be one of `allowed` (for example data bits 7 or 8).
    public func int(_ key: String, required: Bool = false, oneOf allowed: [Int]) -> Int? {
        guard let m = member(key, required: required) else { return nil }
        guard let i = m.value.intValue else { typeError(key, m, "an integer"); return nil }
        guard allowed.contains(i) else {
            collector.add(path: path + "." + key, line: m.line, problem: "not one of the allowed values", value: m.value,
                          expected: allowed.map(String.init).joined(separator: ", "))
            return nil
        }
        return i
    }

    public func double(_ key: String, required: Bool = false, in range: ClosedRange<Double>? = nil) -> Double? {
        guard let m = member(key, required: required) else { return nil }
        guard let d = m.value.doubleValue else { typeError(key, m, "a number"); return nil }
        if let range, !range.contains(d) {
            collector.add(path: path + "." + key, line: m.line, problem: "out of range", value: m.value,
                          expected: "\(range.lowerBound)–\(range.upperBound)")
            return nil
        }
        return d
    }

    public func bool(_ key: String, required: Bool = false) -> Bool? {
        guard let m = member(key, required: required) else { return nil }
        guard let b = m.value.boolValue else { typeError(key, m, "true or false"); return nil }
        return b
    }

    public func object(_ key: String, required: Bool = false) -> JSONObjectReader? {
        guard let m = member(key, required: required) else { return nil }
        guard let members = m.value.members else { typeError(key, m, "an object"); return nil }
        return JSONObjectReader(members: members, path: path + "." + key, line: m.line, collector: collector)
    }

    /// The elements of an array member, each with its path (`$.buses[3]`).
    public func array(_ key: String, required: Bool = false) -> [(value: JSONValue, path: String, line: Int)]? {
        guard let m = member(key, required: required) else { return nil }
        guard let items = m.value.arrayValue else { typeError(key, m, "an array"); return nil }
        return items.enumerated().map { (i, v) in (v, path + "." + key + "[\(i)]", m.line) }
    }

    /// Reports every key that no accessor asked for, with the keys that are known here.
    public func finish() {
        let known = read.sorted().joined(separator: ", ")
        for m in members where !read.contains(m.key) {
            collector.add(path: path + "." + m.key, line: m.line, problem: "unknown key", expected: known.isEmpty ? nil : known)
        }
    }
}
