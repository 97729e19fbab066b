/// One record of a CSV file with the line it starts on (1 = the first line of the file).
public struct CSVRecord: Hashable, Sendable {
    public var line: Int
    public var fields: [String]

    public init(line: Int, fields: [String]) {
        self.line = line
        self.fields = fields
    }
}

/// Why a CSV file could not be read at all.
public struct CSVSyntaxError: Error, Hashable, Sendable, CustomStringConvertible {
    public let line: Int
    public let message: String
    public var description: String { "line \(line): \(message)" }
}

/// RFC 4180 CSV: fields separated by commas (or semicolons, as spreadsheet programs in many
/// European locales write them: the header line decides), optionally in double quotes with `""`
/// for a quote inside; CR LF or LF line ends; a UTF-8 byte order mark is skipped. Blank lines and
/// lines starting with `#` are skipped. Fields are trimmed of surrounding spaces. Pure.
public enum CSVParser {
    public static func parse(_ text: String) -> Result<[CSVRecord], CSVSyntaxError> {
        var scalars = Array(text.unicodeScalars)
        if scalars.first == "\u{FEFF}" { scalars.removeFirst() }
        let separator = detectSeparator(scalars)
        var records: [CSVRecord] = []
        var fields: [String] = []
        var field = String.UnicodeScalarView()
        var quoted = false
        var inQuotes = false
        var line = 1
        var recordLine = 1
        var index = 0
        func endField() {
            let text = String(field)
            fields.append(quoted ? text : text.trimmingSpaces)
            field = String.UnicodeScalarView()
            quoted = false
        }
        func endRecord() {
            endField()
            let blank = fields.count == 1 && fields[0].isEmpty
            let comment = fields.first?.hasPrefix("#") == true
            if !blank && !comment { records.append(CSVRecord(line: recordLine, fields: fields)) }
            fields = []
        }
        while index < scalars.count {
            let c = scalars[index]
            index += 1
            if inQuotes {
                if c == "\"" {
                    if index < scalars.count, scalars[index] == "\"" {
                        field.append("\"")
                        index += 1
                    } else {
                        inQuotes = false
                    }
                } else {
                    if c == "\n" { line += 1 }
                    field.append(c)
                }
                continue
            }
            switch c {
            case "\"" where String(field).trimmingSpaces.isEmpty:
                field = String.UnicodeScalarView()
                inQuotes = true
                quoted = true
            case _ where c == separator:
                endField()
            case "\r":
                if index < scalars.count, scalars[index] == "\n" { index += 1 }
                endRecord()
                line += 1
                recordLine = line
            case "\n":
                endRecord()
                line += 1
                recordLine = line
            default:
                if !(quoted && c == " ") { field.append(c) }
            }
        }
        if inQuotes { return .failure(CSVSyntaxError(line: recordLine, message: "a quoted field is not closed (missing \")")) }
        if !field.isEmpty || !fields.isEmpty { endRecord() }
        return .success(records)
    }

    /// `;` when the first line has more semicolons than commas outside quotes, else `,`.
    static func detectSeparator(_ scalars: [Unicode.Scalar]) -> Unicode.Scalar {
        var commas = 0, semicolons = 0, inQuotes = false
        for c in scalars {
            if c == "\n" && !inQuotes { break }
            if c == "\"" { inQuotes.toggle() }
            if !inQuotes { if c == "," { commas += 1 } else if c == ";" { semicolons += 1 } }
        }
        return semicolons > commas ? ";" : ","
    }
}
