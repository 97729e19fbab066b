/// The `buses` section: the RS-485 ports, their line settings and timing bounds.
extension ConfigurationLoader {
    /// The serial speeds a bus may use.
    public static let standardBaudRates = [300, 600, 1200, 2400, 4800, 9600, 19_200, 38_400, 57_600, 115_200]
    /// A gateway has 1–4 RS-485 ports; USB adapters may add a few more.
    static let busCountRange = 1...16
    /// Bounds of the learned per-meter response timeout (`responseTimeoutMilliseconds.min/max`).
    static let responseTimeoutRange = 20...10_000
    static let interFrameGapRange = 0...1000
    static let retriesRange = 0...3
    /// Linux clamps the RS-485 RTS delays to 100 ms (RS485_MAX_RTS_DELAY in drivers/tty/serial/serial_core.c).
    static let rtsDelayRange = 0...100

    /// What earlier bus entries used, to find duplicates.
    private struct BusesSeen {
        var pathByName: [BusName: String] = [:]
        var byDevice: [String: (path: String, name: String)] = [:]
    }

    static func readBuses(_ input: ConfigurationSectionInput, into draft: inout ConfigurationDraft) {
        guard let elements = input.elements(allowed: busCountRange, noun: "buses") else { return }
        var seen = BusesSeen()
        for element in elements {
            guard let r = input.collector.object(element.value, at: element.path, line: element.line) else { continue }
            if let bus = readBus(r, seen: &seen, draft: &draft, context: input.context) { draft.buses.append(bus) }
        }
    }

    /// Reads one bus entry, checking its name and port against earlier entries as it goes (so issues
    /// come in field order). Returns nil when any field is wrong.
    private static func readBus(_ r: JSONObjectReader, seen: inout BusesSeen, draft: inout ConfigurationDraft,
                                context: ConfigurationContext) -> BusSettings? {
        let issuesBefore = r.collector.issues.count
        let defaults = BusSettings(name: "", device: "")
        let name = identifier(r, "name", required: true).map { BusName($0) }
        if let name {
            if let first = seen.pathByName[name] {
                r.collector.add(path: r.path + ".name", line: r.member("name")?.line, problem: "duplicate bus name",
                                value: .string(name.rawValue), expected: "a name not used by another bus (\(first) has it)")
            } else {
                seen.pathByName[name] = r.path
                draft.busNames.append(name)
            }
        }
        let device = absolutePath(r, "device", required: true)
        if let device {
            // One port under two spellings (`/dev//x`, `/dev/../dev/x`, a udev link) is one port.
            let port = context.resolvedPaths[device] ?? normalisedPath(device)
            if let first = seen.byDevice[port] {
                let same = port == device ? "" : "; \(device) is \(port)"
                r.collector.add(path: r.path + ".device", line: r.member("device")?.line,
                                problem: "port already used by bus \"\(first.name)\" (\(first.path))",
                                value: .string(device), expected: "one bus per port (one master per bus)\(same)")
            } else {
                seen.byDevice[port] = (r.path, name?.rawValue ?? "?")
            }
        }
        let line = LineSettings(
            baud: r.int("baud", oneOf: standardBaudRates) ?? defaults.line.baud,
            dataBits: r.int("dataBits", oneOf: [7, 8]) ?? defaults.line.dataBits,
            parity: r.string("parity", allowed: ["none", "even", "odd"]).flatMap(Parity.init(rawValue:)) ?? defaults.line.parity,
            stopBits: r.int("stopBits", oneOf: [1, 2]) ?? defaults.line.stopBits)
        let rs485 = r.object("rs485").map { readRS485($0, defaults: defaults.rs485) } ?? defaults.rs485
        var timeout = defaults.responseTimeoutMilliseconds
        if let bounds = r.object("responseTimeoutMilliseconds"), let range = readResponseTimeout(bounds, defaults: defaults) {
            timeout = range
        }
        let gap = r.int("interFrameGapMilliseconds", in: interFrameGapRange) ?? defaults.interFrameGapMilliseconds
        let retries = r.int("retries", in: retriesRange) ?? defaults.retries
        r.finish()
        guard let name, let device, r.collector.issues.count == issuesBefore else { return nil }
        return BusSettings(name: name, device: device, line: line, rs485: rs485, responseTimeoutMilliseconds: timeout,
                           interFrameGapMilliseconds: gap, retries: retries)
    }

    /// `path` without empty and `.` components, `..` applied lexically, no trailing slash.
    public static func normalisedPath(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": _ = parts.popLast()
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    static func readRS485(_ r: JSONObjectReader, defaults: RS485Settings) -> RS485Settings {
        let settings = RS485Settings(
            enabled: r.bool("enabled") ?? defaults.enabled,
            rtsActiveHigh: r.bool("rtsActiveHigh") ?? defaults.rtsActiveHigh,
            delayBeforeSendMilliseconds: r.int("delayBeforeSendMilliseconds", in: rtsDelayRange)
                ?? defaults.delayBeforeSendMilliseconds,
            delayAfterSendMilliseconds: r.int("delayAfterSendMilliseconds", in: rtsDelayRange)
                ?? defaults.delayAfterSendMilliseconds)
        r.finish()
        return settings
    }

    /// `{"min": 100, "max": 1000}`, either bound optional; nil when a bound is wrong or min > max.
    private static func readResponseTimeout(_ r: JSONObjectReader, defaults: BusSettings) -> ClosedRange<Int>? {
        let minGiven = r.int("min", in: responseTimeoutRange)
        let maxGiven = r.int("max", in: responseTimeoutRange)
        r.finish()
        // A bound that is present but wrong has its own issue; comparing its default would only add noise.
        if (minGiven == nil && r.member("min") != nil) || (maxGiven == nil && r.member("max") != nil) { return nil }
        let low = minGiven ?? defaults.responseTimeoutMilliseconds.lowerBound
        let high = maxGiven ?? defaults.responseTimeoutMilliseconds.upperBound
        guard low <= high else {
            let which = minGiven == nil ? " (min defaults to \(low))" : (maxGiven == nil ? " (max defaults to \(high))" : "")
            r.collector.add(ValidationIssue(path: r.path, line: r.line, problem: "min is greater than max" + which,
                                            value: "min \(low), max \(high)", expected: "min ≤ max"))
            return nil
        }
        return low...high
    }
}
