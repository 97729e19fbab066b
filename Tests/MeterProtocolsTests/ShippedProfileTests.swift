import Foundation
import Testing
import ConcentratorCore
import TestSupport
@testable import MeterProtocols

/// Each profile in `Profiles/` is loaded from disk, planned, answered with response frames built
/// from `ShippedProfileVectors`, and decoded back to the expected values with their units.
@Suite struct ShippedProfileTests {
    static let cases: [(id: String, rows: [Row], plan: [String])] = [
        ("eastron-sdm120", ShippedProfileVectors.sdm120, ["4:0+32", "4:70+16", "4:342+4"]),
        ("eastron-sdm630", ShippedProfileVectors.sdm630, ["4:0+80", "4:84+2", "4:200+6", "4:224+16", "4:342+16"]),
        ("abb-b23", ShippedProfileVectors.abbB23, ["3:20480+28", "3:21600+24", "3:23296+62"]),
        ("carlo-gavazzi-em24", ShippedProfileVectors.em24,
         ["4:0+10", "4:10+10", "4:20+10", "4:30+6", "4:40+11", "4:51+5", "4:62+10", "4:72+4", "4:92+2"]),
        ("finder-7m", ShippedProfileVectors.finder7M, ["4:2498+64", "4:2594+6", "4:2752+8"]),
        ("generic-template", ShippedProfileVectors.genericTemplate, ["3:0+18", "4:300+2"]),
    ]

    static func load(_ id: String) throws -> MeterProfile {
        let path = BuiltProducts.profilesDirectory + "/" + id + ".json"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try MeterProfileLoader.parse(text, source: path)
    }

    /// The answer a meter holding `rows` sends to `block`: registers outside any row (holes the
    /// planner bridged) carry 0xDEAD, which must never surface in a value.
    static func responseFrame(for block: ModbusReadBlock, rows: [Row], slave: UInt8) -> [UInt8] {
        var words = [UInt16](repeating: 0xDEAD, count: block.count)
        for spec in block.registers {
            let row = rows.first { $0.quantity == spec.quantity.rawValue }!
            for (i, word) in row.words.enumerated() { words[Int(spec.address) - Int(block.start) + i] = word }
        }
        var pdu: [UInt8] = [slave, block.function.rawValue, UInt8(2 * block.count)]
        for w in words { pdu += [UInt8(w >> 8), UInt8(w & 0xFF)] }
        return ModbusCRC.appending(to: pdu)
    }

    static func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-9 * max(1, abs(b)) }

    @Test(arguments: 0..<cases.count)
    func decodesResponseFramesToExpectedValues(_ index: Int) throws {
        let (id, rows, expectedPlan) = Self.cases[index]
        let profile = try Self.load(id)
        #expect(profile.id == id)
        let map = try #require(profile.modbus)
        #expect(Set(rows.map(\.quantity)) == Set(profile.quantities.map(\.rawValue)), "every quantity has a test row")
        #expect(rows.count == profile.quantities.count)

        let blocks = ModbusBlockPlanner.plan(map)
        #expect(blocks.map { "\($0.function.rawValue):\($0.start)+\($0.count)" } == expectedPlan)

        let slave: UInt8 = 7
        var values: [QuantityID: QuantityValue] = [:]
        for block in blocks {
            let frame = Self.responseFrame(for: block, rows: rows, slave: slave)
            let response = try ModbusRTUFrame.decodeResponse(frame, to: block.request(slave: slave))
            for value in block.decode(response: response) { values[value.quantity] = value }
        }
        for row in rows {
            let value = try #require(values[QuantityID(row.quantity)], "\(id) \(row.quantity) decoded")
            #expect(value.error == nil, "\(id) \(row.quantity)")
            #expect(Self.close(value.value ?? .nan, row.value), "\(id) \(row.quantity): got \(value.value ?? .nan), expected \(row.value)")
            #expect(QuantityCatalog.definition(of: value.quantity)?.unit.rawValue == row.unit, "\(id) \(row.quantity) unit")
            let spec = map.registers.first { $0.quantity == value.quantity }
            #expect(spec?.unit.rawValue == row.unit)
        }
    }

    /// Every profile in `Profiles/`: Modbus profiles are the cases above (each has its vector
    /// table); DLMS profiles carry their vectors in the file (`dlms.vectors`), decoded here with the
    /// profile's own objects: the value attribute's `Data` with the override or the vector's
    /// scaler_unit, converted to the catalog unit.
    @Test func everyShippedProfileIsCoveredAndItsVectorsDecode() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: BuiltProducts.profilesDirectory).filter { $0.hasSuffix(".json") }
        var dlmsProfiles = 0
        for file in files.sorted() {
            let profile = try Self.load(String(file.dropLast(5)))
            switch profile.protocolKind {
            case .modbus:
                #expect(Self.cases.contains { $0.id == profile.id }, "\(profile.id) has no vector table")
            case .dlms:
                dlmsProfiles += 1
                let section = try #require(profile.dlms)
                #expect(section.vectors.count >= 3, "\(profile.id): at least three vectors")
                for vector in section.vectors {
                    let spec = try #require(section.objects.first { $0.quantity == vector.quantity }, "\(profile.id) \(vector.quantity)")
                    let data = try DLMSDataCodec.decode(vector.value)
                    let scalerUnit = try vector.scalerUnit.map { bytes throws in try #require(COSEMScalerUnit(try DLMSDataCodec.decode(bytes))) }
                    #expect(spec.hasScalerUnitOverride || scalerUnit != nil, "\(profile.id) \(vector.quantity): scaler_unit")
                    let value = DLMSReadPlan.value(for: spec, data: data, scalerUnit: scalerUnit)
                    #expect(value.error == nil, "\(profile.id) \(vector.quantity)")
                    #expect(Self.close(value.value ?? .nan, vector.expected),
                            "\(profile.id) \(vector.quantity): got \(value.value ?? .nan), expected \(vector.expected)")
                }
                #expect(section.loadProfiles.allSatisfy { lp in lp.captureObjects.contains(where: \.isClock) })
                #expect(!profile.profileQuantities.isEmpty, "\(profile.id) marks load-profile quantities")
            case .iec62056_21, .mbus, .wmbus:
                break // their vectors: ShippedProfileTests+IEC.swift and ShippedProfileTests+MBus.swift
            }
        }
        #expect(dlmsProfiles >= 3, "at least three DLMS meter models are shipped")
    }

    @Test func profilesMarkLoadProfileQuantities() throws {
        for (id, _, _) in Self.cases {
            let profile = try Self.load(id)
            #expect(profile.profileQuantities.contains("active_energy_import"), "\(id)")
            #expect(profile.profileQuantities.contains("active_power_total"), "\(id)")
            for q in profile.profileQuantities {
                let kind = QuantityCatalog.definition(of: q)?.kind
                #expect(kind == .counter || q == "active_power_total", "\(id): \(q) in the load profile")
            }
            #expect(profile.modbus?.identification != nil, "\(id) has an identification")
        }
    }

    /// Eastron SDM320Y manual §4.3 reads "total active energy" with "01 04 01 56 00 02 90 27"; the
    /// SDM630 profile planned for that one quantity must send exactly these bytes.
    @Test func plansTheEastronExampleRequestByteForByte() throws {
        let map = try #require(try Self.load("eastron-sdm630").modbus)
        let blocks = ModbusBlockPlanner.plan(map, quantities: ["active_energy_total"])
        #expect(blocks.count == 1)
        #expect(ModbusRTUFrame.encode(blocks[0].request(slave: 1)) == [0x01, 0x04, 0x01, 0x56, 0x00, 0x02, 0x90, 0x27])
    }

    @Test func anExceptionMarksEveryQuantityOfTheBlock() throws {
        let map = try #require(try Self.load("abb-b23").modbus)
        let block = ModbusBlockPlanner.plan(map)[0]
        // Exception 02 (illegal data address) to function 03: PDU 83 02 ([AP] §7), slave 7.
        let frame = ModbusCRC.appending(to: [7, 0x83, 0x02])
        let response = try ModbusRTUFrame.decodeResponse(frame, to: block.request(slave: 7))
        let values = block.decode(response: response)
        #expect(values.count == block.registers.count)
        #expect(values.allSatisfy { $0.value == nil && $0.error == .modbusException(2) })
    }

    @Test func undecodableAndShortAnswersBecomeErrors() {
        let specs = [
            ModbusRegisterSpec(quantity: "voltage_l1", function: .readInputRegisters, address: 0, type: .f32, unit: .volt),
            ModbusRegisterSpec(quantity: "current_l1", function: .readInputRegisters, address: 2, type: .f32, unit: .ampere),
            ModbusRegisterSpec(quantity: "frequency", function: .readInputRegisters, address: 4, type: .u16, scale: .infinity,
                               unit: .hertz),
        ]
        let block = ModbusReadBlock(function: .readInputRegisters, start: 0, count: 5, registers: specs)
        // 230.0 V, a binary32 NaN (0x7FC00000), and 50 Hz scaled by infinity.
        let values = block.decode([0x4366, 0x0000, 0x7FC0, 0x0000, 50])
        #expect(values == [
            QuantityValue(quantity: "voltage_l1", value: 230.0),
            QuantityValue(quantity: "current_l1", error: .undecodableValue),
            QuantityValue(quantity: "frequency", error: .undecodableValue),
        ])
        #expect(block.decode([0x4366, 0x0000]).allSatisfy { $0.error == .malformedResponse })
        #expect(block.decode(response: .coils([true])).allSatisfy { $0.error == .malformedResponse })
    }
}

/// The identification entries of the shipped profiles against hand-made answers.
@Suite struct ShippedIdentificationTests {
    static func identification(_ id: String) throws -> ModbusIdentification {
        try #require(try ShippedProfileTests.load(id).modbus?.identification)
    }

    @Test func recognisesTheDocumentedCodes() throws {
        // Eastron meter code (holding 0xFC02): 0x0070 = 112 for SDM630-Modbus V2, 0x0020 = 32 for SDM120.
        let sdm630 = try Self.identification("eastron-sdm630")
        #expect(sdm630.request(slave: 1) == ModbusRequest(slave: 1, pdu: .readHoldingRegisters(start: 0xFC02, count: 1)))
        #expect(sdm630.matches([0x0070]))
        #expect(!sdm630.matches([0x0020]))
        #expect(try Self.identification("eastron-sdm120").matches([0x0020]))
        // ABB type designation at 0x8960 in ASCII: "B23 " = 42 32 33 20, "B24 " = 42 32 34 20, "B21 " no.
        let abb = try Self.identification("abb-b23")
        #expect(abb.request(slave: 2) == ModbusRequest(slave: 2, pdu: .readHoldingRegisters(start: 0x8960, count: 2)))
        #expect(abb.matches([0x4232, 0x3320]))
        #expect(abb.matches([0x4232, 0x3420]))
        #expect(!abb.matches([0x4232, 0x3120]))
        // Carlo Gavazzi identification code 000Bh, read as a holding register (with function 04h that
        // address is the second word of V L3-L1): 71 = EM24DIN AV9/AV2.
        let em24 = try Self.identification("carlo-gavazzi-em24")
        #expect(em24.request(slave: 1) == ModbusRequest(slave: 1, pdu: .readHoldingRegisters(start: 0x000B, count: 1)))
        #expect(em24.matches([71]))
        #expect(!em24.matches([57]))
        // Finder: no model code, frequency 50.0 Hz (binary32 0x42480000) is plausible, 0 Hz and NaN are not.
        let finder = try Self.identification("finder-7m")
        #expect(finder.matches([0x4248, 0x0000]))
        #expect(!finder.matches([0x0000, 0x0000]))
        #expect(!finder.matches([0x7FC0, 0x0000]))
        #expect(!finder.matches([0x4248]))
    }

    /// ABB answers a quantity it does not have with the type's largest value (0xFFFFFFFF for the
    /// unsigned current, 0x7FFFFFFF for the signed power); those must not become 42 949 672.95 A.
    @Test func abbNotAvailableValuesBecomeErrors() throws {
        let map = try #require(try ShippedProfileTests.load("abb-b23").modbus)
        #expect(map.notAvailableMarker == .typeMaximum)
        let block = try #require(ModbusBlockPlanner.plan(map, quantities: ["current_l2", "active_power_l2"]).first)
        #expect(block.start == 0x5B0E)
        var words = [UInt16](repeating: 0, count: block.count)
        words[0] = 0xFFFF; words[1] = 0xFFFF          // current L2 at 0x5B0E: u32 maximum
        words[10] = 0x7FFF; words[11] = 0xFFFF        // active power L2 at 0x5B18: i32 maximum
        #expect(block.decode(words).allSatisfy { $0.error == .undecodableValue })
        words[0] = 0; words[1] = 625                  // 6.25 A
        #expect(block.decode(words).first == QuantityValue(quantity: "current_l2", value: 6.25))
    }
}
