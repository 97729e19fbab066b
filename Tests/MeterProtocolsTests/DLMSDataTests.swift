import Testing
import ConcentratorCore
@testable import MeterProtocols

/// A-XDR `Data` (Green Book §9.5; Blue Book §4.1.5) against values captured in Gurux traces:
/// - [CO] the clock capture object `02 04 12 00 08 09 06 00 00 01 00 00 FF 0F 02 12 00 00` of every
///   range request in the traces quoted in DLMSHDLCTests ([SEL]);
/// - [SU] a scaler_unit `02 02 0F 00 16 1E` (scaler 0, unit 30 = Wh) from the same traces;
/// - [PB] the first entries of a load-profile block answer (GXDLMSDirector trace in a public test
///   program: `C4 02 8E 00 00 00 00 01 00 81 E3 01 19 02 02 09 0C 07 E4 04 0E 02 09 1E 00 FF 00 B4
///   00 15 00 00 00 00 00 00 31 D2 …`): array of 25 entries {date-time, long64-unsigned}.
@Suite struct DLMSDataCodecTests {
    static let vectors: [(String, DLMSData)] = [
        ("02 04 12 00 08 09 06 00 00 01 00 00 FF 0F 02 12 00 00", COSEMProfile.CaptureObject.clockTime.data), // [CO]
        ("02 02 0F 00 16 1E", COSEMScalerUnit(scaler: 0, unit: 30).data),                                  // [SU]
        ("00", .null),
        ("03 01", .boolean(true)),
        ("04 0A C0 40", .bitString(bitCount: 10, bytes: [0xC0, 0x40])),
        ("05 FF FF FF FE", .doubleLong(-2)),
        ("06 00 00 30 39", .doubleLongUnsigned(12345)),
        ("09 03 41 42 43", .octetString([0x41, 0x42, 0x43])),
        ("0A 02 68 69", .visibleString([0x68, 0x69])),
        ("0C 01 7A", .utf8String([0x7A])),
        ("0D 12", .bcd(0x12)),
        ("0F FD", .integer(-3)),
        ("10 FF 38", .long(-200)),
        ("11 07", .unsigned(7)),
        ("12 03 EF", .longUnsigned(1007)),
        ("14 FF FF FF FF FF FF FF FF", .long64(-1)),
        ("15 00 00 00 00 00 00 31 D2", .long64Unsigned(0x31D2)),                                          // [PB]
        ("16 04", .enumerated(4)),
        ("17 41 20 00 00", .float32(10)),
        ("18 40 24 00 00 00 00 00 00", .float64(10)),
        ("19 07 E4 04 0E 02 09 1E 00 FF 00 B4 00", .dateTime(bytes("07 E4 04 0E 02 09 1E 00 FF 00 B4 00"))),
        ("1A 07 E4 04 0E 02", .date(bytes("07 E4 04 0E 02"))),
        ("1B 09 1E 00 FF", .time(bytes("09 1E 00 FF"))),
        ("01 02 11 01 11 02", .array([.unsigned(1), .unsigned(2)])),
        ("13 01 00 03 11 03 01 02 03", .compactArray(.array(count: 3, .simple(17)), [.array([.unsigned(1), .unsigned(2), .unsigned(3)])])),
        ("13 02 02 11 12 06 01 00 02 02 00 03", .compactArray(.structure([.simple(17), .simple(18)]),
                                                              [.structure([.unsigned(1), .longUnsigned(2)]), .structure([.unsigned(2), .longUnsigned(3)])])),
        ("FF", .dontCare),
    ]

    @Test func decodesAndEncodesTheVectors() throws {
        for (hex, value) in Self.vectors {
            #expect(try DLMSDataCodec.decode(bytes(hex)) == value, "decode \(hex)")
            #expect(DLMSDataCodec.encode(value) == bytes(hex), "encode \(hex)")
        }
    }

    @Test func everyTruncationIsAnErrorNeverACrash() {
        for (hex, _) in Self.vectors {
            let full = bytes(hex)
            for n in 0..<full.count { #expect(throws: ByteFormatError.self) { try DLMSDataCodec.decode(Array(full.prefix(n))) } }
        }
    }

    @Test func longLengthsAndHostileCounts() throws {
        let long = [UInt8](repeating: 0x41, count: 300)
        let encoded = DLMSDataCodec.encode(.octetString(long))
        #expect(Array(encoded.prefix(4)) == [0x09, 0x82, 0x01, 0x2C])
        #expect(try DLMSDataCodec.decode(encoded) == .octetString(long))
        // An array claiming 2^31 elements, a string longer than the input, nesting past the limit.
        #expect(throws: ByteFormatError.self) { try DLMSDataCodec.decode(bytes("01 84 7F FF FF FF 00")) }
        #expect(throws: ByteFormatError.self) { try DLMSDataCodec.decode(bytes("09 10 00")) }
        #expect(throws: ByteFormatError.self) { try DLMSDataCodec.decode([UInt8](repeating: 0x01, count: 40) + [0x01, 0x00]) }
        #expect(throws: ByteFormatError.self) { try DLMSDataCodec.decode(bytes("07 00")) }                 // unknown tag
        #expect(throws: ByteFormatError.self) { try DLMSDataCodec.decode(bytes("13 01 FF FF 00 01 00")) }  // 65535 nulls per element
        #expect(throws: ByteFormatError.self) { try DLMSDataCodec.decode(bytes("13 01 00 03 11 02 01 02")) } // contents cut inside an element
        // Signed values with the top bit set (ByteReader must not trap on them).
        #expect(try DLMSDataCodec.decode(bytes("0F 80")) == .integer(-128))
    }

    @Test func profileBlockEntries() throws {
        // [PB]: the second and third entry of the captured block.
        let entries = bytes("02 02 09 0C 07 E4 04 0E 02 0A 00 00 FF 00 B4 00 15 00 00 00 00 00 00 31 EE 02 02 09 0C 07 E4 04 0E 02 0A 1E 00 FF 00 B4 00 15 00 00 00 00 00 00 32 07")
        var r = ByteReader(entries)
        let first = try DLMSDataCodec.decode(&r)
        let second = try DLMSDataCodec.decode(&r)
        #expect(r.isAtEnd)
        #expect(first.elements?[1] == .long64Unsigned(0x31EE))
        #expect(second.elements?[1] == .long64Unsigned(0x3207))
        // Deviation 0x00B4 = 180 minutes: UTC = local + 180 min under the Green Book's sign.
        let dtBytes = try #require(first.elements?[0].bytes)
        let dt = try #require(COSEMDateTime(bytes: dtBytes))
        #expect(dt.deviationMinutes == 180)
        #expect(dt.timestamp == ISO8601.parse("2020-04-14T13:00:00Z"))
    }
}

@Suite struct COSEMTypeTests {
    @Test func obisCodes() {
        #expect(COSEMLogicalName("1-0:1.8.0.255") == COSEMLogicalName(1, 0, 1, 8, 0, 255))
        #expect(COSEMLogicalName("1-0:1.8.0*255") == COSEMLogicalName(1, 0, 1, 8, 0, 255))
        #expect(COSEMLogicalName("1.0.1.8.0.255") == COSEMLogicalName(1, 0, 1, 8, 0, 255))
        #expect(COSEMLogicalName("1-0:1.8.0") == COSEMLogicalName(1, 0, 1, 8, 0, 255))
        #expect(COSEMLogicalName("1-0:1.8.256") == nil)
        #expect(COSEMLogicalName("1-0:1.8") == nil)
        #expect(COSEMLogicalName.clock.description == "0-0:1.0.0.255")
    }

    @Test func dateTimeBothWays() throws {
        // [SEL]: 2023-01-13 (a Friday, 5) 21:00:00, deviation not specified, status 00.
        let from = COSEMDateTime(try #require(ISO8601.parse("2023-01-13T21:00:00Z")), deviationMinutes: nil)
        #expect(from.bytes == bytes("07 E7 01 0D 05 15 00 00 00 80 00 00"))
        #expect(from.timestamp == ISO8601.parse("2023-01-13T21:00:00Z"))
        let cet = COSEMDateTime(try #require(ISO8601.parse("2024-02-29T11:30:15.250Z")), deviationMinutes: -60)
        #expect(cet.bytes == bytes("07 E8 02 1D 04 0C 1E 0F 19 FF C4 00"))
        #expect(cet.timestamp == ISO8601.parse("2024-02-29T11:30:15.250Z"))
        #expect(COSEMDateTime(bytes: bytes("FF FF 01 01 FF 00 00 00 FF 80 00 FF"))?.timestamp == nil) // wildcard year
        #expect(COSEMDateTime(bytes: bytes("07 E7 02 1E FF 00 00 00 FF 80 00 FF"))?.timestamp == nil) // 30 February
        #expect(COSEMDateTime(bytes: bytes("07 E7 02 01 FF 00 00 00 FF 80 00 01"))?.timestamp == nil) // invalid status
    }

    @Test func scalerUnitsBecomeCatalogValues() {
        let energy = DLMSReadPlan.value(quantity: "active_energy_import", data: .doubleLongUnsigned(12_345_678),
                                        scalerUnit: COSEMScalerUnit(scaler: 0, unit: 30))
        #expect(energy == QuantityValue(quantity: "active_energy_import", value: 12_345.678))
        let voltage = DLMSReadPlan.value(quantity: "voltage_l1", data: .longUnsigned(2301), scalerUnit: COSEMScalerUnit(scaler: -1, unit: 35))
        #expect(voltage == QuantityValue(quantity: "voltage_l1", value: 230.1))
        let power = DLMSReadPlan.value(quantity: "active_power_total", data: .doubleLong(-15), scalerUnit: COSEMScalerUnit(scaler: 2, unit: 27))
        #expect(power == QuantityValue(quantity: "active_power_total", value: -1500))
        // A unit that is not the quantity's, a string, a NaN: errors, never numbers.
        #expect(DLMSReadPlan.value(quantity: "voltage_l1", data: .longUnsigned(2301), scalerUnit: COSEMScalerUnit(scaler: -1, unit: 33)).error
                == .undecodableValue)
        #expect(DLMSReadPlan.value(quantity: "voltage_l1", data: .octetString([1]), scalerUnit: COSEMScalerUnit(scaler: 0, unit: 35)).error
                == .undecodableValue)
        #expect(DLMSReadPlan.value(quantity: "frequency", data: .float32(.nan), scalerUnit: COSEMScalerUnit(scaler: 0, unit: 44)).error
                == .undecodableValue)
    }
}
