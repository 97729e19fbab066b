import Foundation
import Testing
import ConcentratorCore
import TestSupport
@testable import MeterProtocols

/// The IEC 62056-21 half of the shipped-profile runner: every profile in `Profiles/` with protocol
/// `iec62056-21` is loaded from disk and each of its `testVectors` (captured or documented answers,
/// cited in the profile) is decoded as the sessions decode it: the identification, the data message
/// through the frame assembler (split at every byte), the lines, then the profile's registers, clock
/// and load profile channels, to exactly the values the vector lists.
extension ShippedProfileTests {
    static func iecProfiles() throws -> [MeterProfile] {
        let dir = BuiltProducts.profilesDirectory
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".json") }.sorted()
        return try names.compactMap { name in
            let profile = try MeterProfileLoader.parse(String(contentsOfFile: dir + "/" + name, encoding: .utf8), source: name)
            return profile.protocolKind == .iec62056_21 ? profile : nil
        }
    }

    /// The one block in `message`, fed to the assembler split at every byte; all splits must agree.
    static func block(_ message: [UInt8]) throws -> IECBlock {
        var whole: IECBlock?
        for cut in 0...message.count {
            var assembler = IECFrameAssembler(role: .client, blockLimit: IECProgrammingSession.blockLimit)
            assembler.append(message[0..<cut])
            var frames: [IECFrame] = []
            while let f = try assembler.next() { frames.append(f) }
            assembler.append(message[cut...])
            while let f = try assembler.next() { frames.append(f) }
            guard frames.count == 1, case .block(let b) = frames[0] else { throw ByteFormatError("not one block", at: cut) }
            if let whole { #expect(b == whole, "split at \(cut)") } else { whole = b }
        }
        return whole!
    }

    @Test func everyIECProfileDecodesItsVectors() throws {
        let profiles = try Self.iecProfiles()
        #expect(profiles.count >= 2, "at least two IEC 62056-21 models are shipped")
        for profile in profiles {
            let iec = try #require(profile.iec, "\(profile.id)")
            #expect(!iec.testVectors.isEmpty, "\(profile.id) carries test vectors")
            #expect(iec.testVectors.contains { $0.readout != nil }, "\(profile.id) has a readout vector")
            for vector in iec.testVectors {
                if let line = vector.identification {
                    #expect(line.hasSuffix("\r\n"), "\(profile.id): identification with CR LF")
                    let ident = try IECIdentification.decode(line: Array(line.utf8.dropLast(2)))
                    #expect(IECProtocolMode(rawValue: iec.mode.rawValue) == ident.mode, "\(profile.id): mode")
                    if let pattern = iec.identification {
                        #expect(IECValueMapping.matches(ident, pattern), "\(profile.id): identification \(ident) vs the profile")
                    }
                    #expect(ident.proposedBaud.map { $0 >= iec.maximumBaud } ?? true, "\(profile.id): the meter offers the profile's rate")
                }
                if let readout = vector.readout {
                    let block = try Self.block(Array(readout.utf8))
                    let data = try IECDataBlock.parse(body: block.body, readout: true)
                    let values = IECValueMapping.values(data, registers: iec.registers)
                    for spec in iec.registers {
                        let value = try #require(values.first { $0.quantity == spec.quantity })
                        if let expected = vector.values[spec.quantity] {
                            #expect(value.error == nil && value.value == expected, "\(profile.id) \(spec.quantity): \(value) vs \(expected)")
                        }
                    }
                    #expect(Set(vector.values.keys).isSubset(of: Set(iec.registers.map(\.quantity))), "\(profile.id): every expected value has a register")
                    #expect(!vector.values.isEmpty, "\(profile.id): the readout vector lists values")
                    if let clock = vector.meterClock {
                        let spec = try #require(iec.clock, "\(profile.id): a clock vector needs a clock section")
                        #expect(IECValueMapping.meterClock(data, clock: spec)?.civil.description == clock, "\(profile.id) clock")
                    }
                }
                if let answer = vector.loadProfile {
                    let spec = try #require(iec.loadProfile, "\(profile.id): a load profile vector needs a loadProfile section")
                    let block = try Self.block(Array(answer.utf8))
                    let profileData = try IECLoadProfile.decode(try IECDataBlock.parse(body: block.body, readout: false),
                                                                code: try OBISCode.parse(spec.obis))
                    #expect(profileData.periodMinutes == spec.periodMinutes, "\(profile.id): capture period")
                    if let n = vector.profileEntries { #expect(profileData.entries.count == n, "\(profile.id): entries") }
                    let samples = IECValueMapping.samples(profileData, spec: spec, zone: .utc)
                    let first = try #require(samples.first)
                    for (quantity, expected) in vector.firstEntry {
                        #expect(first.values.first { $0.quantity == quantity }?.value == expected, "\(profile.id) first entry \(quantity)")
                    }
                    #expect(first.values.allSatisfy { $0.error == nil }, "\(profile.id): every channel decodes")
                }
            }
        }
    }

    @Test func iecProfilesCiteTheirDocumentAndMapOnlyCatalogUnits() throws {
        for profile in try Self.iecProfiles() {
            let iec = try #require(profile.iec)
            #expect(profile.source.count > 80, "\(profile.id) cites its document")
            for spec in iec.registers {
                let catalog = try #require(QuantityCatalog.definition(of: spec.quantity)?.unit)
                #expect(IECUnitConversion.factor(from: spec.unit, to: catalog) == spec.scale, "\(profile.id) \(spec.quantity)")
                #expect((try? OBISCode.parse(spec.obis)) != nil, "\(profile.id) \(spec.obis)")
            }
            #expect(profile.quantities == iec.registers.map(\.quantity))
        }
    }
}
