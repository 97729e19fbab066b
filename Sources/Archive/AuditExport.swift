import ConcentratorCore

/// The audit log as text (`concentrator audit export`): CSV with the header
/// `time,command_id,key_id,role,verb,result,message,arguments`, or one JSON array of objects with the
/// same members. Pure: entries in, text out.
public enum AuditExport {
    public static let csvHeader = "time,command_id,key_id,role,verb,result,message,arguments\n"

    /// One CSV line (RFC 4180 quoting).
    public static func csvLine(_ e: AuditEntry) -> String {
        [ISO8601.format(e.time), e.commandID ?? "", e.keyID, e.role, e.verb, e.result, e.message, e.arguments]
            .map(ExportText.csvField).joined(separator: ",") + "\n"
    }

    /// One JSON object; `arguments` is embedded as JSON when it parses (it is cut at 4 KiB otherwise).
    public static func jsonObject(_ e: AuditEntry) -> String {
        let arguments = (try? JSONParser.parse(e.arguments)).map { JSONWriter.render($0, pretty: false) } ?? JSONWriter.quote(e.arguments)
        return "{\"time\":\"\(ISO8601.format(e.time))\",\"command_id\":\(e.commandID.map(JSONWriter.quote) ?? "null"),"
            + "\"key_id\":\(JSONWriter.quote(e.keyID)),\"role\":\(JSONWriter.quote(e.role)),\"verb\":\(JSONWriter.quote(e.verb)),"
            + "\"result\":\(JSONWriter.quote(e.result)),\"message\":\(JSONWriter.quote(e.message)),\"arguments\":\(arguments)}"
    }

    /// Writes the entries with `from <= time < to` to `sink` in pages of 1000, oldest first; returns how many.
    public static func export(reader: ArchiveReader, from: Timestamp, to: Timestamp, json: Bool,
                              sink: (String) throws -> Void) throws -> Int {
        var count = 0
        try sink(json ? "[" : csvHeader)
        while true {
            let page = try reader.auditEntries(from: from, to: to, limit: 1000, offset: count)
            for e in page {
                try sink(json ? (count == 0 ? "\n" : ",\n") + jsonObject(e) : csvLine(e))
                count += 1
            }
            if page.count < 1000 { break }
        }
        try sink(json ? (count == 0 ? "]\n" : "\n]\n") : "")
        return count
    }
}
