import Testing
import ConcentratorCore
@testable import MeterProtocols

/// EN 13757-3 application layer: data records, VIF tables, data types, the transport header.
@Suite struct MBusRecordTests {
    static func records(_ hex: String) throws -> [MBusDataRecord] { try MBusRecordDecoder.decode(Hex.decode(hex)!).records }

    /// OMS Vol.2 Annex N, N.2.2: the three records of the gas meter (volume 28504.27 m3 in BCD,
    /// 2008-05-31 23:50 as type F, no error flags).
    @Test func annexN22Records() throws {
        let r = try Self.records("0C1427048502046D32371F1502FD170000")
        #expect(r.count == 3)
        #expect(r[0].description.kind == .volume && r[0].description.unit == .cubicMetre)
        #expect(r[0].value == .bcd(2_850_427))
        #expect(abs((r[0].scaledValue ?? 0) - 28504.27) < 1e-9)
        #expect(r[1].description.kind == .dateTime)
        #expect(r[1].value == .dateTime(MBusDateTime(year: 2008, month: 5, day: 31, hour: 23, minute: 50)))
        #expect(r[2].description.kind == .errorFlags && r[2].value == .flags(0))
        #expect(r.allSatisfy { $0.storage == 0 && $0.tariff == 0 && $0.subunit == 0 && $0.function == .instantaneous })
    }

    /// wmbusmeters src/driver_hydrus.cc test HydrusVater 65656565 (decrypted application data):
    /// 2F fillers, BCD litres (3.45 m3), a reversed LVAR text (customer "A20B410178"), the OMS
    /// remaining-battery record FD 74 (5596 days), storage 3 date-time 2020-09-13 23:59 and volume 3.431 m3.
    @Test func hydrusRecordsWithTextStorageAndFiller() throws {
        let r = try Self.records("2F2F0C13503400000DFD110A383731303134423032410B3B00000002FD74DC15C4016D3B178D29CC0113313400002F2F")
        #expect(r.count == 6)
        #expect(abs((r[0].scaledValue ?? 0) - 3.45) < 1e-9)
        #expect(r[1].description.kind == .customer && r[1].value == .text("A20B410178"))
        #expect(r[2].description.kind == .volumeFlow && r[2].value == .bcd(0))
        #expect(r[3].description.kind == .remainingBatteryLife && r[3].value == .integer(5596))
        #expect(abs((r[3].scaledValue ?? 0) - 5596.0 * 86400) < 1e-6)
        #expect(r[4].storage == 3 && r[4].value == .dateTime(MBusDateTime(year: 2020, month: 9, day: 13, hour: 23, minute: 59)))
        #expect(r[5].storage == 3 && abs((r[5].scaledValue ?? 0) - 3.431) < 1e-9)
    }

    /// wmbusmeters src/driver_qcaloric.cc test MyElement: BCD HCA units, storage 1 and storage 17
    /// (DIF CB with DIFE 08), date type G (2018-12-31, 2019-01-31), an error-state date FFFF.
    @Test func qundisStorageNumbersAndDates() throws {
        let r = try Self.records("0b6e2701004b6e450100426c5f2ccb086e790000c2086c7f21326cffff046d200b7422")
        #expect(r.map(\.storage) == [0, 1, 1, 17, 17, 0, 0])
        #expect(r[0].description.kind == .hcaUnits && r[0].value == .bcd(127))
        #expect(r[2].value == .dateTime(MBusDateTime(year: 2018, month: 12, day: 31)))
        #expect(r[3].value == .bcd(79))
        #expect(r[4].value == .dateTime(MBusDateTime(year: 2019, month: 1, day: 31)))
        #expect(r[5].function == .error)
        if case .dateTime(let d) = r[5].value { #expect(d.isInvalid) } else { Issue.record("FFFF is a date") }
        #expect(r[6].value == .dateTime(MBusDateTime(year: 2019, month: 2, day: 20, hour: 11, minute: 32)))
    }

    /// wmbusmeters src/driver_kamheat.cc test Kamstrup_MC603_mbus: the 0xFB table (0.1 MWh),
    /// subunits from the DIFE's bit 6 (C4 40: subunit 1; C4 80 40: subunit 2), a maximum (DIF 14),
    /// a value during error (34), the fabrication number in BCD (0C 78) and Kamstrup's FF records.
    @Test func multical603ExtensionTablesAndSubunits() throws {
        let data = Array(try MBusFrame.decode(Hex.decode("68c9c96808e672323232322d2c35041900000004fB006083000004ff074006010004ff08299400000416984e010084401400000000848040140000000004225043000034221c0000000259c91f025d4f1102617a0e042e30020000142e65030000043c24050000143ce308000004ff2200000000046d2e2B0f3144fB00007d000044ff07Bdf9000044ff08308d00004416B73f0100c4401400000000c480401400000000542ed9020000543ce8090000426c013102ff1a011B0c783032858404ff16e5841e0004ff17c1d5B400a516")!).encode()[19..<(0xC9 + 4)])
        let r = try MBusRecordDecoder.decode(data).records
        #expect(r[0].description.kind == .energy && r[0].scaledValue == 33632 * 1e5)
        #expect(r[1].vib == [0xFF, 0x07] && r[1].description.kind == .manufacturerSpecific)
        #expect(r[4].subunit == 1 && r[5].subunit == 2)
        #expect(r[7].function == .error && r[7].description.kind == .onTime)
        let fabrication = try #require(r.first { $0.description.kind == .fabricationNumber })
        #expect(fabrication.value == .bcd(84_853_230))
        let storage1 = r.filter { $0.storage == 1 }.map(\.description.kind)
        #expect(storage1.contains(.energy) && storage1.contains(.volume) && storage1.contains(.date))
        #expect(r.filter { $0.function == .maximum }.count == 4)
    }

    /// wmbusmeters src/driver_sontex868.cc test MyHeatCoster: a real32 (05 FF 2D = 1.0), a tariff
    /// (DIFE 20 → tariff 2), a VIFE error code (EE 1E), two DIFEs (storage 48), FD codes.
    @Test func sontexRealTariffAndVIFEErrorCode() throws {
        let hex = "046D040A9F2A036E770000426CE1F7436E660000525900008288016C61258388016E0000008D8801EE1E3533FE00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000005FF2D0000803F8520FF2D0000803F0259AD0A0265D8041259AD0A8310FD3100000082106C01018110FD610082206C9F2A0BFD0F01030102FF2C000002FD66AC08"
        let r = try Self.records(hex)
        let real = try #require(r.first { $0.dataField == 5 && $0.tariff == 0 })
        #expect(real.value == .real(1.0) && real.vib == [0xFF, 0x2D])
        #expect(r.contains { $0.dataField == 5 && $0.tariff == 2 })
        let variable = try #require(r.first { $0.dataField == 0x0D })
        #expect(variable.storage == 48 && variable.description.recordError == 0x1E && !variable.description.isPlain)
        #expect(r.contains { $0.description.kind == .softwareVersion && $0.value == .bcd(10301) })
        #expect(r.contains { $0.description.kind == .tariffPeriod && $0.tariff == 1 })
        #expect(r.contains { $0.description.kind == .cumulationCounter })
    }

    /// EN 13757-3 annex A, constructed per the definitions: negative BCD (top nibble F), binary
    /// integers of 1–8 bytes (signed), date type I and time type J, variable length BCD and
    /// binary, a plain-text VIF, manufacturer data after 0F and "more records follow" (1F).
    @Test func dataTypesOfAnnexA() throws {
        let r = try Self.records("0A5A23F1" + "015A80" + "075A0100000000000080" + "066D050A171F1508" + "036D0A1E0C"
                                 + "0DFD0EC23412" + "0DFD0ED21234" + "0D78E3010203" + "027C03684B57E803")
        #expect(r[0].value == .bcd(-123) && abs((r[0].scaledValue ?? 0) + 12.3) < 1e-9)
        #expect(r[1].value == .integer(-128))
        #expect(r[2].value == .integer(Int64.min + 1))
        #expect(r[3].value == .dateTime(MBusDateTime(year: 2008, month: 5, day: 31, hour: 23, minute: 10, second: 5)))
        #expect(r[4].value == .dateTime(MBusDateTime(hour: 12, minute: 30, second: 10)))
        #expect(r[5].value == .bcd(1234) && r[5].description.kind == .firmwareVersion)
        #expect(r[6].value == .bcd(-3412))
        #expect(r[7].value == .integer(0x030201) && r[7].description.kind == .fabricationNumber)
        #expect(r[8].description.plainTextUnit == "WKh" && r[8].value == .integer(1000))
        let tail = try MBusRecordDecoder.decode(Hex.decode("0C1327048502" + "1F" + "AABB")!)
        #expect(tail.records.count == 1 && tail.moreRecordsFollow && tail.manufacturerData == [0xAA, 0xBB])
        let specific = try MBusRecordDecoder.decode(Hex.decode("0F01020304")!)
        #expect(specific.records.isEmpty && !specific.moreRecordsFollow && specific.manufacturerData == [1, 2, 3, 4])
        #expect(throws: ByteFormatError.self) { try MBusRecordDecoder.decode([0x3F]) }
        #expect(throws: ByteFormatError.self) { try MBusRecordDecoder.decode(Hex.decode("0DFD0EF8")!) }
        #expect(throws: ByteFormatError.self) { try MBusRecordDecoder.decode([0x84] + [UInt8](repeating: 0x80, count: 11) + [0x00, 0x13, 0, 0, 0, 0]) }
    }

    /// Cut anywhere, the records either fail with an offset or are a prefix of the whole decode.
    @Test func everyTruncationIsAnErrorOrAPrefix() throws {
        let hex = "2F2F0C13503400000DFD110A383731303134423032410B3B00000002FD74DC15C4016D3B178D29CC0113313400002F2F"
        let bytes = Hex.decode(hex)!
        let full = try MBusRecordDecoder.decode(bytes).records
        for cut in 0..<bytes.count {
            do {
                let part = try MBusRecordDecoder.decode(Array(bytes.prefix(cut))).records
                #expect(part.count < full.count || cut >= bytes.count - 2, "cut \(cut)")
                #expect(Array(full.prefix(part.count)) == part)
            } catch {
                #expect(error.offset <= cut)
            }
        }
    }

    /// The status byte (EN 13757-3 table 6): wmbusmeters reports the Qundis telegram with status
    /// 04 (src/driver_qcaloric.cc test HCA2) as POWER_LOW.
    @Test func statusAndConfigurationFields() throws {
        let header = try MBusTransportHeader.parse(Hex.decode("7A90040000")!, at: 0)
        #expect(header.kind == .short && header.accessNumber == 0x90)
        #expect(header.status?.powerLow == true && header.status?.description == "power-low")
        #expect(MBusStatus(raw: 0x19).description == "application-busy permanent-error temporary-error")
        #expect(MBusStatus(raw: 0x02).application == .error)
        // OMS Annex N N.2.1: configuration 0x2520 = mode 5, 2 encrypted blocks, synchronous.
        let c = MBusConfigurationField(raw: 0x2520)
        #expect(c.securityMode == 5 && c.encryptedBlocks == 2 && c.synchronous && !c.bidirectional)
        let long = try MBusTransportHeader.parse(Hex.decode("7278563412931533032A000000")!, at: 0)
        #expect(long.identity == MBusIdentity(number: 0x1234_5678, manufacturer: MBusManufacturer.code("ELS")!, version: 0x33, medium: 3))
        #expect(long.length == 13)
        #expect(throws: ByteFormatError.self) { try MBusTransportHeader.parse([0x72, 0x78, 0x56], at: 0) }
    }
}
