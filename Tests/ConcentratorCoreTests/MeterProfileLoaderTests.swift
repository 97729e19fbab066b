import Foundation
import Testing
@testable import ConcentratorCore

@Suite struct MeterProfileLoaderTests {
    /// A small valid profile; the bad documents below are edits of it.
    static let valid = """
    {
      "id": "test-meter",
      "name": "Test meter",
      "manufacturer": "Nobody",
      "source": "made up for the tests",
      "protocol": "modbus",
      "modbus": {
        "maxRegistersPerRequest": 40,
        "gaps": [{"function": 4, "first": 100, "last": 199, "note": "refused"}],
        "identification": {"function": 3, "address": "0xFC02", "type": "u16", "values": [112, 121]},
        "relay": {"coil": 3},
        "registers": [
          {"quantity": "voltage_l1", "function": 4, "address": 0, "type": "f32", "unit": "V"},
          {"quantity": "active_energy_import", "function": 4, "address": "0x0048", "type": "u32", "wordOrder": "little",
           "scale": 0.001, "unit": "kWh", "profile": true, "note": "Wh counter"},
          {"quantity": "power_factor_total", "function": 3, "address": 2, "type": "i16", "byteOrder": "little", "scale": 0.001, "unit": ""}
        ]
      }
    }
    """

    @Test func parsesAValidProfile() throws {
        let profile = try MeterProfileLoader.parse(Self.valid, source: "test.json")
        #expect(profile.id == "test-meter")
        #expect(profile.protocolKind == .modbus)
        let map = try #require(profile.modbus)
        #expect(map.maxRegistersPerRequest == 40)
        #expect(map.gaps == [ModbusRegisterGap(function: .readInputRegisters, first: 100, last: 199)])
        #expect(map.identification == ModbusIdentification(function: .readHoldingRegisters, address: 0xFC02, type: .u16,
                                                           expectedValues: [112, 121]))
        #expect(map.relay == ModbusRelaySpec(coil: 3))
        #expect(map.notAvailableMarker == .noMarker)
        #expect(map.registers == [
            ModbusRegisterSpec(quantity: "voltage_l1", function: .readInputRegisters, address: 0, type: .f32, unit: .volt),
            ModbusRegisterSpec(quantity: "active_energy_import", function: .readInputRegisters, address: 0x48, type: .u32,
                               wordOrder: .little, scale: 0.001, unit: .kilowattHour, inLoadProfile: true),
            ModbusRegisterSpec(quantity: "power_factor_total", function: .readHoldingRegisters, address: 2, type: .i16,
                               byteOrder: .little, scale: 0.001, unit: .none),
        ])
        #expect(profile.profileQuantities == ["active_energy_import"])
    }

    /// One bad edit each: (what is replaced, its replacement, JSON path of the issue, words of the problem).
    static let badEdits: [(String, String, String, String)] = [
        ("\"protocol\": \"modbus\",", "\"protocol\": \"modbus\", \"colour\": \"red\",", "$.colour", "unknown key"),
        ("\"quantity\": \"voltage_l1\"", "\"quantity\": \"voltage_l9\"", "$.modbus.registers[0].quantity", "unknown quantity"),
        ("\"scale\": 0.001, \"unit\": \"kWh\"", "\"scale\": 0.001, \"unit\": \"W\"", "$.modbus.registers[1].unit", "catalog unit"),
        ("\"unit\": \"V\"", "\"unit\": \"volts\"", "$.modbus.registers[0].unit", "unknown unit"),
        ("\"quantity\": \"power_factor_total\"", "\"quantity\": \"voltage_l1\"", "$.modbus.registers[2].quantity", "duplicate quantity"),
        ("\"address\": \"0x0048\"", "\"address\": 1", "$.modbus.registers[1].address", "overlap"),
        ("\"address\": 0, \"type\": \"f32\"", "\"address\": 65535, \"type\": \"f32\"", "$.modbus.registers[0].address", "runs past"),
        ("\"maxRegistersPerRequest\": 40", "\"maxRegistersPerRequest\": 126", "$.modbus.maxRegistersPerRequest", "out of range"),
        ("\"maxRegistersPerRequest\": 40", "\"maxRegistersPerRequest\": 0", "$.modbus.maxRegistersPerRequest", "out of range"),
        ("\"maxRegistersPerRequest\": 40", "\"maxRegistersPerRequest\": 1", "$.modbus.registers[0].type", "more than maxRegistersPerRequest"),
        ("\"address\": 0, \"type\": \"f32\"", "\"address\": 198, \"type\": \"f32\"", "$.modbus.registers[0].address", "inside the declared gap"),
        ("\"function\": 4, \"address\": 0", "\"function\": 5, \"address\": 0", "$.modbus.registers[0].function", "not one of the allowed values"),
        ("\"type\": \"f32\"", "\"type\": \"f16\"", "$.modbus.registers[0].type", "not one of the allowed values"),
        ("\"address\": \"0x0048\"", "\"address\": \"0xZZ\"", "$.modbus.registers[1].address", "not a register address"),
        ("\"address\": \"0x0048\"", "\"address\": 70000", "$.modbus.registers[1].address", "out of range"),
        ("\"scale\": 0.001, \"unit\": \"kWh\"", "\"scale\": 0, \"unit\": \"kWh\"", "$.modbus.registers[1].scale", "must not be zero"),
        ("\"values\": [112, 121]", "\"values\": [112], \"plausibleRange\": {\"min\": 1, \"max\": 2}", "$.modbus.identification", "exactly one"),
        ("\"values\": [112, 121]", "\"plausibleRange\": {\"min\": 5, \"max\": 2}", "$.modbus.identification.plausibleRange.max", "below its start"),
        ("\"first\": 100, \"last\": 199", "\"first\": 100, \"last\": 99", "$.modbus.gaps[0].last", "ends before it starts"),
        ("\"id\": \"test-meter\"", "\"id\": \"Test Meter\"", "$.id", "not a valid profile id"),
        ("\"protocol\": \"modbus\"", "\"protocol\": \"iec62056-21\"", "$.iec", "missing required key"),
        ("\"protocol\": \"modbus\"", "\"protocol\": \"dlms\"", "$.dlms", "missing required key"),
        ("\"protocol\": \"modbus\"", "\"protocol\": \"bacnet\"", "$.protocol", "not one of the allowed values"),
        ("\"name\": \"Test meter\",", "", "$.name", "missing required key"),
        ("\"relay\": {\"coil\": 3}", "\"relay\": {\"coil\": 3, \"pulse\": 2}", "$.modbus.relay.pulse", "unknown key"),
        ("\"profile\": true", "\"profile\": \"yes\"", "$.modbus.registers[1].profile", "wrong type"),
        ("\"maxRegistersPerRequest\": 40", "\"maxRegistersPerRequest\": 40, \"notAvailableMarker\": \"minusOne\"",
         "$.modbus.notAvailableMarker", "not one of the allowed values"),
        ("\"relay\": {\"coil\": 3}", "\"relay\": {\"coil\": 3}, \"clock\": {\"address\": 1, \"format\": \"unix-seconds-u32\"}",
         "$.modbus.clock.address", "overlap"),
        ("\"relay\": {\"coil\": 3}", "\"relay\": {\"coil\": 3}, \"clock\": {\"address\": 400, \"format\": \"bcd\"}",
         "$.modbus.clock.format", "not one of the allowed values"),
        ("\"relay\": {\"coil\": 3}", "\"relay\": {\"coil\": 3}, \"clock\": {\"address\": 65535, \"format\": \"unix-seconds-u32\"}",
         "$.modbus.clock.address", "runs past"),
        ("\"relay\": {\"coil\": 3}", "\"relay\": {\"coil\": 3}, \"clock\": {\"format\": \"unix-seconds-u32\"}",
         "$.modbus.clock.address", "missing required key"),
    ]

    @Test(arguments: 0..<badEdits.count)
    func reportsTheProblem(_ index: Int) {
        let (old, new, path, problem) = Self.badEdits[index]
        #expect(Self.valid.contains(old), "edit \(index) must apply")
        let text = Self.valid.replacingFirst(old, with: new)
        do {
            _ = try MeterProfileLoader.parse(text, source: "bad.json")
            Issue.record("accepted a profile with \(problem)")
        } catch {
            #expect(error.source == "bad.json")
            #expect(error.issues.contains { $0.path == path && $0.description.contains(problem) },
                    "expected \(path): \(problem); got \(error.description)")
        }
    }

    @Test func readsAClockAndItsRegisterLayout() throws {
        let text = Self.valid.replacingFirst("\"relay\": {\"coil\": 3}",
                                             with: "\"relay\": {\"coil\": 3}, \"clock\": {\"address\": \"0x0190\", \"format\": \"unix-seconds-u32\"}")
        let clock = try #require(try MeterProfileLoader.parse(text, source: "t.json").modbus?.clock)
        #expect(clock == ModbusClockSpec(address: 400, format: .unixSecondsU32))
        // 2026-11-21T10:00:00Z = 1795255200 s = 0x6B01_6BA0: most significant register first.
        let time = Timestamp(seconds: 1_795_255_200)
        #expect(clock.registers(for: time) == [0x6B01, 0x6BA0])
        #expect(clock.time(from: [0x6B01, 0x6BA0]) == time)
        #expect(clock.time(from: [0x6B01]) == nil)
    }

    @Test func readsTheNotAvailableMarker() throws {
        let text = Self.valid.replacingFirst("\"maxRegistersPerRequest\": 40", with: "\"maxRegistersPerRequest\": 40, \"notAvailableMarker\": \"typeMaximum\"")
        #expect(try MeterProfileLoader.parse(text, source: "t.json").modbus?.notAvailableMarker == .typeMaximum)
    }

    @Test func reportsEveryProblemAtOnceWithLines() {
        let text = Self.valid
            .replacingFirst("\"quantity\": \"voltage_l1\"", with: "\"quantity\": \"voltage_l9\"")
            .replacingFirst("\"maxRegistersPerRequest\": 40", with: "\"maxRegistersPerRequest\": 400")
            .replacingFirst("\"relay\": {\"coil\": 3}", with: "\"relay\": {\"coil\": 3}, \"baud\": 9600")
        do {
            _ = try MeterProfileLoader.parse(text, source: "bad.json")
            Issue.record("accepted a bad profile")
        } catch {
            let byPath = Dictionary(error.issues.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
            #expect(error.issues.count == 3, "\(error)")
            #expect(byPath["$.modbus.maxRegistersPerRequest"]?.line == 8)
            #expect(byPath["$.modbus.relay"] == nil)
            #expect(byPath["$.modbus.baud"]?.line == 11)
            #expect(byPath["$.modbus.registers[0].quantity"]?.line == 13)
        }
    }

    @Test func reportsSyntaxErrorsWithTheirLine() {
        let text = Self.valid.replacingFirst("\"gaps\": [", with: "\"gaps\": [,")
        do {
            _ = try MeterProfileLoader.parse(text, source: "broken.json")
            Issue.record("accepted broken JSON")
        } catch {
            #expect(error.issues.count == 1)
            #expect(error.issues.first?.path == "$")
            #expect(error.issues.first?.line == 9)
            #expect(error.issues.first?.problem.contains("not valid JSON") == true)
        }
    }

    @Test func rejectsAProfileWithoutRegisters() {
        let text = Self.valid.replacingFirst("\"registers\": [", with: "\"registers\": [], \"unused\": [")
        do {
            _ = try MeterProfileLoader.parse(text, source: "empty.json")
            Issue.record("accepted a profile without registers")
        } catch {
            #expect(error.issues.contains { $0.path == "$.modbus.registers" && $0.problem.contains("at least one register") })
        }
    }
}

extension String {
    /// This string with the first occurrence of `target` replaced (test documents only).
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}
