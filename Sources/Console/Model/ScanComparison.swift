import ConcentratorCore

/// The outcome of one scan as the session keeps it: which addresses were probed, with which line
/// settings, and what answered.
public struct ScanRecord: Hashable, Sendable {
    public var bus: String
    public var addresses: [Int]
    public var hits: [ScanHit]
    /// `19200 8N1`.
    public var line: String
    public var time: Timestamp

    public init(bus: String, addresses: [Int], hits: [ScanHit], line: String, time: Timestamp) {
        self.bus = bus
        self.addresses = addresses
        self.hits = hits
        self.line = line
        self.time = time
    }

    public func hit(at address: Int) -> ScanHit? { hits.first { Int($0.address) == address } }
}

/// The combined view: a scan's answers against the meters the working copy configures on that bus.
/// Every address that answered, and every configured address that was probed, gets one row with
/// one finding. Pure.
public enum ScanComparison {
    /// What one address shows.
    public enum Finding: Hashable, Sendable {
        /// Answered with the model the configuration names.
        case matches
        /// Answered (with a recognised model or not) but no meter is configured there.
        case new
        /// Answered, recognised as another model than the configured profile.
        case modelDiffers(found: String)
        /// Answered, but no profile recognised it; a meter is configured there.
        case unrecognised
        /// Configured and probed, but silent.
        case silent
        /// Something answered, but never with a valid frame (bad CRC, garbage).
        case garbled
    }

    /// One address of the view.
    public struct Row: Hashable, Sendable {
        public var address: Int
        public var hit: ScanHit?
        /// The configured meter at this address, if any.
        public var meter: String?
        public var configuredProfile: String?
        public var finding: Finding
    }

    /// A configured meter: its id and profile.
    public struct Configured: Hashable, Sendable {
        public var id: String
        public var profile: String
        public init(id: String, profile: String) {
            self.id = id
            self.profile = profile
        }
    }

    public static func rows(_ record: ScanRecord, configured: [Int: Configured]) -> [Row] {
        let probed = Set(record.addresses)
        let addresses = Set(record.hits.map { Int($0.address) }).union(configured.keys.filter(probed.contains)).sorted()
        return addresses.map { address in
            let hit = record.hit(at: address)
            let meter = configured[address]
            let finding: Finding
            switch (hit, meter) {
            case (nil, _): finding = .silent
            case (let h?, _) where h.isGarbled: finding = .garbled
            case (_, nil): finding = .new
            case (let h?, let m?):
                if let found = h.profile { finding = found == m.profile ? .matches : .modelDiffers(found: found) } else { finding = .unrecognised }
            }
            return Row(address: address, hit: hit, meter: meter?.id, configuredProfile: meter?.profile, finding: finding)
        }
    }

    /// "64 probed: 60 answered (58 as configured, 1 new, 1 model differs), 1 garbled, 2 silent".
    public static func summary(_ rows: [Row], probed: Int) -> String {
        func count(_ test: (Finding) -> Bool) -> Int { rows.filter { test($0.finding) }.count }
        let answered = rows.filter { $0.hit != nil && $0.finding != .garbled }.count
        var parts = ["\(count { $0 == .matches }) as configured"]
        let new = count { $0 == .new }
        if new > 0 { parts.append("\(new) new") }
        let differs = count { if case .modelDiffers = $0 { return true } else { return false } }
        if differs > 0 { parts.append("\(differs) model differs") }
        let unknown = count { $0 == .unrecognised }
        if unknown > 0 { parts.append("\(unknown) not recognised") }
        return "\(probed) probed: \(answered) answered (" + parts.joined(separator: ", ") + "), "
            + "\(count { $0 == .garbled }) garbled, \(count { $0 == .silent }) configured but silent"
    }

    /// The table: address, what answered, the configured meter, the finding; wrapped, never cut.
    public static func render(_ rows: [Row]) -> [String] {
        var lines = [TextLayout.row([("addr", 4, true), ("answer", 26, false), ("configured", 16, false), ("finding", 0, false)])]
        for row in rows {
            let answer: String
            if let hit = row.hit {
                answer = hit.verdict ?? hit.profile ?? hit.detail
            } else {
                answer = "(silent)"
            }
            let configured = row.meter.map { "\($0)" } ?? "-"
            let finding: String
            switch row.finding {
            case .matches: finding = "ok"
            case .new: finding = "NEW" + (row.hit?.profile.map { ": \($0)" } ?? ": no profile fits")
            case .modelDiffers(let found):
                finding = "MODEL DIFFERS: configured \(row.configuredProfile ?? "?"), found \(found)"
            case .unrecognised: finding = "NOT RECOGNISED: configured \(row.configuredProfile ?? "?")"
            case .silent: finding = "SILENT: configured, no answer"
            case .garbled: finding = "GARBLED: present, answers damaged (wiring, termination, line settings?)"
            }
            lines += TextLayout.wrappedRow([(String(row.address), 4, true), (answer, 26, false), (configured, 16, false), (finding, 0, false)])
        }
        return lines
    }
}
