import Foundation
import Testing
import ConcentratorCore
import TestSupport
@testable import MeterProtocols

/// The M-Bus and wireless M-Bus profiles in `Profiles/`: every one carries published telegrams
/// (from the driver files of wmbusmeters, cited in each vector) and the values they must decode to.
/// This runs every vector of every such profile through the real decoders: the wired RSP_UD through
/// `MBusFrame` and `MBusApplicationLayer`, the wireless frame through `WirelessLinkFrame`,
/// `WirelessTelegramDecoder` (with the vector's key) and the profile's record rules.
extension ShippedProfileTests {
    static func mbusProfiles() throws -> [MeterProfile] {
        let names = try FileManager.default.contentsOfDirectory(atPath: BuiltProducts.profilesDirectory)
            .filter { $0.hasSuffix(".json") }.sorted()
        return try names.map { try load(String($0.dropLast(5))) }.filter { $0.protocolKind == .mbus || $0.protocolKind == .wmbus }
    }

    /// Decodes one vector to (meter identity, records).
    static func decodeVector(_ vector: MBusProfileVector, kind: MeterProtocolKind) throws -> (MBusIdentity?, [MBusDataRecord]) {
        let key = vector.key.flatMap(MeterKey.init(bytes:))
        if kind == .mbus {
            guard case .long(let control, _, let ci, let data) = try MBusFrame.decode(vector.telegram) else {
                throw MBusTelegramError(.malformed, "not a long frame")
            }
            #expect(MBusControl.isResponseWithData(control))
            let application = try MBusApplicationLayer.decode([ci] + data, ciOffset: 0, linkIdentity: nil, key: key,
                                                              cipher: SwiftCryptoOMSCipher(), alreadyDecrypted: vector.decrypted)
            return (application.meter, application.records)
        }
        let frame = try WirelessLinkFrame.decode(vector.telegram, crc: .detect)
        let telegram = try WirelessTelegramDecoder.decode(try WirelessTelegramDecoder.peel(frame), key: key,
                                                          cipher: SwiftCryptoOMSCipher(), alreadyDecrypted: vector.decrypted)
        return (telegram.meter, telegram.records)
    }

    @Test func mbusProfilesDecodeTheirPublishedTelegrams() throws {
        let profiles = try Self.mbusProfiles()
        #expect(profiles.count >= 5, "at least five M-Bus models ship")
        let media = Set(profiles.flatMap { $0.mbus?.identifications.flatMap(\.media) ?? [] })
        #expect(media.contains(0x04) && media.contains(0x07) && media.contains(0x08), "heat, water and heat-cost allocators")
        for profile in profiles {
            let map = try #require(profile.mbus, "\(profile.id) has an mbus section")
            #expect(!map.vectors.isEmpty, "\(profile.id) carries test telegrams")
            #expect(profile.source.contains("wmbusmeters") || profile.source.contains("OMS"), "\(profile.id) cites its source")
            for (index, vector) in map.vectors.enumerated() {
                let label = "\(profile.id) vector \(index + 1)"
                let (identity, records) = try Self.decodeVector(vector, kind: profile.protocolKind)
                let meter = try #require(identity, "\(label): the telegram names its meter")
                #expect(map.matches(meter), "\(label): \(meter) matches the profile's identification")
                let reading = MBusProfileDecoder.read(records, map: map)
                for (quantity, expected) in vector.values {
                    let value = reading.values.first { $0.quantity == quantity }
                    #expect(value?.error == nil, "\(label) \(quantity)")
                    #expect(Self.close(value?.value ?? .nan, expected), "\(label) \(quantity): got \(value?.value ?? .nan), expected \(expected)")
                }
                for value in reading.values {
                    #expect(QuantityCatalog.definition(of: value.quantity)?.unit == map.records.first { $0.quantity == value.quantity }?.unit)
                }
            }
        }
    }

    /// The wireless vectors with a key fail cleanly with another key (a per-meter security error
    /// that shows no key byte), and a wired vector's records survive being cut at every length.
    @Test func mbusProfileVectorsRejectAWrongKeyAndEveryTruncation() throws {
        for profile in try Self.mbusProfiles() {
            for vector in profile.mbus?.vectors ?? [] {
                if profile.protocolKind == .wmbus, let key = vector.key {
                    var wrong = vector
                    wrong.key = key.map { $0 ^ 0x5A }
                    do {
                        _ = try Self.decodeVector(wrong, kind: .wmbus)
                        Issue.record("\(profile.id): a wrong key decoded")
                    } catch let error as MBusTelegramError {
                        #expect(error.kind == .security, "\(profile.id): \(error)")
                        #expect(!error.description.lowercased().contains(Hex.encode(key)) && !error.description.contains(Hex.encode(wrong.key!)))
                    }
                }
                for cut in 0..<vector.telegram.count {
                    var short = vector
                    short.telegram = Array(vector.telegram.prefix(cut))
                    #expect(throws: (any Error).self, "\(profile.id) cut at \(cut)") { _ = try Self.decodeVector(short, kind: profile.protocolKind) }
                }
            }
        }
    }
}
