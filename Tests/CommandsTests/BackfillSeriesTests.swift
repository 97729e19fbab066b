@testable import Commands
import ConcentratorCore
import Testing

/// Issue 10 §4e: `backfill`'s `series` is "`interval` and/or `profile`" (Docs/mqtt-api.md §11.4):
/// one series as a string is accepted as well as an array.
@Suite struct BackfillSeriesTests {
    static let context = CommandContext(meters: ["m-1": .init(bus: "bus1", hasRelay: false, hasClock: false)],
                                        buses: ["bus1"], series: [.interval, .profile])

    static func parse(_ series: JSONValue) throws(CommandRejection) -> CommandAction {
        try CommandAction.parse(verb: .backfill, arguments: json(("from", .string("2026-11-01")), ("to", .string("2026-11-02")),
                                                                 ("series", series)), context: context)
    }

    @Test func aStringNamesOneSeriesAndAnArrayStillWorks() throws {
        let from = ISO8601.parse("2026-11-01")!, to = ISO8601.parse("2026-11-02")!
        #expect(try Self.parse(.string("profile")) == .backfill(from: from, to: to, meters: ["m-1"], series: [.profile]))
        #expect(try Self.parse(.array([.string("interval"), .string("profile")]))
            == .backfill(from: from, to: to, meters: ["m-1"], series: [.interval, .profile]))
        do {
            _ = try Self.parse(.string("hourly"))
            Issue.record("an unknown series was accepted")
        } catch {
            #expect(error.code == .invalidArguments && error.message.contains("not a configured series"), "\(error)")
        }
    }
}
