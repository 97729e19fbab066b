import ConcentratorCore
import Wire

/// A command refused with a reply code (Docs/mqtt-api.md §11.5). Nothing was done.
public struct CommandRejection: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: CommandReplyCode
    public var message: String

    public init(_ code: CommandReplyCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

/// What the device's configuration in force offers to commands: its meters, what each can do, its buses.
public struct CommandContext: Sendable {
    /// One configured meter as commands see it.
    public struct Meter: Hashable, Sendable {
        public var bus: BusName
        public var hasRelay: Bool
        public var hasClock: Bool

        public init(bus: BusName, hasRelay: Bool, hasClock: Bool) {
            self.bus = bus
            self.hasRelay = hasRelay
            self.hasClock = hasClock
        }
    }

    public var meters: [MeterID: Meter]
    public var buses: [BusName]
    /// The archive series the configuration keeps (interval always; profile when configured).
    public var series: Set<SeriesKind>

    public init(meters: [MeterID: Meter], buses: [BusName], series: Set<SeriesKind>) {
        self.meters = meters
        self.buses = buses
        self.series = series
    }
}

/// What a relay command does.
public enum RelayOperation: String, Hashable, Sendable, CaseIterable {
    case connect, disconnect, status
}

/// A configuration change by `config.set`: a whole new document, or an RFC 7396 merge patch.
public enum ConfigChange: Hashable, Sendable {
    case document(JSONValue)
    case mergePatch(JSONValue)
}

/// A verified, authorised command with its arguments checked and typed (Docs/mqtt-api.md §11.4).
public enum CommandAction: Hashable, Sendable {
    case ping
    case status
    case read(meters: [MeterID], quantities: [QuantityID]?, startDeadline: Duration)
    case backfill(from: Timestamp, to: Timestamp, meters: [MeterID], series: [SeriesKind])
    case relay(meter: MeterID, operation: RelayOperation, startDeadline: Duration)
    case timeSync(meters: [MeterID], threshold: Duration, startDeadline: Duration)
    case scan(bus: BusName, addresses: ClosedRange<UInt8>, timeout: Duration)
    /// Meter objects as in the configuration's `meters` array.
    case metersAdd([JSONValue])
    case metersRemove([MeterID])
    case configGet
    case configSet(ConfigChange)
    case keysRotate
    case restart

    /// Checks `arguments` for `verb` against `context`: unknown members, types and ranges give
    /// `invalid-arguments`, a meter that is not configured `unknown-meter`, a meter whose profile cannot
    /// do what is asked `not-supported`. Pure.
    public static func parse(verb: CommandVerb, arguments: JSONValue, context: CommandContext) throws(CommandRejection) -> CommandAction {
        let collector = IssueCollector()
        guard let args = collector.object(arguments, at: "$.args") else {
            throw CommandRejection(.invalidArguments, "\"args\" must be an object")
        }
        var meterProblem: CommandRejection?
        /// Meter ids from `key`, each configured (else `unknown-meter`) and passing `check`.
        func meters(_ key: String, required: Bool, limit: Int = 64,
                    check: (MeterID, CommandContext.Meter) -> CommandRejection? = { _, _ in nil }) -> [MeterID]? {
            guard let items = args.array(key, required: required) else { return nil }
            if items.isEmpty || items.count > limit {
                collector.add(path: "$.args." + key, line: nil, problem: items.isEmpty ? "empty" : "too many meters",
                              value: .number(Double(items.count), text: String(items.count)), expected: "1–\(limit) meter ids")
            }
            var out: [MeterID] = []
            for item in items {
                guard let s = item.value.stringValue else {
                    collector.add(path: item.path, line: nil, problem: "wrong type", value: item.value, expected: "a meter id")
                    continue
                }
                let id = MeterID(s)
                guard let meter = context.meters[id] else {
                    meterProblem = meterProblem ?? CommandRejection(.unknownMeter, "no meter \(s) in the configuration (\(item.path))")
                    continue
                }
                if let problem = check(id, meter) { meterProblem = meterProblem ?? problem }
                if !out.contains(id) { out.append(id) }
            }
            return out
        }
        func milliseconds(_ key: String, default value: Int, in range: ClosedRange<Int>) -> Duration {
            .milliseconds(Int64(args.int(key, in: range) ?? value))
        }
        let action: CommandAction?
        switch verb {
        case .ping: action = .ping
        case .status: action = .status
        case .configGet: action = .configGet
        case .keysRotate: action = .keysRotate
        case .restart: action = .restart
        case .read:
            let ids = meters("meters", required: true)
            var quantities: [QuantityID]?
            if let items = args.array("quantities") {
                quantities = items.compactMap { item -> QuantityID? in
                    guard let s = item.value.stringValue, QuantityCatalog.definition(of: QuantityID(s)) != nil else {
                        collector.add(path: item.path, line: nil, problem: "unknown quantity", value: item.value,
                                      expected: "a quantity id such as voltage_l1 (Docs/mqtt-api.md §8)")
                        return nil
                    }
                    return QuantityID(s)
                }
            }
            let deadline = milliseconds("startDeadlineMilliseconds", default: 10_000, in: 100...60_000)
            action = ids.map { .read(meters: $0, quantities: quantities, startDeadline: deadline) }
        case .backfill:
            let from = time(args, "from"), to = time(args, "to")
            let ids = meters("meters", required: false, limit: 4096) ?? context.meters.keys.sorted()
            var series: [SeriesKind] = [.interval]
            if let items = args.array("series") {
                series = items.compactMap { item in
                    guard let s = item.value.stringValue.flatMap(SeriesKind.init(rawValue:)), context.series.contains(s) else {
                        collector.add(path: item.path, line: nil, problem: "not a configured series", value: item.value,
                                      expected: context.series.map(\.rawValue).sorted().joined(separator: ", "))
                        return nil
                    }
                    return s
                }
            }
            if let from, let to, !(from < to && to.milliseconds - from.milliseconds <= 46 * 86_400_000) {
                collector.add(path: "$.args.to", line: nil, problem: "the range must be non-empty and at most 46 days",
                              value: .string(ISO8601.format(to)), expected: "after \(ISO8601.format(from)), within 46 days")
            }
            action = from.flatMap { f in to.map { .backfill(from: f, to: $0, meters: ids, series: series) } }
        case .relay:
            let operation = args.string("action", required: true, allowed: RelayOperation.allCases.map(\.rawValue))
                .flatMap(RelayOperation.init(rawValue:))
            let id = args.string("meter", required: true, maxLength: 64).map { MeterID($0) }
            if let id {
                if let meter = context.meters[id] {
                    if !meter.hasRelay { meterProblem = CommandRejection(.notSupported, "meter \(id)'s profile declares no relay") }
                } else {
                    meterProblem = CommandRejection(.unknownMeter, "no meter \(id) in the configuration")
                }
            }
            let deadline = milliseconds("startDeadlineMilliseconds", default: 10_000, in: 100...60_000)
            action = id.flatMap { m in operation.map { .relay(meter: m, operation: $0, startDeadline: deadline) } }
        case .timeSync:
            let withClock = context.meters.filter(\.value.hasClock).keys.sorted()
            let ids = meters("meters", required: false, limit: 4096) { id, meter in
                meter.hasClock ? nil : CommandRejection(.notSupported, "meter \(id)'s profile declares no settable clock")
            } ?? withClock
            let threshold = Duration.seconds(args.int("thresholdSeconds", in: 1...86_400) ?? 10)
            let deadline = milliseconds("startDeadlineMilliseconds", default: 10_000, in: 100...60_000)
            action = .timeSync(meters: ids, threshold: threshold, startDeadline: deadline)
        case .scan:
            let bus = args.string("bus", required: true, maxLength: 64).map { BusName($0) }
            if let bus, !context.buses.contains(bus) {
                collector.add(path: "$.args.bus", line: nil, problem: "unknown bus", value: .string(bus.rawValue),
                              expected: context.buses.map(\.rawValue).joined(separator: ", "))
            }
            let from = args.int("from", in: 1...247) ?? 1, to = args.int("to", in: 1...247) ?? 247
            if from > to {
                collector.add(path: "$.args.to", line: nil, problem: "ends before it starts", value: .number(Double(to), text: String(to)),
                              expected: "at least \(from)")
            }
            let timeout = milliseconds("timeoutMilliseconds", default: 250, in: 20...2000)
            action = bus.map { .scan(bus: $0, addresses: UInt8(from)...UInt8(max(from, to)), timeout: timeout) }
        case .metersAdd:
            let items = args.array("meters", required: true)
            if let items, items.isEmpty || items.count > 64 {
                collector.add(path: "$.args.meters", line: nil, problem: "must hold 1–64 meter objects")
            }
            for item in items ?? [] where item.value.members == nil {
                collector.add(path: item.path, line: nil, problem: "wrong type", value: item.value, expected: "a meter object as in the configuration")
            }
            action = items.map { .metersAdd($0.map(\.value)) }
        case .metersRemove:
            action = meters("meters", required: true).map { .metersRemove($0) }
        case .configSet:
            let document = args.member("config")?.value, patch = args.member("patch")?.value
            switch (document, patch) {
            case (let d?, nil) where d.members != nil: action = .configSet(.document(d))
            case (nil, let p?) where p.members != nil: action = .configSet(.mergePatch(p))
            default:
                collector.add(path: "$.args", line: nil, problem: "needs exactly one of \"config\" and \"patch\"",
                              expected: "{\"config\": {…}} (the whole file) or {\"patch\": {…}} (an RFC 7396 merge patch)")
                action = nil
            }
        }
        args.finish()
        if !collector.issues.isEmpty {
            throw CommandRejection(.invalidArguments, collector.issues.map(\.description).joined(separator: "; "))
        }
        if let meterProblem { throw meterProblem }
        guard let action else { throw CommandRejection(.invalidArguments, "incomplete arguments for \(verb.rawValue)") }
        return action
    }

    /// A time argument: an integer of milliseconds since the epoch, or an ISO 8601 string.
    private static func time(_ args: JSONObjectReader, _ key: String) -> Timestamp? {
        guard let m = args.member(key, required: true) else { return nil }
        if case .number(_, let text) = m.value, let ms = Int64(text) { return Timestamp(milliseconds: ms) }
        if let s = m.value.stringValue, let t = ISO8601.parse(s) { return t }
        args.collector.add(path: "$.args." + key, line: nil, problem: "not a time", value: m.value,
                           expected: "milliseconds since 1970 or ISO 8601, e.g. \"2026-11-01T00:00:00Z\"")
        return nil
    }
}
