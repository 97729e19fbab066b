import ConcentratorCore

/// Validator issues in the installer's words: the thing named as the console shows it ("meter
/// bus1-m3, address", "bus bus1, baud") and the menu where it is fixed, instead of a JSON path. Pure.
public enum IssueText {
    /// `meter bus1-m3, address: already used by bus1-m2; allowed: 1-247. Fix in meters (menu 4).`
    public static func describe(_ issue: ValidationIssue, in document: ConfigDocument) -> String {
        let (what, menu) = place(issue.path, in: document)
        var text = what + ": " + issue.problem
        if let value = issue.value { text += " (got " + value + ")" }
        if let expected = issue.expected { text += "; allowed: " + expected }
        return text + ". " + menu
    }

    /// What a path names and where to fix it.
    static func place(_ path: String, in document: ConfigDocument) -> (String, String) {
        let parts = components(path)
        func field(_ from: Int) -> String { parts.count > from ? ", " + parts[from...].joined(separator: ".") : "" }
        switch parts.first {
        case "buses":
            let name = index(parts, 1).flatMap { document.buses.indices.contains($0) ? document.buses[$0]["name"]?.stringValue : nil }
            return ("bus " + (name ?? "#\((index(parts, 1) ?? 0) + 1)") + field(2), "Fix in \(MenuItem.bus.reference).")
        case "meters":
            let id = index(parts, 1).flatMap { document.meters.indices.contains($0) ? document.meters[$0]["id"]?.stringValue : nil }
            return ("meter " + (id ?? "#\((index(parts, 1) ?? 0) + 1)") + field(2), "Fix in \(MenuItem.meters.reference) or \(MenuItem.import.reference).")
        case "uplink" where parts.count > 1 && parts[1] == "headEndKeys":
            return ("uplink, head-end keys", "Import them in \(MenuItem.keys.reference).")
        case "uplink":
            return ("uplink" + field(1), "Fix in \(MenuItem.uplink.reference).")
        case nil:
            return ("the configuration", "Fix the file by hand (concentrator config check shows the line).")
        case let section?:
            return (section + field(1), "Not edited by the console: fix config.json by hand (concentrator config check).")
        }
    }

    /// `$.meters[3].address` → ["meters", "3", "address"].
    static func components(_ path: String) -> [String] {
        var body = Substring(path)
        if body.hasPrefix("$") { body = body.dropFirst() }
        var out: [String] = []
        var current = ""
        for c in body {
            switch c {
            case ".", "[", "]":
                if !current.isEmpty { out.append(current) }
                current = ""
            default: current.append(c)
            }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    private static func index(_ parts: [String], _ position: Int) -> Int? {
        parts.count > position ? Int(parts[position]) : nil
    }
}
