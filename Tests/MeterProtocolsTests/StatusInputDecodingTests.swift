import Foundation
import Testing
import ConcentratorCore
import TestSupport
@testable import MeterProtocols

/// The alarm-rule status inputs of DLMS and IEC 62056-21 meters (issue 14 §1): the DLMS alarm
/// register's value and an IEC readout's error-code line, decoded to a raw bit field, then to the
/// profile's named flags (MeterStatusInputs.swift).
@Suite struct StatusInputDecodingTests {
    /// DLMS UA Blue Book (DLMS UA 1000-1), "Alarm register" objects 0-0:97.98.0.255 … : a data
    /// object whose value is double-long-unsigned (A-XDR tag 06, four bytes big-endian); Green Book
    /// A-XDR: bit-string tag 04, a length in bits, the first bit the most significant of the first byte.
    @Test func alarmRegisterValuesDecodeToBits() throws {
        func bits(_ hex: String) throws -> UInt64? {
            DLMSOperations.alarmBits(from: .data(try DLMSDataCodec.decode(Hex.decode(hex.replacingOccurrences(of: " ", with: ""))!)))
        }
        #expect(try bits("06 00 00 00 00") == 0)
        #expect(try bits("06 00 00 01 05") == 0x105)
        #expect(try bits("06 80 00 00 00") == 0x8000_0000)
        #expect(try bits("12 00 09") == 9)
        // 16 bits: 1010 0000 0000 0001 → bits 0, 2 and 15.
        #expect(try bits("04 10 A0 01") == 0b1000_0000_0000_0101)
        // Not a bit field: a signed value, a refusal (data-access-result 4, object undefined).
        #expect(try bits("05 00 00 00 01") == nil)
        #expect(DLMSOperations.alarmBits(from: .accessFailure(4)) == nil)
        // Each decoder input truncated at every length is refused by the A-XDR codec, never misread.
        let whole = Hex.decode("0600000105")!
        for n in 0..<whole.count { #expect((try? DLMSDataCodec.decode(Array(whole.prefix(n)))) == nil, "cut at \(n)") }
        // The operation reads attribute 2 of a class 1 object.
        #expect(DLMSOperations.readAlarmRegister(COSEMLogicalName(DLMSAlarmRegisterSpec.alarmRegister1))
                == [.get(COSEMAttribute(classID: 1, logicalName: COSEMLogicalName(0, 0, 97, 98, 0, 255), attribute: 2))])
        let spec = DLMSAlarmRegisterSpec(bits: [.init(name: "cover_open", bit: 0), .init(name: "tamper", bit: 2), .init(name: "power_fail", bit: 8)])
        #expect(spec.bits.flags(fromRaw: 0x105) == ["cover_open": true, "tamper": true, "power_fail": true])
        #expect(spec.bits.flags(fromRaw: 0x4) == ["cover_open": false, "tamper": true, "power_fail": false])
    }

    /// The error-code lines of the shipped IEC profiles' captured readouts: the ME162's `F.F(0000000)`
    /// (github.com/wdoekes/pe32me162ir_pub example.log) and the LEM EM4T II's `0-0:F.F.0*255(00000000)`
    /// (LEM EM4TII+ manual, 2020, §4.2 readout), both "no error"; then made-up values on the same lines.
    @Test func errorCodeLinesDecodeToBits() throws {
        let profiles = try ShippedProfileTests.iecProfiles()
        var checked = 0
        for (id, obis) in [("iskraemeco-me162", "F.F"), ("lem-em4tii-plus", "F.F.0")] {
            let profile = try #require(profiles.first { $0.id == id })
            let readout = try #require(profile.iec?.testVectors.compactMap(\.readout).first)
            let block = try ShippedProfileTests.block(Array(readout.utf8))
            let data = try IECDataBlock.parse(body: block.body, readout: true)
            #expect(IECValueMapping.errorCode(data, spec: IECErrorCodeSpec(obis: obis, bits: [])) == 0, "\(id)")
            #expect(IECValueMapping.errorCode(data, spec: IECErrorCodeSpec(obis: "F.F.9", bits: [])) == nil, "\(id): no such line")
            checked += 1
        }
        #expect(checked == 2)
        func code(_ line: String, _ obis: String = "F.F") throws -> UInt64? {
            IECValueMapping.errorCode(try IECDataBlock.parse(body: Array((line + "\r\n!\r\n").utf8), readout: true),
                                      spec: IECErrorCodeSpec(obis: obis, bits: []))
        }
        #expect(try code("F.F(80000001)") == 0x8000_0001)
        #expect(try code("F.F(0A)") == 0x0A)
        #expect(try code("F.F(ERROR)") == nil)
        #expect(try code("F.F(+1)") == nil)
        #expect(try code("F.F(123456789)") == nil, "more than 32 bits")
        #expect(try code("F.F()") == nil)
        let spec = IECErrorCodeSpec(bits: [.init(name: "tamper", bit: 0), .init(name: "meter_error", bit: 31)])
        #expect(spec.bits.flags(fromRaw: 0x8000_0000) == ["tamper": false, "meter_error": true])
    }
}
