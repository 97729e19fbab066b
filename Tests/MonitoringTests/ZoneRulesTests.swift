import ConcentratorCore
import Platform
import Testing
@testable import Monitoring

/// Zone rules read from the system's TZif files (RFC 8536) and from POSIX TZ strings.
/// Expected transitions: EU Directive 2000/84/EC (summer time from 01:00 UTC on the last Sunday of
/// March to 01:00 UTC on the last Sunday of October): 2026-03-29T01:00Z and 2026-10-25T01:00Z.
@Suite struct ZoneRulesTests {
    static func zone(_ name: String) throws -> ZoneRules {
        try ZoneRules(tzif: try ZoneInfoFiles.read(zone: name), name: name)
    }

    static func t(_ s: String) -> Timestamp { ISO8601.parse(s)! }

    @Test func romeTransitionsIn2026() throws {
        let rome = try Self.zone("Europe/Rome")
        #expect(rome.utcOffsetSeconds(at: Self.t("2026-03-29T00:59:59Z")) == 3600)
        #expect(rome.utcOffsetSeconds(at: Self.t("2026-03-29T01:00:00Z")) == 7200)
        #expect(rome.localTimeType(at: Self.t("2026-03-29T01:00:00Z")).abbreviation == "CEST")
        #expect(rome.utcOffsetSeconds(at: Self.t("2026-10-25T00:59:59Z")) == 7200)
        #expect(rome.utcOffsetSeconds(at: Self.t("2026-10-25T01:00:00Z")) == 3600)
        #expect(rome.nextTransition(after: Self.t("2026-01-01T00:00:00Z")) == Self.t("2026-03-29T01:00:00Z"))
        #expect(rome.nextTransition(after: Self.t("2026-03-29T01:00:00Z")) == Self.t("2026-10-25T01:00:00Z"))
        #expect(rome.localDateTime(at: Self.t("2026-03-29T01:00:00Z")).description == "2026-03-29T03:00")
        #expect(rome.localDateTime(at: Self.t("2026-10-25T00:30:00Z")).description == "2026-10-25T02:30")
        #expect(rome.localDateTime(at: Self.t("2026-10-25T01:30:00Z")).description == "2026-10-25T02:30")
    }

    /// Beyond the file's table (it ends in 2037) the footer `CET-1CEST,M3.5.0,M10.5.0/3` decides:
    /// the last Sundays of March and October 2040 are the 25th and the 28th.
    @Test func footerRuleBeyondTheTable() throws {
        let rome = try Self.zone("Europe/Rome")
        #expect(rome.nextTransition(after: Self.t("2040-01-01T00:00:00Z")) == Self.t("2040-03-25T01:00:00Z"))
        #expect(rome.nextTransition(after: Self.t("2040-03-25T01:00:00Z")) == Self.t("2040-10-28T01:00:00Z"))
        #expect(rome.utcOffsetSeconds(at: Self.t("2040-07-01T12:00:00Z")) == 7200)
        #expect(rome.utcOffsetSeconds(at: Self.t("2040-12-01T12:00:00Z")) == 3600)
    }

    @Test func posixRuleAloneGivesTheSameTransitions() throws {
        let rule = try POSIXTimeZoneRule("CET-1CEST,M3.5.0,M10.5.0/3")
        let zone = ZoneRules(name: "rule", rule: rule)
        #expect(zone.nextTransition(after: Self.t("2026-01-01T00:00:00Z")) == Self.t("2026-03-29T01:00:00Z"))
        #expect(zone.nextTransition(after: Self.t("2026-04-01T00:00:00Z")) == Self.t("2026-10-25T01:00:00Z"))
        // Southern hemisphere: Sydney, DST from the first Sunday of October to the first Sunday of April
        // (AEST-10AEDT,M10.1.0,M4.1.0/3): 2026-04-05 03:00 AEDT = 2026-04-04T16:00Z; 2026-10-04 02:00 AEST = 2026-10-03T16:00Z.
        let sydney = ZoneRules(name: "Sydney", rule: try POSIXTimeZoneRule("AEST-10AEDT,M10.1.0,M4.1.0/3"))
        #expect(sydney.utcOffsetSeconds(at: Self.t("2026-01-15T00:00:00Z")) == 39_600)
        #expect(sydney.nextTransition(after: Self.t("2026-01-01T00:00:00Z")) == Self.t("2026-04-04T16:00:00Z"))
        #expect(sydney.nextTransition(after: Self.t("2026-04-05T00:00:00Z")) == Self.t("2026-10-03T16:00:00Z"))
        let sydneyFile = try Self.zone("Australia/Sydney")
        #expect(sydneyFile.nextTransition(after: Self.t("2026-01-01T00:00:00Z")) == Self.t("2026-04-04T16:00:00Z"))
        // Quoted names and no DST.
        let utcPlus3 = ZoneRules(name: "x", rule: try POSIXTimeZoneRule("<+03>-3"))
        #expect(utcPlus3.utcOffsetSeconds(at: Self.t("2026-06-01T00:00:00Z")) == 10_800)
        #expect(utcPlus3.nextTransition(after: Self.t("2026-06-01T00:00:00Z")) == nil)
    }

    @Test func badPOSIXStringsAreRefused() {
        for text in ["", "C-1", "CET", "CET-1CEST", "CET-1CEST,M13.5.0,M10.5.0", "CET-1CEST,M3.5.0", "CET-1CEST,M3.5.0,M10.5.0/x",
                     "<+03-3", "CET-1CEST,J366,J100"] {
            #expect(throws: TimeZoneRulesError.self, "\(text)") { _ = try POSIXTimeZoneRule(text) }
        }
    }

    /// Wall-clock times the spring change skips move forward by the gap; repeated autumn times give
    /// the first (summer-time) occurrence.
    @Test func localTimesAcrossBothChanges() throws {
        let rome = try Self.zone("Europe/Rome")
        let spring = LocalDate(year: 2026, month: 3, day: 29)!, autumn = LocalDate(year: 2026, month: 10, day: 25)!
        #expect(rome.instant(for: LocalDateTime(date: spring, time: TimeOfDay("01:30")!)) == Self.t("2026-03-29T00:30:00Z"))
        #expect(rome.instant(for: LocalDateTime(date: spring, time: TimeOfDay("02:30")!)) == Self.t("2026-03-29T01:30:00Z"))
        #expect(rome.instant(for: LocalDateTime(date: spring, time: TimeOfDay("03:00")!)) == Self.t("2026-03-29T01:00:00Z"))
        #expect(rome.instant(for: LocalDateTime(date: autumn, time: TimeOfDay("02:30")!)) == Self.t("2026-10-25T00:30:00Z"))
        #expect(rome.instant(for: LocalDateTime(date: autumn, time: TimeOfDay("03:00")!)) == Self.t("2026-10-25T02:00:00Z"))
        #expect(rome.startOfDay(spring) == Self.t("2026-03-28T23:00:00Z"))
        #expect(rome.startOfDay(autumn.adding(days: 1)) == Self.t("2026-10-25T23:00:00Z"))
        // Every wall-clock minute of both days round-trips, except the skipped hour.
        for day in [spring, autumn] {
            for minute in stride(from: 0, to: 1440, by: 5) {
                let local = LocalDateTime(date: day, secondsOfDay: minute * 60)
                let back = rome.localDateTime(at: rome.instant(for: local))
                if day == spring, (120..<180).contains(minute) {
                    #expect(back.secondsOfDay == (minute + 60) * 60)
                } else {
                    #expect(back == local, "\(local)")
                }
            }
        }
    }

    @Test func otherZonesLoad() throws {
        for name in ["Atlantic/Reykjavik", "Europe/Oslo", "America/Los_Angeles", "UTC", "Etc/GMT-1"] {
            let zone = try Self.zone(name)
            #expect(zone.name == name)
        }
        #expect(try Self.zone("Atlantic/Reykjavik").utcOffsetSeconds(at: Self.t("2026-06-01T00:00:00Z")) == 0)
        #expect(try Self.zone("America/Los_Angeles").utcOffsetSeconds(at: Self.t("2026-06-01T00:00:00Z")) == -25_200)
        // 2026-03-08 02:00 PST (second Sunday of March) = 10:00Z.
        #expect(try Self.zone("America/Los_Angeles").nextTransition(after: Self.t("2026-01-01T00:00:00Z")) == Self.t("2026-03-08T10:00:00Z"))
    }

    @Test func zoneNamesAreChecked() {
        #expect(throws: ZoneInfoFiles.Failure.self) { _ = try ZoneInfoFiles.read(zone: "../etc/passwd") }
        #expect(throws: ZoneInfoFiles.Failure.self) { _ = try ZoneInfoFiles.read(zone: "/etc/passwd") }
        #expect(throws: ZoneInfoFiles.Failure.self) { _ = try ZoneInfoFiles.read(zone: "Europe/Atlantis") }
        #expect(ZoneInfoFiles.isValidName("America/Argentina/Buenos_Aires"))
        #expect(!ZoneInfoFiles.isValidName("Europe//Rome"))
    }

    /// Every truncation of a real file is refused with an error (never a crash, never a half zone).
    @Test func truncatedFilesAreRefused() throws {
        let bytes = try ZoneInfoFiles.read(zone: "Europe/Rome")
        for length in 0..<bytes.count {
            #expect(throws: TimeZoneRulesError.self, "length \(length)") {
                _ = try ZoneRules(tzif: Array(bytes[0..<length]), name: "cut")
            }
        }
        #expect(throws: Never.self) { _ = try ZoneRules(tzif: bytes, name: "whole") }
    }

    /// Broken fields are named: bad magic, a type index beyond typecnt, descending transitions.
    @Test func corruptFilesAreRefused() throws {
        let bytes = try ZoneInfoFiles.read(zone: "Europe/Rome")
        var magic = bytes
        magic[0] = UInt8(ascii: "X")
        #expect(throws: TimeZoneRulesError.self) { _ = try ZoneRules(tzif: magic, name: "m") }
        // A minimal v1 file: one transition to type 1 of typecnt 1.
        var v1: [UInt8] = Array("TZif".utf8) + [0] + [UInt8](repeating: 0, count: 15)
        for c in [0, 0, 0, 1, 1, 4] as [UInt32] { v1 += [UInt8(c >> 24), UInt8(c >> 16 & 0xFF), UInt8(c >> 8 & 0xFF), UInt8(c & 0xFF)] }
        let good = v1 + [0, 0, 0, 0] + [0] + [0, 0, 0x0E, 0x10, 0, 0] + Array("CET\0".utf8)
        let zone = try ZoneRules(tzif: good, name: "v1")
        #expect(zone.utcOffsetSeconds(at: Self.t("2026-01-01T00:00:00Z")) == 3600)
        var badIndex = good
        badIndex[48] = 1
        #expect(throws: TimeZoneRulesError.self) { _ = try ZoneRules(tzif: badIndex, name: "i") }
    }

    /// Found by scripts/fuzz.sh zone: a TZif v2 file whose only transition lies past what a Timestamp
    /// (milliseconds in an Int64) holds trapped on overflow in nextTransition. It is no transition.
    @Test func aTransitionBeyondTimestampRangeIsNoTransition() throws {
        func header(timecnt: UInt32, typecnt: UInt32, charcnt: UInt32) -> [UInt8] {
            var h = Array("TZif2".utf8) + [UInt8](repeating: 0, count: 15)
            for c in [0, 0, 0, timecnt, typecnt, charcnt] as [UInt32] {
                h += [UInt8(c >> 24), UInt8(c >> 16 & 0xFF), UInt8(c >> 8 & 0xFF), UInt8(c & 0xFF)]
            }
            return h
        }
        // v1 block: one type (UTC, "UTC\0"); v2 block: one transition at 2^62 s to a +01:00 type.
        let v1 = header(timecnt: 0, typecnt: 1, charcnt: 4) + [0, 0, 0, 0, 0, 0] + Array("UTC\0".utf8)
        let v2 = header(timecnt: 1, typecnt: 2, charcnt: 4)
            + [0x40, 0, 0, 0, 0, 0, 0, 0] + [1]
            + [0, 0, 0, 0, 0, 0] + [0, 0, 0x0E, 0x10, 0, 0] + Array("UTC\0".utf8) + Array("\n\n".utf8)
        let zone = try ZoneRules(tzif: v1 + v2, name: "far")
        #expect(zone.utcOffsetSeconds(at: Self.t("2026-01-01T00:00:00Z")) == 0)
        #expect(zone.nextTransition(after: Self.t("2026-01-01T00:00:00Z")) == nil)
    }
}
