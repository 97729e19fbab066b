import ConcentratorCore

/// One difference between the running configuration and the working copy.
public struct ConfigChange: Hashable, Sendable {
    /// Whether the value is new, gone, or different.
    public enum Kind: Hashable, Sendable { case added, removed, changed }

    public var kind: Kind
    /// Where, with list entries named by their id or name: `meters[bus1-m3].label`, `buses[bus1].baud`.
    public var path: String
    public var old: JSONValue?
    public var new: JSONValue?

    public init(kind: Kind, path: String, old: JSONValue? = nil, new: JSONValue? = nil) {
        self.kind = kind
        self.path = path
        self.old = old
        self.new = new
    }
}

/// A structural diff of two configuration documents: objects by key, lists of meters and buses by
/// their id or name (so reordering is not a change), other lists by position. Source lines and
/// formatting are ignored; one line per change fits an 80-column screen.
public enum ConfigDiff {
    public static func changes(from old: JSONValue, to new: JSONValue) -> [ConfigChange] {
        var out: [ConfigChange] = []
        compare(old, new, path: "", into: &out)
        return out
    }

    /// Whether two values are equal, ignoring the source lines of object members.
    public static func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && same($0.value, $1.value) }
        case (.array(let x), .array(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
        default:
            return a == b
        }
    }

    private static func compare(_ a: JSONValue, _ b: JSONValue, path: String, into out: inout [ConfigChange]) {
        if same(a, b) { return }
        switch (a, b) {
        case (.object(let x), .object(let y)):
            for member in y {
                let sub = path.isEmpty ? member.key : path + "." + member.key
                if let before = x.first(where: { $0.key == member.key }) {
                    compare(before.value, member.value, path: sub, into: &out)
                } else if member.value.members?.isEmpty == false {
                    // A new section shows as its settings, one per line; a new list as its entries.
                    compare(.object([]), member.value, path: sub, into: &out)
                } else if member.value.arrayValue?.isEmpty == false {
                    compare(.array([]), member.value, path: sub, into: &out)
                } else {
                    out.append(ConfigChange(kind: .added, path: sub, new: member.value))
                }
            }
            for member in x where !y.contains(where: { $0.key == member.key }) {
                let sub = path.isEmpty ? member.key : path + "." + member.key
                if member.value.members?.isEmpty == false {
                    compare(member.value, .object([]), path: sub, into: &out)
                } else if member.value.arrayValue?.isEmpty == false {
                    compare(member.value, .array([]), path: sub, into: &out)
                } else {
                    out.append(ConfigChange(kind: .removed, path: sub, old: member.value))
                }
            }
        case (.array(let x), .array(let y)):
            if let keyX = identities(x), let keyY = identities(y) {
                for (index, item) in y.enumerated() {
                    let sub = "\(path)[\(keyY[index])]"
                    if let before = keyX.firstIndex(of: keyY[index]) {
                        compare(x[before], item, path: sub, into: &out)
                    } else {
                        out.append(ConfigChange(kind: .added, path: sub, new: item))
                    }
                }
                for (index, item) in x.enumerated() where !keyY.contains(keyX[index]) {
                    out.append(ConfigChange(kind: .removed, path: "\(path)[\(keyX[index])]", old: item))
                }
            } else {
                for index in 0..<max(x.count, y.count) {
                    let sub = "\(path)[\(index)]"
                    if index >= x.count {
                        out.append(ConfigChange(kind: .added, path: sub, new: y[index]))
                    } else if index >= y.count {
                        out.append(ConfigChange(kind: .removed, path: sub, old: x[index]))
                    } else {
                        compare(x[index], y[index], path: sub, into: &out)
                    }
                }
            }
        default:
            out.append(ConfigChange(kind: .changed, path: path, old: a, new: b))
        }
    }

    /// The "id" (or else "name") of every element, when each element is an object that has a
    /// distinct one; nil otherwise.
    private static func identities(_ items: [JSONValue]) -> [String]? {
        for key in ["id", "name"] {
            let names = items.compactMap { $0[key]?.stringValue }
            if names.count == items.count, Set(names).count == names.count { return names }
        }
        return items.isEmpty ? [] : nil
    }

    /// One line per change: `+ meters[bus1-m41]  bus=bus1 address=41 profile=finder-7m`,
    /// `~ buses[bus1].baud  9600 -> 38400`, `- meters[bus1-m7]  ...`. A change longer than `width`
    /// continues on lines indented by four spaces: nothing is cut.
    public static func render(_ changes: [ConfigChange], width: Int = TextLayout.width) -> [String] {
        changes.flatMap { change in
            let text: String
            switch change.kind {
            case .added: text = "+ \(change.path)  \(summary(change.new ?? .null, named: change.path))"
            case .removed: text = "- \(change.path)  \(summary(change.old ?? .null, named: change.path))"
            case .changed: text = "~ \(change.path)  \(summary(change.old ?? .null)) -> \(summary(change.new ?? .null))"
            }
            return TextLayout.wrap(text, width: width, indent: 4)
        }
    }

    /// "3 added, 1 changed, 0 removed".
    public static func counts(_ changes: [ConfigChange]) -> String {
        let added = changes.filter { $0.kind == .added }.count
        let changed = changes.filter { $0.kind == .changed }.count
        let removed = changes.filter { $0.kind == .removed }.count
        return "\(added) added, \(changed) changed, \(removed) removed"
    }

    /// A value in a few words: scalars as JSON (strings unquoted inside objects), objects as
    /// `key=value` pairs, lists by their length.
    /// An entry's id or name is left out when the path names it already (`meters[bus1-m3]`).
    static func summary(_ value: JSONValue, named path: String = "") -> String {
        switch value {
        case .object(let members):
            return members.filter { m in
                !((m.key == "id" || m.key == "name") && m.value.stringValue.map { path.hasSuffix("[\($0)]") } == true)
            }.map { "\($0.key)=\(inner($0.value))" }.joined(separator: " ")
        case .array(let items):
            if items.allSatisfy({ $0.members == nil && $0.arrayValue == nil }) { return JSONWriter.render(value, pretty: false) }
            return "[\(items.count) entries]"
        default:
            return JSONWriter.render(value, pretty: false)
        }
    }

    private static func inner(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): return s.contains(" ") ? JSONWriter.quote(s) : s
        case .object: return "{...}"
        case .array(let items): return items.isEmpty ? "[]" : "[\(items.count)]"
        default: return JSONWriter.render(value, pretty: false)
        }
    }
}
