import ConcentratorCore

/// What the head-end knows about one device (`headend status`).
public struct DeviceStatusReport: Hashable, Sendable {
    /// The device's last status document, as it reported it (unsigned, informational).
    public struct Reported: Hashable, Sendable {
        public var received: Timestamp
        public var state: String
        public var since: Timestamp?
        public var unexpected: Bool?
        public var lastSequence: UInt64?
        /// Outbox depth: batches the device still holds without an ack.
        public var pending: Int?
        public var oldestUnacknowledgedInterval: Timestamp?
    }

    public var device: String
    public var registered: Bool
    /// The newest arrival of a stored batch or of a status document.
    public var lastSeen: Timestamp?
    /// The highest stored sequence.
    public var lastSequence: UInt64?
    public var batches: Int
    /// Values (numbers and error codes) in stored interval and profile batches.
    public var values: Int
    public var events: Int
    /// Sequence numbers between the lowest and highest stored one that are not stored.
    public var missingSequences: Int
    /// The first (at most `gapLimit`) runs of missing sequence numbers, in order.
    public var gaps: [ClosedRange<UInt64>]
    public var reported: Reported?
    /// Rejected batches by reason name.
    public var rejections: [String: Int]
    /// The newest commissioning report the device sent (event `commissioning_report`), if any.
    public var commissioning: Commissioning? = nil

    public static let gapLimit = 20

    /// A commissioning report as the head-end keeps it: the event's time and its summary
    /// (Docs/mqtt-api.md §5.1).
    public struct Commissioning: Hashable, Sendable {
        public var time: Timestamp
        public var installer: String
        public var meters: Int
        public var answered: Int
        public var uplink: String
        /// Meters that did not answer or answered badly (as many as the event carries), and how many more.
        public var failed: [String]
        public var more: Int
        public var report: String?

        /// Reads the event's text; nil when it is not a version 1 summary.
        public init?(time: Timestamp, text: String) {
            guard let json = try? JSONParser.parse(text), json["v"]?.intValue == 1, let installer = json["installer"]?.stringValue,
                  let meters = json["meters"]?.intValue, let answered = json["answered"]?.intValue else { return nil }
            self.time = time
            self.installer = installer
            self.meters = meters
            self.answered = answered
            uplink = json["uplink"]?.stringValue ?? "?"
            failed = json["failed"]?.arrayValue?.compactMap(\.stringValue) ?? []
            more = json["more"]?.intValue ?? 0
            report = json["report"]?.stringValue
        }
    }
}

/// Renders status reports for people (an 80-column table) and programs (JSON).
public enum DeviceStatusRendering {
    public static func table(_ reports: [DeviceStatusReport], now: Timestamp) -> String {
        guard !reports.isEmpty else { return "no devices (register one: headend devices add --id ID --key FILE)\n" }
        var out = pad("DEVICE", 14) + pad("LAST SEEN", 11) + pad("SEQ", 8) + pad("BATCHES", 9) + pad("VALUES", 11)
            + pad("OUTBOX", 8) + pad("REJ", 5) + "GAPS\n"
        for r in reports {
            let seen = r.lastSeen.map { age(now.milliseconds - $0.milliseconds) } ?? "never"
            let outbox = r.reported?.pending.map(String.init) ?? "-"
            let rejected = r.rejections.values.reduce(0, +)
            var gaps = r.gaps.map(range).joined(separator: ",")
            if r.missingSequences > 0 { gaps = "\(r.missingSequences) missing: " + gaps }
            if r.gaps.count == DeviceStatusReport.gapLimit { gaps += ",…" }
            let name = r.registered ? r.device : r.device + "*"
            out += pad(name, 14) + pad(seen, 11) + pad(r.lastSequence.map(String.init) ?? "-", 8) + pad("\(r.batches)", 9)
                + pad("\(r.values)", 11) + pad(outbox, 8) + pad("\(rejected)", 5) + (gaps.isEmpty ? "none" : gaps) + "\n"
        }
        if reports.contains(where: { !$0.registered }) { out += "* not registered (removed): its data is kept, its batches are rejected\n" }
        for r in reports {
            guard let c = r.commissioning else { continue }
            out += "\(r.device) commissioned \(ISO8601.format(c.time)) by \(c.installer)\n"
            out += "  \(c.answered)/\(c.meters) meters answered, uplink \(c.uplink)\n"
            var line = "  not ok:"
            for id in c.failed + (c.more > 0 ? ["and \(c.more) more"] : []) {
                if line.count + 1 + id.count > 80 {
                    out += line + "\n"
                    line = "   "
                }
                line += " " + id
            }
            if !c.failed.isEmpty { out += line + "\n" }
        }
        return out
    }

    public static func json(_ reports: [DeviceStatusReport]) -> String {
        func int(_ n: Int) -> JSONValue { .number(Double(n), text: "\(n)") }
        func seq(_ n: UInt64) -> JSONValue { .number(Double(n), text: "\(n)") }
        func time(_ t: Timestamp?) -> JSONValue { t.map { .string(ISO8601.format($0)) } ?? .null }
        let devices: [JSONValue] = reports.map { r in
            var members = [
                JSONMember(key: "device", value: .string(r.device)),
                JSONMember(key: "registered", value: .bool(r.registered)),
                JSONMember(key: "lastSeen", value: time(r.lastSeen)),
                JSONMember(key: "lastSequence", value: r.lastSequence.map(seq) ?? .null),
                JSONMember(key: "batches", value: int(r.batches)),
                JSONMember(key: "values", value: int(r.values)),
                JSONMember(key: "events", value: int(r.events)),
                JSONMember(key: "missingSequences", value: int(r.missingSequences)),
                JSONMember(key: "gaps", value: .array(r.gaps.map { .array([seq($0.lowerBound), seq($0.upperBound)]) })),
                JSONMember(key: "rejections", value: .object(r.rejections.keys.sorted().map { JSONMember(key: $0, value: int(r.rejections[$0]!)) })),
            ]
            if let s = r.reported {
                var reported = [JSONMember(key: "received", value: time(s.received)), JSONMember(key: "state", value: .string(s.state)),
                                JSONMember(key: "since", value: time(s.since)),
                                JSONMember(key: "pending", value: s.pending.map(int) ?? .null),
                                JSONMember(key: "oldestUnacknowledgedInterval", value: time(s.oldestUnacknowledgedInterval)),
                                JSONMember(key: "lastSequence", value: s.lastSequence.map(seq) ?? .null)]
                if let u = s.unexpected { reported.append(JSONMember(key: "unexpected", value: .bool(u))) }
                members.append(JSONMember(key: "reported", value: .object(reported)))
            } else {
                members.append(JSONMember(key: "reported", value: .null))
            }
            if let c = r.commissioning {
                members.append(JSONMember(key: "commissioning", value: .object([
                    JSONMember(key: "time", value: time(c.time)), JSONMember(key: "installer", value: .string(c.installer)),
                    JSONMember(key: "meters", value: int(c.meters)), JSONMember(key: "answered", value: int(c.answered)),
                    JSONMember(key: "uplink", value: .string(c.uplink)),
                    JSONMember(key: "failed", value: .array(c.failed.map { .string($0) })), JSONMember(key: "more", value: int(c.more)),
                    JSONMember(key: "report", value: c.report.map { .string($0) } ?? .null),
                ])))
            } else {
                members.append(JSONMember(key: "commissioning", value: .null))
            }
            return .object(members)
        }
        return JSONWriter.render(.object([JSONMember(key: "devices", value: .array(devices))]), pretty: true) + "\n"
    }

    private static func range(_ r: ClosedRange<UInt64>) -> String { r.lowerBound == r.upperBound ? "\(r.lowerBound)" : "\(r.lowerBound)-\(r.upperBound)" }

    private static func age(_ ms: Int64) -> String {
        let s = max(0, ms / 1000)
        if s < 120 { return "\(s)s ago" }
        if s < 7200 { return "\(s / 60)m ago" }
        if s < 172_800 { return "\(s / 3600)h ago" }
        return "\(s / 86_400)d ago"
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        let t = text.count >= width ? String(text.prefix(width - 1)) : text
        return t + String(repeating: " ", count: width - t.count)
    }
}
