import Foundation
import Testing
import TestSupport
@testable import ConcentratorCore

/// M-Bus in the pure model: meter addresses in the configuration, the `mbus`/`wmbus` profile
/// sections, meter keys.
@Suite struct MBusConfigurationTests {
    typealias F = ConfigurationFixtures

    static var context: ConfigurationContext {
        var profiles = F.context.profiles
        profiles["kam-403"] = .init(protocolKind: .mbus, quantities: ["heat_energy"])
        profiles["sen-iperl"] = .init(protocolKind: .wmbus, quantities: ["water_volume"])
        return ConfigurationContext(profiles: profiles, supportedProtocols: [.modbus, .mbus, .wmbus])
    }

    @Test func mbusAddressesLoad() throws {
        let text = F.document(meters: [
            #"{"id": "h1", "bus": "bus1", "protocol": "mbus", "address": 250, "profile": "kam-403"}"#,
            #"{"id": "h2", "bus": "bus1", "protocol": "mbus", "address": "774477442C2D3404", "profile": "kam-403"}"#,
            #"{"id": "h3", "bus": "bus1", "protocol": "mbus", "address": "7744FFFF", "profile": "kam-403"}"#,
            #"{"id": "w1", "bus": "bus2", "protocol": "wmbus", "address": "12345699", "profile": "sen-iperl"}"#,
        ])
        let config = try ConfigurationLoader.load(text: text, source: "t", context: Self.context)
        #expect(config.meters[0].address == .mbusPrimary(250))
        #expect(config.meters[1].address == .mbusSecondary(MBusSecondaryAddress(text: "774477442C2D3404")!))
        #expect(config.meters[1].address.description == "774477442C2D3404")
        guard case .mbusSecondary(let wild) = config.meters[2].address else { Issue.record("not secondary"); return }
        #expect(wild.digits == [7, 7, 4, 4, nil, nil, nil, nil] && wild.manufacturer == nil)
        guard case .wmbus(let w) = config.meters[3].address else { Issue.record("not wmbus"); return }
        #expect(w.matches(MBusIdentity(number: 0x1234_5699, manufacturer: MBusManufacturer.code("SEN")!, version: 0x68, medium: 7)))
    }

    static func issues(_ text: String, context: ConfigurationContext) -> [ValidationIssue] {
        do {
            _ = try ConfigurationLoader.load(text: text, source: "t", context: context)
            return []
        } catch {
            return error.issues
        }
    }

    @Test func badMBusAddressesAreNamed() {
        let text = F.document(meters: [
            #"{"id": "h1", "bus": "bus1", "protocol": "mbus", "address": 251, "profile": "kam-403"}"#,
            #"{"id": "h2", "bus": "bus1", "protocol": "mbus", "address": "77447744XYZ", "profile": "kam-403"}"#,
            #"{"id": "w1", "bus": "bus2", "protocol": "wmbus", "address": "1234F699", "profile": "sen-iperl"}"#,
            #"{"id": "w2", "bus": "bus2", "protocol": "wmbus", "address": 5, "profile": "sen-iperl"}"#,
        ])
        let issues = Self.issues(text, context: Self.context)
        let paths = issues.map(\.path)
        #expect(paths == ["$.meters[0].address", "$.meters[1].address", "$.meters[2].address", "$.meters[3].address"])
        #expect(issues[0].problem == "out of range" && issues[0].expected?.contains("1–250") == true)
        #expect(issues[2].problem.contains("in full"))
        #expect(issues[3].problem == "wrong type")
        // The default build refuses them until the bus owner drives them.
        let refused = Self.issues(F.document(meters: [#"{"id": "h1", "bus": "bus1", "protocol": "mbus", "address": 5, "profile": "kam-403"}"#]),
                                  context: ConfigurationContext(profiles: Self.context.profiles))
        #expect(refused.contains { $0.problem == "protocol not supported by this build yet" })
    }

    static let profile = """
    {"id": "x-hca", "name": "X", "manufacturer": "X", "source": "test", "protocol": "wmbus",
     "wmbus": {"identification": [{"manufacturer": "QDS", "version": [53], "medium": 8}],
               "records": [{"quantity": "hca_units", "vif": "hca-units", "unit": ""},
                           {"quantity": "meter_uptime", "vifBytes": "A5FF21", "scale": 2, "unit": "s", "storage": 3, "tariff": 1}],
               "vectors": [{"source": "s", "telegram": "0102", "key": "000102030405060708090A0B0C0D0E0F", "values": {"hca_units": 1}}]}}
    """

    @Test func mbusProfileSectionsLoad() throws {
        let p = try MeterProfileLoader.parse(Self.profile, source: "x")
        let map = try #require(p.mbus)
        #expect(p.protocolKind == .wmbus && p.quantities == ["hca_units", "meter_uptime"])
        #expect(map.identifications == [MBusModelIdentification(manufacturer: MBusManufacturer.code("QDS")!, versions: [53], media: [8])])
        #expect(map.records[1].selector == .vifBytes([0xA5, 0xFF, 0x21]) && map.records[1].storage == 3 && map.records[1].tariff == 1)
        #expect(map.records[1].scale == 2)
        #expect(map.vectors[0].key?.count == 16 && map.vectors[0].values == ["hca_units": 1])
        #expect(map.matches(MBusIdentity(number: 1, manufacturer: MBusManufacturer.code("QDS")!, version: 53, medium: 8)))
        #expect(!map.matches(MBusIdentity(number: 1, manufacturer: MBusManufacturer.code("QDS")!, version: 54, medium: 8)))
    }

    @Test func mbusProfileProblemsAreAllReported() {
        let bad = Self.profile
            .replacingOccurrences(of: "\"QDS\"", with: "\"Qds\"")
            .replacingOccurrences(of: "\"hca-units\"", with: "\"hca\"")
            .replacingOccurrences(of: "\"vifBytes\": \"A5FF21\"", with: "\"vifBytes\": \"A5FF21\", \"vif\": \"energy\"")
            .replacingOccurrences(of: "{\"hca_units\": 1}", with: "{\"water_volume\": 1}")
        do {
            _ = try MeterProfileLoader.parse(bad, source: "x")
            Issue.record("accepted")
        } catch {
            let paths = error.issues.map(\.path)
            #expect(paths.contains("$.wmbus.identification[0].manufacturer"))
            #expect(paths.contains("$.wmbus.records[0].vif"))
            #expect(paths.contains("$.wmbus.records[1]"))
            #expect(paths.contains("$.wmbus.vectors[0].values.water_volume"))
        }
    }

    @Test func meterKeysParseWithoutShowingTheKey() throws {
        let key = try MeterKey.parse("000102030405060708090a0b0c0d0e0f" + "cecee288").get()
        #expect(key.bytes == Array(0..<16) && "\(key)" == "AES-128 key (hidden)")
        guard case .failure(let p) = MeterKey.parse("000102030405060708090a0b0c0d0e0f" + "cecee289") else { Issue.record("accepted"); return }
        #expect(!p.description.contains("0102"))
        let file = #"{"format": "concentrator-meter-key/1", "meter": "w1", "encryption": "000102030405060708090a0b0c0d0e0f"}"#
        #expect(try MeterKeyDocument.key("encryption", in: file, meter: "w1").get() == key)
        guard case .failure(let other) = MeterKeyDocument.key("encryption", in: file, meter: "w2") else { Issue.record("wrong meter"); return }
        #expect(other.description.contains("w2") && !other.description.contains("0001"))
        guard case .failure = MeterKeyDocument.key("authentication", in: file, meter: "w1") else { Issue.record("no such key"); return }
    }
}
