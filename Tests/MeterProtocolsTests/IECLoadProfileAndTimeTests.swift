import Testing
import ConcentratorCore
@testable import MeterProtocols

/// P.01 answers and meter clock texts. Load profile vectors: captured P.01 answers of EMH and Metcom
/// meters in github.com/Runamook/iec_62056-21, test_parser.py (P01_data_1, _2, _3), and the header
/// of the LEM EM4TII+ Manual V1.0 §4.2.6.
@Suite struct IECLoadProfileAndTimeTests {
    static func block(_ text: String) throws(ByteFormatError) -> IECDataBlock { try IECDataBlock.parse(body: Array(text.utf8), readout: false) }

    static let emh = "P.01(1220823161500)(00000000)(15)(6)(1.5)(kW)(2.5)(kW)(5.5)(kvar)(6.5)(kvar)(7.5)(kvar)(8.5)(kvar)\r\n"
        + "(0.18374)(0.00078)(0.00000)(0.00006)(0.00087)(0.02431)\r\n(0.16832)(0.00000)(0.00000)(0.00000)(0.00000)(0.02686)"
    static let metcom = "P.01(1220823150000)(08)(15)(6)(1-0:1.5.0)(kW)(1-0:2.5.0)(kW)(1-0:5.5.0)(kvar)(1-0:6.5.0)(kvar)(1-0:7.5.0)(kvar)(1-0:8.5.0)(kvar)\r\n"
        + "(0.00000)(0.12683)(0.00000)(0.11411)(0.00000)(0.00000)\r\n(0.00028)(0.06188)(0.00059)(0.07409)(0.00000)(0.00000)\r\n"
        + "(0.00000)(0.11250)(0.00000)(0.11677)(0.00000)(0.00000)\r\n(0.00006)(0.04656)(0.00082)(0.09270)(0.00000)(0.00000)\r\n"
    static let emh2 = "P.01(1221005001500)(00000000)(15)(8)(1-1:1.29)(kWh)(1-1:2.29)(kWh)(1-1:5.29)(kvarh)(1-1:6.29)(kvarh)(1-1:7.29)(kvarh)(1-1:8.29)(kvarh)(1-2:1.29)(kWh)(1-3:2.29)(kWh)\r\n"
        + "(0.00000)(0.04088)(0.00000)(0.00358)(0.00000)(0.00000)(0.00000)(0.00000)\r\n(0.00000)(0.03964)(0.00000)(0.00350)(0.00000)(0.00000)(0.00000)(0.00000)\r\n"

    @Test func capturedEMHProfile() throws {
        let p = try IECLoadProfile.decode(Self.block(Self.emh))
        #expect(p.periodMinutes == 15)
        #expect(p.channels.map(\.code) == ["1.5", "2.5", "5.5", "6.5", "7.5", "8.5"])
        #expect(p.channels.map(\.unit) == ["kW", "kW", "kvar", "kvar", "kvar", "kvar"])
        #expect(p.entries.count == 2)
        // Season digit 1 (summer time), 2022-08-23 16:15:00; the next line 15 minutes later.
        #expect(p.entries[0].time == IECMeterTime(CivilDateTime(year: 2022, month: 8, day: 23, hour: 16, minute: 15)!, season: .summer))
        #expect(p.entries[1].time.civil == CivilDateTime(year: 2022, month: 8, day: 23, hour: 16, minute: 30)!)
        #expect(p.entries[0].values == [0.18374, 0.00078, 0, 0.00006, 0.00087, 0.02431])
        #expect(p.entries[1].status == "00000000")
    }

    @Test func capturedMetcomAndSecondEMHProfiles() throws {
        let m = try IECLoadProfile.decode(Self.block(Self.metcom))
        #expect(m.entries.count == 4 && m.entries[3].values[3] == 0.09270 && m.entries[0].status == "08")
        #expect(m.entries[3].time.civil == CivilDateTime(year: 2022, month: 8, day: 23, hour: 15, minute: 45)!)
        let e = try IECLoadProfile.decode(Self.block(Self.emh2))
        #expect(e.channels.count == 8 && e.entries.count == 2 && e.entries[1].values[1] == 0.03964)
        #expect(e.channels[6].code == "1-2:1.29")
    }

    @Test func aNewHeaderRestartsTheTimeAndTheStatus() throws {
        let text = "P.01(0260329003000)(00)(15)(1)(1.8.0)(kWh)\r\n(1.0)\r\n(1.5)\r\nP.01(0260329020000)(04)(15)(1)(1.8.0)(kWh)\r\n(2.0)\r\n"
        let p = try IECLoadProfile.decode(Self.block(text))
        #expect(p.entries.map(\.time.civil.hour) == [0, 0, 2])
        #expect(p.entries.map(\.status) == ["00", "00", "04"])
        #expect(p.entries.map { $0.values[0] } == [1.0, 1.5, 2.0])
    }

    @Test func malformedProfilesAreRejectedWithTheirLine() throws {
        let bad = [
            "(1.0)\r\n",                                                        // values before a header
            "P.01(1220823161500)(00)(15)(2)(1.5)(kW)(2.5)(kW)\r\n(1.0)\r\n",    // one value for two channels
            "P.01(12213231615)(00)(15)(1)(1.5)(kW)\r\n",                        // 11 digits: season + YYMMDDhhmm, month 13
            "P.01(1220823161500)(00)(0)(1)(1.5)(kW)\r\n",                       // period 0
            "P.01(1220823161500)(00)(15)(2)(1.5)(kW)\r\n",                      // count 2, one pair
            "P.01(1220823161500)(00)(15)(1)(X.5)(kW)\r\n",                      // not an OBIS code
            "P.02(1220823161500)(00)(15)(1)(1.5)(kW)\r\n",                      // another profile's header
            "P.01(1220823161500)(00)(15)(1)(1.5)(kW)\r\nP.01(1220823163000)(00)(15)(1)(2.5)(kW)\r\n", // channels changed
        ]
        for text in bad {
            #expect(throws: ByteFormatError.self, "\(text)") { try IECLoadProfile.decode(Self.block(text)) }
        }
        #expect(try IECLoadProfile.decode(Self.block("")).entries.isEmpty)
        // The error points at the offending line's offset in the body.
        do {
            _ = try IECLoadProfile.decode(Self.block("P.01(1220823161500)(00)(15)(1)(1.5)(kW)\r\n(1.0)\r\n(1.0)(2.0)\r\n"))
            Issue.record("accepted a line with two values")
        } catch {
            #expect(error.offset == 48)
        }
    }

    @Test func profileLinesEncodeAndDecodeBack() throws {
        let p = try IECLoadProfile.decode(Self.block(Self.emh))
        let lines = p.encodedLines(code: "P.01", status: "00000000", decimals: 5)
        let again = try IECLoadProfile.decode(Self.block(lines.joined(separator: "\r\n") + "\r\n"))
        #expect(again.entries == p.entries && again.channels == p.channels)
    }

    @Test func clockTextsInEveryFormat() throws {
        #expect(IECTimeText.parseTime("140253", .hhmmss)! == (14, 2, 53, nil))
        #expect(IECTimeText.parseTime("14:02:53", .colons)! == (14, 2, 53, nil))
        #expect(IECTimeText.parseTime("1140253", .seasonHHMMSS)! == (14, 2, 53, .summer))
        #expect(IECTimeText.parseTime("240000", .hhmmss) == nil && IECTimeText.parseTime("1402", .hhmmss) == nil)
        #expect(IECTimeText.parseDate("121221", .yymmdd)! == (2012, 12, 21, nil))
        #expect(IECTimeText.parseDate("13-07-22", .dashes)! == (2013, 7, 22, nil))
        #expect(IECTimeText.parseDate("0130103", .seasonYYMMDD)! == (2013, 1, 3, .standard))
        #expect(IECTimeText.parseDate("230229", .yymmdd) == nil, "no 29 February in 2023")
        // The LEM readout's clock: 0.9.1(140253), 0.9.2(121221).
        let t = try #require(IECTimeText.meterTime(time: "140253", .hhmmss, date: "121221", .yymmdd))
        #expect(t.civil.description == "2012-12-21 14:02:53")
        #expect(IECTimeText.formatTime(t, .colons) == "14:02:53" && IECTimeText.formatDate(t, .dashes) == "12-12-21")
        #expect(IECTimeText.formatTime(IECMeterTime(t.civil, season: .summer), .seasonHHMMSS) == "1140253")
        // The LEM P.01 range: "01301310800" = standard time, 2013-01-31 08:00.
        let from = IECMeterTime(CivilDateTime(year: 2013, month: 1, day: 31, hour: 8)!, season: .standard)
        #expect(IECTimeText.formatRangeBound(from, .seasonYYMMDDhhmm) == "01301310800")
        #expect(IECTimeText.formatRangeBound(from, .yymmddhhmm) == "1301310800")
        #expect(IECTimeText.formatRangeBound(from, .dashesComma) == "13-01-31,08:00")
        #expect(IECTimeText.parseStamp("01301310800") == from)
        #expect(IECTimeText.parseStamp("121015061841")?.civil.description == "2012-10-15 06:18:41")
        #expect(IECTimeText.parseStamp("24-07-13,13:00")?.civil.description == "2024-07-13 13:00:00")
        #expect(IECTimeText.parseStamp("91301310800") == nil && IECTimeText.parseStamp("1301") == nil && IECTimeText.parseStamp("########") == nil)
    }

    @Test func meterClockZonesWithEuropeanSummerTime() {
        let cet = IECMeterClockZone(standardOffsetMinutes: 60, summerTime: .europeanUnion)
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
        let before = Timestamp(seconds: CivilDateTime(year: 2026, month: 3, day: 29, hour: 0, minute: 59, second: 59)!.timestamp().seconds)
        let after = before.adding(seconds: 1)
        #expect(!cet.isSummer(at: before) && cet.isSummer(at: after))
        #expect(cet.meterTime(at: before) == IECMeterTime(CivilDateTime(year: 2026, month: 3, day: 29, hour: 1, minute: 59, second: 59)!, season: .standard))
        #expect(cet.meterTime(at: after) == IECMeterTime(CivilDateTime(year: 2026, month: 3, day: 29, hour: 3)!, season: .summer))
        let autumn = CivilDateTime(year: 2026, month: 10, day: 25, hour: 1)!.timestamp()
        #expect(cet.isSummer(at: autumn.adding(seconds: -1)) && !cet.isSummer(at: autumn))
        // Round trips through the season digit; without it summer time is assumed where it holds.
        for t in [before, after, autumn, autumn.adding(seconds: -1), Timestamp(seconds: 1_780_000_000)] {
            #expect(cet.timestamp(of: cet.meterTime(at: t)) == t)
        }
        let july = IECMeterTime(CivilDateTime(year: 2026, month: 7, day: 1, hour: 12)!)
        #expect(cet.timestamp(of: july) == CivilDateTime(year: 2026, month: 7, day: 1, hour: 10)!.timestamp())
        let january = IECMeterTime(CivilDateTime(year: 2026, month: 1, day: 1, hour: 12)!)
        #expect(cet.timestamp(of: january) == CivilDateTime(year: 2026, month: 1, day: 1, hour: 11)!.timestamp())
        #expect(IECMeterClockZone.utc.timestamp(of: IECMeterTime(july.civil, season: .utc)) == july.civil.timestamp())
    }

    @Test func civilDateTimes() {
        #expect(CivilDateTime(year: 2024, month: 2, day: 29) != nil && CivilDateTime(year: 2100, month: 2, day: 29) == nil)
        #expect(CivilDateTime(year: 2026, month: 13, day: 1) == nil && CivilDateTime(year: 2026, month: 1, day: 1, hour: 24) == nil)
        #expect(CivilDateTime(Timestamp(seconds: 0)).description == "1970-01-01 00:00:00")
        #expect(CivilDateTime(Timestamp(seconds: -1)).description == "1969-12-31 23:59:59")
        #expect(CivilDateTime(Timestamp(seconds: 0), offsetMinutes: 90).description == "1970-01-01 01:30:00")
        #expect(CivilDateTime(year: 2026, month: 12, day: 2)!.weekday == 3, "a Wednesday")
        #expect(CivilDateTime(year: 1970, month: 1, day: 1)!.weekday == 4, "a Thursday")
    }
}
