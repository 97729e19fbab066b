import Foundation
import Testing
@testable import ConcentratorCore

/// The `iec` section of a profile: a valid document, then one bad edit at a time, each reported
/// with its path and problem.
@Suite struct MeterProfileLoaderIECTests {
    static let valid = """
    {
      "id": "iec-test",
      "name": "IEC test meter",
      "manufacturer": "Nobody",
      "source": "made up for the tests",
      "protocol": "iec62056-21",
      "iec": {
        "mode": "C",
        "fallbackModes": ["B"],
        "signOnBaud": 300,
        "maximumBaud": 4800,
        "deviceAddress": {"maximumLength": 8},
        "identification": {"manufacturer": "ISk", "identPrefix": "MT174"},
        "passwordId": "p1",
        "registers": [
          {"obis": "1.8.0", "quantity": "active_energy_import", "unit": "kWh"},
          {"obis": "1-0:16.7.0*255", "quantity": "active_power_total", "unit": "kW"},
          {"obis": "32.7.0", "quantity": "voltage_l1", "unit": "V", "note": "volts"},
          {"obis": "3.8.0", "quantity": "reactive_energy_import", "unit": "kVArh"}
        ],
        "clock": {"timeObis": "0.9.1", "dateObis": "0.9.2", "timeFormat": "hh:mm:ss", "dateFormat": "YY-MM-DD", "write": "W1"},
        "loadProfile": {"read": "R5", "rangeFormat": "ZYYMMDDhhmm", "periodMinutes": 15,
          "channels": [{"obis": "1.5.0", "quantity": "active_power_total", "unit": "kW", "kind": "average"},
                       {"obis": "1.8.0", "quantity": "active_energy_import", "unit": "kWh", "kind": "counter"}]},
        "testVectors": [{"source": "made up", "readout": "\\u00021.8.0(1.5*kWh)\\r\\n!\\r\\n\\u0003X",
                         "values": {"active_energy_import": 1.5}, "meterClock": "2026-12-02 10:00:00"}]
      }
    }
    """

    @Test func parsesAValidIECProfile() throws {
        let profile = try MeterProfileLoader.parse(Self.valid, source: "iec.json")
        #expect(profile.protocolKind == .iec62056_21 && profile.modbus == nil)
        let iec = try #require(profile.iec)
        #expect(iec.mode == .c && iec.fallbackModes == [.b] && iec.acceptedModes == [.c, .b])
        #expect(iec.signOnBaud == 300 && iec.maximumBaud == 4800)
        #expect(iec.deviceAddress == IECDeviceAddressRule(maximumLength: 8, answersAnyAddress: false))
        #expect(iec.identification == IECIdentificationPattern(manufacturer: "ISk", identPrefix: "MT174"))
        #expect(iec.passwordID == "p1")
        #expect(iec.registers == [
            IECRegisterSpec(obis: "1.8.0", quantity: "active_energy_import", unit: "kWh"),
            IECRegisterSpec(obis: "1-0:16.7.0*255", quantity: "active_power_total", unit: "kW", scale: 1000),
            IECRegisterSpec(obis: "32.7.0", quantity: "voltage_l1", unit: "V"),
            IECRegisterSpec(obis: "3.8.0", quantity: "reactive_energy_import", unit: "kVArh"),
        ])
        #expect(iec.clock == IECClockSpec(timeFormat: .colons, dateFormat: .dashes, writeCommand: .w1))
        #expect(iec.loadProfile?.channels.map(\.kind) == [.average, .counter])
        #expect(iec.loadProfile?.channels.first?.scale == 1000)
        #expect(iec.testVectors.first?.readout?.utf8.first == 0x02)
        #expect(iec.testVectors.first?.values == ["active_energy_import": 1.5])
        #expect(profile.quantities == ["active_energy_import", "active_power_total", "voltage_l1", "reactive_energy_import"])
        #expect(profile.profileQuantities == ["active_power_total", "active_energy_import"])
        // A clock without a write, defaults for the rest.
        let minimal = Self.valid.replacingFirst(#""timeFormat": "hh:mm:ss", "dateFormat": "YY-MM-DD", "write": "W1""#, with: #""timeFormat": "hhmmss""#)
        #expect(try MeterProfileLoader.parse(minimal, source: "x").iec?.clock == IECClockSpec(writeCommand: nil))
    }

    static let badEdits: [(String, String, String, String)] = [
        (#""mode": "C""#, #""mode": "D""#, "$.iec.mode", "not one of the allowed values"),
        (#""fallbackModes": ["B"]"#, #""fallbackModes": ["E"]"#, "$.iec.fallbackModes[0]", "not a protocol mode"),
        (#""signOnBaud": 300"#, #""signOnBaud": 1000"#, "$.iec.signOnBaud", "not one of the allowed values"),
        (#""maximumBaud": 4800"#, #""maximumBaud": 115200"#, "$.iec.maximumBaud", "not one of the allowed values"),
        (#""maximumLength": 8"#, #""maximumLength": 40"#, "$.iec.deviceAddress.maximumLength", "out of range"),
        (#""manufacturer": "ISk""#, #""manufacturer": "ISKR""#, "$.iec.identification.manufacturer", "not three characters"),
        (#""passwordId": "p1""#, #""passwordId": "my password""#, "$.iec.passwordId", "not a key id"),
        (#""obis": "1.8.0", "quantity": "active_energy_import", "unit": "kWh"}"#, #""obis": "1.8.0x", "quantity": "active_energy_import", "unit": "kWh"}"#,
         "$.iec.registers[0].obis", "not an OBIS code"),
        (#""obis": "32.7.0""#, #""obis": "1.8.0""#, "$.iec.registers[2].obis", "duplicate OBIS code"),
        (#""quantity": "reactive_energy_import", "unit": "kVArh""#, #""quantity": "active_energy_import", "unit": "kWh""#,
         "$.iec.registers[3].quantity", "duplicate quantity"),
        (#""quantity": "voltage_l1""#, #""quantity": "voltage_l9""#, "$.iec.registers[2].quantity", "unknown quantity"),
        (#""unit": "V", "note""#, #""unit": "A", "note""#, "$.iec.registers[2].unit", "does not convert"),
        (#""unit": "V", "note""#, #""unit": "kV", "scale": 100, "note""#, "$.iec.registers[2].scale", "does not convert"),
        (#""unit": "V", "note""#, #""unit": "V", "scale": 0, "note""#, "$.iec.registers[2].scale", "must not be zero"),
        (#""registers": ["#, #""registers": [], "x": ["#, "$.iec.registers", "at least one register"),
        (#""timeFormat": "hh:mm:ss""#, #""timeFormat": "hh.mm.ss""#, "$.iec.clock.timeFormat", "not one of the allowed values"),
        (#""write": "W1""#, #""write": "R5""#, "$.iec.clock.write", "not one of the allowed values"),
        (#""periodMinutes": 15"#, #""periodMinutes": 0"#, "$.iec.loadProfile.periodMinutes", "out of range"),
        (#""kind": "average""#, #""kind": "maximum""#, "$.iec.loadProfile.channels[0].kind", "not one of the allowed values"),
        (#""rangeFormat": "ZYYMMDDhhmm""#, #""rangeFormat": "YYYYMMDD""#, "$.iec.loadProfile.rangeFormat", "not one of the allowed values"),
        (#""values": {"active_energy_import": 1.5}"#, #""values": {"active_energy_imprt": 1.5}"#, "$.iec.testVectors[0].values.active_energy_imprt", "unknown quantity"),
        (#""meterClock": "2026-12-02 10:00:00""#, #""meterClock": "2026-12-02""#, "$.iec.testVectors[0].meterClock", "not a civil time"),
        (#""source": "made up", "readout""#, #""source": "made up", "readouts""#, "$.iec.testVectors[0].readouts", "unknown key"),
        (#""passwordId": "p1","#, #""passwordId": "p1", "password": "00000000","#, "$.iec.password", "unknown key"),
        (#""protocol": "iec62056-21""#, #""protocol": "modbus""#, "$.modbus", "missing required key"),
    ]

    @Test(arguments: 0..<badEdits.count)
    func reportsTheProblem(_ index: Int) {
        let (old, new, path, problem) = Self.badEdits[index]
        #expect(Self.valid.contains(old), "edit \(index) must apply")
        do {
            _ = try MeterProfileLoader.parse(Self.valid.replacingFirst(old, with: new), source: "bad.json")
            Issue.record("accepted a profile with \(problem)")
        } catch {
            #expect(error.issues.contains { $0.path == path && $0.description.contains(problem) },
                    "expected \(path): \(problem); got \(error.description)")
        }
    }

    @Test func unitConversions() {
        #expect(IECUnitConversion.factor(from: "kW", to: .watt) == 1000)
        #expect(IECUnitConversion.factor(from: "kWh", to: .kilowattHour) == 1)
        #expect(IECUnitConversion.factor(from: "Wh", to: .kilowattHour) == 0.001)
        #expect(IECUnitConversion.factor(from: "KVARH", to: .kilovarHour) == 1)
        #expect(IECUnitConversion.factor(from: "kVAr", to: .voltAmpereReactive) == 1000)
        #expect(IECUnitConversion.factor(from: "mW", to: .watt) == nil, "case matters outside reactive units")
        #expect(IECUnitConversion.factor(from: "", to: .none) == 1)
        #expect(IECUnitConversion.apply(0.001, to: 1234.5) == 1.2345)
        #expect(IECRegisterSpec(obis: "1.7.0", quantity: "active_power_total", unit: "kW", scale: 1000).value(fromMeter: 1.5) == 1500)
    }
}
