/// Writing CSV (RFC 4180): one field quoted when it must be, one line of fields. Pure.
/// (`Archive.ArchiveExporter.csvField` predates this and should delegate here.)
public enum CSVField {
    /// `text` as a CSV field: in double quotes, with quotes doubled, when it holds a comma, a
    /// semicolon, a quote or a line break; as it is otherwise.
    public static func quote(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == ";" || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        var quoted = "\""
        for c in text {
            if c == "\"" { quoted += "\"\"" } else { quoted.append(c) }
        }
        return quoted + "\""
    }

    /// One CSV line (CR LF ended, as RFC 4180 and spreadsheet programs expect).
    public static func line(_ fields: [String]) -> String {
        fields.map(quote).joined(separator: ",") + "\r\n"
    }
}
