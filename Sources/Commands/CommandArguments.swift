import ConcentratorCore
import Wire

/// The `args` object of one command as its verb's file reads it (Docs/mqtt-api.md §11.4): typed
/// accessors that collect every problem (`invalid-arguments` lists them all) and the first meter
/// problem (`unknown-meter`, `not-supported`), checked against the configuration in force. Pure.
public final class CommandArguments {
    /// The configuration in force: meters, buses, series.
    public let context: CommandContext
    /// The members of `args`.
    public let object: JSONObjectReader
    /// The first problem with a named meter; reported after the argument problems.
    public var meterProblem: CommandRejection?

    init(object: JSONObjectReader, context: CommandContext) {
        self.object = object
        self.context = context
    }

    /// Records an argument problem (`invalid-arguments`).
    public func problem(at path: String, _ problem: String, value: JSONValue? = nil, expected: String? = nil) {
        object.collector.add(path: path, line: nil, problem: problem, value: value, expected: expected)
    }

    /// Meter ids from `key`, each configured (else `unknown-meter`) and passing `check`; duplicates dropped.
    public func meters(_ key: String, required: Bool, limit: Int = 64,
                       check: (MeterID, CommandContext.Meter) -> CommandRejection? = { _, _ in nil }) -> [MeterID]? {
        guard let items = object.array(key, required: required) else { return nil }
        if items.isEmpty || items.count > limit {
            problem(at: "$.args." + key, items.isEmpty ? "empty" : "too many meters",
                    value: .number(Double(items.count), text: String(items.count)), expected: "1–\(limit) meter ids")
        }
        var out: [MeterID] = []
        for item in items {
            guard let s = item.value.stringValue else {
                problem(at: item.path, "wrong type", value: item.value, expected: "a meter id")
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

    /// A duration in milliseconds from `key`, within `range`, or `value` when absent.
    public func milliseconds(_ key: String, default value: Int, in range: ClosedRange<Int>) -> Duration {
        .milliseconds(Int64(object.int(key, in: range) ?? value))
    }

    /// A required time: an integer of milliseconds since the epoch, or an ISO 8601 string.
    public func time(_ key: String) -> Timestamp? {
        guard let m = object.member(key, required: true) else { return nil }
        if case .number(_, let text) = m.value, let ms = Int64(text) { return Timestamp(milliseconds: ms) }
        if let s = m.value.stringValue, let t = ISO8601.parse(s) { return t }
        problem(at: "$.args." + key, "not a time", value: m.value,
                expected: "milliseconds since 1970 or ISO 8601, e.g. \"2026-11-01T00:00:00Z\"")
        return nil
    }
}

/// One verb of Docs/mqtt-api.md §11.4, in its own file under `Verbs/`: the least role that may send
/// it, how its arguments become a `CommandAction`, and (a `run` function beside) how it runs through
/// a `CommandDevice` and what its reply's result holds.
protocol CommandVerbHandler {
    /// The least role whose key may send the verb.
    static var minimumRole: CommandRole { get }
    /// Checks the arguments; nil when something is missing or wrong (recorded in `arguments`).
    static func parse(_ arguments: CommandArguments) -> CommandAction?
}

extension JSONValue {
    /// An object from a dictionary, members sorted by key (as the canonical form wants them anyway).
    public static func sortedObject(_ members: [String: JSONValue]) -> JSONValue {
        .object(members.sorted { $0.key < $1.key }.map { JSONMember(key: $0.key, value: $0.value) })
    }
}
