import ConcentratorCore

/// What a scan probes, as the installer types it at the scan screen's address prompt: Modbus
/// addresses (`1-247`, `10-29,100-121`), IEC 62056-21 device addresses after `iec`
/// (`iec 1-20`, `iec 00000001-00000020`, `iec 12345678,ABC`) or DLMS HDLC server addresses after
/// `dlms` (`dlms 16-40`). Pure.
public enum ScanTarget: Hashable, Sendable {
    case modbus([Int])
    case iec([String])
    case dlms([Int])

    /// HDLC server (physical) addresses a DLMS scan may probe (IEC 62056-46: 0x10–0x3FFD).
    public static let hdlcServerRange = 16...16381
    /// The most IEC device addresses one scan probes.
    public static let maximumIECAddresses = 1000

    /// The target the text names, or why it names none. Without a protocol word it is Modbus.
    public static func parse(_ text: String, modbusLimits: ClosedRange<Int>) -> Result<ScanTarget, InputProblem> {
        let trimmed = text.trimmingSpaces
        let lower = trimmed.lowercased()
        for (word, kind) in [("iec", MeterProtocolKind.iec62056_21), ("dlms", .dlms)] where lower == word || lower.hasPrefix(word + " ") {
            let rest = String(trimmed.dropFirst(word.count)).trimmingSpaces
            guard !rest.isEmpty else {
                return .failure(InputProblem(kind == .dlms ? "type the HDLC server addresses after dlms, such as dlms 16-40"
                    : "type the device addresses after iec, such as iec 1-20 or iec 00000001-00000020"))
            }
            if kind == .dlms { return AddressSelection.list(rest, within: hdlcServerRange).map { .dlms($0) } }
            return deviceAddresses(rest).map { .iec($0) }
        }
        return AddressSelection.list(trimmed, within: modbusLimits).map { .modbus($0) }
    }

    /// IEC 62056-21 device addresses: a comma-separated list of addresses and `FIRST-LAST` decimal
    /// ranges (FIRST's width kept: `00000001-00000003` gives 00000001, 00000002, 00000003); each at
    /// most 32 characters without `/`, `?` or `!`; at most 1000.
    public static func deviceAddresses(_ text: String) -> Result<[String], InputProblem> {
        var out: [String] = []
        for part in text.split(separator: ",").map({ String($0.filter { $0 != " " }) }) where !part.isEmpty {
            let ends = part.split(separator: "-", maxSplits: 1).map(String.init)
            if ends.count == 2, let a = Int(ends[0]), let b = Int(ends[1]) {
                guard a <= b, b - a < maximumIECAddresses else {
                    return .failure(InputProblem("\(TextLayout.cut(part, to: 30)) is not a range of at most \(maximumIECAddresses) addresses"))
                }
                let width = ends[0].count
                out += (a...b).map { n in String(repeating: "0", count: max(0, width - String(n).count)) + String(n) }
            } else {
                guard part.utf8.count <= 32, part.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }), !part.contains(where: { "/?!".contains($0) }) else {
                    return .failure(InputProblem("\"\(TextLayout.cut(part, to: 20))\" is not an IEC device address "
                        + "(at most 32 printable characters without / ? !)"))
                }
                out.append(part)
            }
        }
        var seen = Set<String>()
        out = out.filter { seen.insert($0).inserted }
        guard !out.isEmpty else { return .failure(InputProblem("type device addresses such as 1-20 or 00000001,00000002")) }
        guard out.count <= maximumIECAddresses else {
            return .failure(InputProblem("\(out.count) addresses: one scan probes at most \(maximumIECAddresses)"))
        }
        return .success(out)
    }

    public var protocolKind: MeterProtocolKind {
        switch self {
        case .modbus: return .modbus
        case .iec: return .iec62056_21
        case .dlms: return .dlms
        }
    }

    /// How many addresses are probed.
    public var count: Int {
        switch self {
        case .modbus(let a), .dlms(let a): return a.count
        case .iec(let a): return a.count
        }
    }

    /// The addresses as the installer would type them again (the prompt's default next time).
    public var text: String {
        switch self {
        case .modbus(let a): return AddressSelection.text(a)
        case .dlms(let a): return "dlms " + AddressSelection.text(a)
        case .iec(let a): return "iec " + (a.count <= 3 ? a.joined(separator: ",") : "\(a[0])-\(a[a.count - 1])")
        }
    }

    /// The wait per address that suits the protocol: an IEC meter may take up to 1.5 s to react
    /// (IEC 62056-21 t_r), a DLMS server answers SNRM within a few hundred ms.
    public var defaultTimeoutMilliseconds: Int {
        switch self {
        case .modbus: return 250
        case .iec: return 1500
        case .dlms: return 500
        }
    }
}

/// The table of an IEC or DLMS scan: one row per address that answered, with the configured meter
/// there (if any), the fitting profile and what the meter said. Pure.
public enum ProtocolScanView {
    /// A configured meter (id and profile), as the Modbus comparison names it.
    public typealias Configured = ScanComparison.Configured

    /// The meters of `kind` on `bus` in a working copy's meter list, by address text (IEC device
    /// address, DLMS server address).
    public static func configured(_ meters: [JSONValue], bus: String, kind: MeterProtocolKind) -> [String: Configured] {
        var out: [String: Configured] = [:]
        for m in meters where m["bus"]?.stringValue == bus && m["protocol"]?.stringValue == kind.rawValue {
            guard let address = m["address"].map(addressText) else { continue }
            out[address] = Configured(id: m["id"]?.stringValue ?? "?", profile: m["profile"]?.stringValue ?? "?")
        }
        return out
    }

    /// The hits that answered cleanly and are not configured yet.
    public static func new(_ hits: [ScanHit], configured: [String: Configured]) -> [ScanHit] {
        hits.filter { !$0.isGarbled && configured[$0.addressText] == nil }
    }

    /// The result table (header, rows, summary).
    public static func lines(_ hits: [ScanHit], configured: [String: Configured], probed: Int) -> [String] {
        var out = TextLayout.wrappedRow([("address", 10, false), ("state", 10, false), ("profile", 20, false), ("meter said", 0, false)])
        for hit in hits {
            let known = configured[hit.addressText]
            let state = hit.isGarbled ? "GARBLED" : known.map { $0.id } ?? "NEW"
            out += TextLayout.wrappedRow([(hit.addressText, 10, false), (state, 10, false), (hit.profile ?? known?.profile ?? "unknown", 20, false),
                                          (hit.verdict.map { $0 + ": " + hit.detail } ?? hit.detail, 0, false)])
        }
        let garbled = hits.filter(\.isGarbled).count
        let fresh = new(hits, configured: configured).count
        out.append("\(probed) probed: \(hits.count - garbled) answered (\(fresh) new), \(garbled) garbled, \(probed - hits.count) silent")
        return out
    }

    /// `00000001` for a string address, `21` for a number.
    static func addressText(_ value: JSONValue) -> String {
        value.stringValue ?? value.intValue.map(String.init) ?? JSONWriter.render(value, pretty: false)
    }
}
