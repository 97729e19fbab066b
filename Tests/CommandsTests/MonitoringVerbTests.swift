import Archive
@testable import Commands
import ConcentratorCore
import Foundation
import Platform
import Testing
import TestSupport
import Wire

/// The edge-monitoring verbs (`alarm.ack`, `schedule.set`, `schedule.get`): operator role, arguments
/// read by the configuration loader's code, refusals with their codes. Their effect on a running agent
/// is checked end to end (AlarmEndToEndTests).
@Suite struct MonitoringVerbTests {
    static let context = CommandContext(meters: ["m-1": .init(bus: "bus1", hasRelay: true, hasClock: true)], buses: ["bus1"],
                                        series: [.interval], outputs: ["street"])

    @Test func theyNeedTheOperatorRole() throws {
        #expect(CommandVerb.alarmAck.minimumRole == .operator && CommandVerb.scheduleSet.minimumRole == .operator
                && CommandVerb.scheduleGet.minimumRole == .operator)
        let h = try CommandHarness()
        let args = json(("rule", .string("overvoltage")), ("meter", .string("m-1")))
        let refused = try h.reply(h.processor.process(h.envelope("alarm.ack", args).signed(by: h.reader)))
        #expect(refused.code == CommandReplyCode.roleTooLow.rawValue)
        let accepted = try h.reply(h.processor.process(h.envelope("alarm.ack", args).signed(by: h.operatorKey)))
        #expect(accepted.code == CommandReplyCode.ok.rawValue)
        #expect(h.executor.ran == [.alarmAck(rule: "overvoltage", meter: "m-1")])
        #expect(try h.audit().map(\.verb).suffix(2) == ["alarm.ack", "alarm.ack"])
    }

    @Test func argumentsAreReadLikeTheConfiguration() throws {
        #expect(try CommandAction.parse(verb: .alarmAck, arguments: json(("rule", .string("overvoltage")), ("meter", .string("m-1"))),
                                        context: Self.context) == .alarmAck(rule: "overvoltage", meter: "m-1"))
        #expect(try CommandAction.parse(verb: .scheduleGet, arguments: json(), context: Self.context) == .scheduleGet(output: nil))
        let override = json(("output", .string("street")), ("state", .string("on")), ("until", .string("2026-06-02T06:00:00Z")))
        let set = try CommandAction.parse(verb: .scheduleSet, arguments: json(("override", override)), context: Self.context)
        #expect(set == .scheduleSet(.override(OutputOverride(output: "street", state: .on, until: ISO8601.parse("2026-06-02T06:00:00Z")!)),
                                    arguments: json(("override", override))))
        let window = json(("from", .string("22:00")), ("to", .string("06:30")))
        let schedule = json(("id", .string("night")), ("output", .string("street")), ("windows", .array([window])))
        guard case .scheduleSet(.schedule(let s), _) = try CommandAction.parse(verb: .scheduleSet, arguments: json(("schedule", schedule)),
                                                                                context: Self.context) else {
            Issue.record("schedule not read")
            return
        }
        #expect(s.id == "night" && s.output == "street" && s.windows.count == 1)
        let remove = try CommandAction.parse(verb: .scheduleSet, arguments: json(("remove", json(("output", .string("street")), ("what", .string("timers"))))),
                                             context: Self.context)
        #expect(remove == .scheduleSet(.remove(output: "street", what: .timers), arguments: json(("remove", json(("output", .string("street")), ("what", .string("timers")))))))

        let bad: [(CommandVerb, JSONValue, CommandReplyCode, String)] = [
            (.alarmAck, json(("rule", .string("overvoltage"))), .invalidArguments, "$.args.meter"),
            (.alarmAck, json(("rule", .string("overvoltage")), ("meter", .string("m-9"))), .unknownMeter, "m-9"),
            (.scheduleGet, json(("output", .string("park"))), .invalidArguments, "unknown output"),
            (.scheduleSet, json(), .invalidArguments, "nothing to change"),
            (.scheduleSet, json(("override", override), ("timer", json())), .invalidArguments, "more than one change"),
            (.scheduleSet, json(("override", json(("output", .string("park")), ("state", .string("on")), ("until", .string("2026-06-02T06:00:00Z"))))),
             .invalidArguments, "park"),
            (.scheduleSet, json(("override", json(("output", .string("street")), ("state", .string("dim")), ("until", .string("2026-06-02T06:00:00Z"))))),
             .invalidArguments, "state"),
            (.scheduleSet, json(("timer", json(("id", .string("t1")), ("output", .string("street")), ("start", .string("2026-06-02T06:00:00Z")),
                                               ("end", .string("2026-06-02T05:00:00Z"))))), .invalidArguments, "ends before it starts"),
        ]
        for (verb, args, code, words) in bad {
            do {
                _ = try CommandAction.parse(verb: verb, arguments: args, context: Self.context)
                Issue.record("\(verb) \(JSONWriter.render(args, pretty: false)) accepted")
            } catch {
                #expect(error.code == code && error.message.contains(words), "\(verb): \(error)")
            }
        }
    }
}
