/// The export file formats.
public enum ExportFormat: String, Hashable, Sendable, CaseIterable {
    /// One line per meter, interval and quantity: `interval_start,meter,quantity,value,unit,quality`.
    case csv
    /// One JSON array of snapshot objects, written as it is read.
    case json
}

/// The text of exported snapshots: CSV lines and JSON objects. The agent's archive export and the
/// head-end's export share it (the head-end adds a device column/member).
public enum ExportText {
    /// Appends one CSV line per value (`interval_start,[device,]meter,quantity,value,unit,quality`);
    /// returns how many.
    @discardableResult
    public static func appendCSV(_ s: MeterSnapshot, device: String? = nil, to out: inout [UInt8]) -> Int {
        let start = ISO8601.format(s.intervalStart)
        let prefix = start + "," + (device.map { csvField($0) + "," } ?? "") + csvField(s.meter.rawValue)
        for v in s.values {
            let unit = QuantityCatalog.definition(of: v.quantity)?.unit.rawValue ?? ""
            let value = v.value.map(number) ?? ""
            let line = "\(prefix),\(csvField(v.quantity.rawValue)),\(value),\(csvField(unit)),\(csvField(quality(v, s)))\n"
            out.append(contentsOf: line.utf8)
        }
        return s.values.count
    }

    /// Appends one JSON object for the snapshot; returns how many values it holds.
    @discardableResult
    public static func appendJSON(_ s: MeterSnapshot, device: String? = nil, to out: inout [UInt8]) -> Int {
        var text = "{\"interval_start\":\"\(ISO8601.format(s.intervalStart))\""
        if let device { text += ",\"device\":\(JSONWriter.quote(device))" }
        text += ",\"meter\":\(JSONWriter.quote(s.meter.rawValue))"
        text += ",\"gateway_time\":\"\(ISO8601.format(s.gatewayTime))\""
        if let m = s.meterTime { text += ",\"meter_time\":\"\(ISO8601.format(m))\"" }
        text += ",\"clock_unsynced\":\(s.clockUnsynced),\"values\":["
        for (i, v) in s.values.enumerated() {
            if i > 0 { text += "," }
            text += "{\"quantity\":\(JSONWriter.quote(v.quantity.rawValue))"
            if let unit = QuantityCatalog.definition(of: v.quantity)?.unit { text += ",\"unit\":\(JSONWriter.quote(unit.rawValue))" }
            if let value = v.value {
                text += ",\"value\":" + (value.isFinite ? number(value) : "null")
            } else if let e = v.error {
                text += ",\"error\":\(e.rawValue),\"error_text\":\(JSONWriter.quote(e.description))"
            } else {
                text += ",\"value\":null"
            }
            text += "}"
        }
        text += "]}"
        out.append(contentsOf: text.utf8)
        return s.values.count
    }

    /// `ok`, `clock_unsynced`, `error:<code> <description>` or `missing`.
    public static func quality(_ v: QuantityValue, _ s: MeterSnapshot) -> String {
        if let e = v.error { return "error:\(e.rawValue) \(e.description)" }
        if v.value == nil { return "missing" }
        return s.clockUnsynced ? "clock_unsynced" : "ok"
    }

    /// The shortest text that reads back as the same Double.
    static func number(_ v: Double) -> String { "\(v)" }

    /// Quotes a CSV field when it holds a comma, a quote or a line break (RFC 4180).
    public static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        var quoted = "\""
        for c in text {
            if c == "\"" { quoted += "\"\"" } else { quoted.append(c) }
        }
        return quoted + "\""
    }
}
