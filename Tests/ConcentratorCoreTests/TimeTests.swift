import Testing
@testable import ConcentratorCore

@Suite struct TimeTests {
    @Test func isoRoundTrip() {
        let t = ISO8601.parse("2026-11-21T10:15:30Z")!
        #expect(t.seconds == 1_795_256_130)
        #expect(ISO8601.format(t) == "2026-11-21T10:15:30Z")
        #expect(ISO8601.parse("2026-11-21")!.seconds == 1_795_219_200)
        #expect(ISO8601.parse("2026-11-21T11:15:30+01:00") == t)
        #expect(ISO8601.parse("2026-13-01") == nil)
        #expect(ISO8601.format(Timestamp(milliseconds: -1)) == "1969-12-31T23:59:59.999Z")
    }

    @Test func hourlyBoundaries() {
        let hourly = IntervalSchedule(minutes: 60)
        let t = ISO8601.parse("2026-11-21T10:15:30Z")!
        #expect(hourly.start(containing: t) == ISO8601.parse("2026-11-21T10:00:00Z"))
        #expect(hourly.nextBoundary(after: t) == ISO8601.parse("2026-11-21T11:00:00Z"))
        let quarter = IntervalSchedule(minutes: 15)
        #expect(quarter.nextBoundary(after: ISO8601.parse("2026-11-21T10:15:00Z")!) == ISO8601.parse("2026-11-21T10:30:00Z"))
    }
}
