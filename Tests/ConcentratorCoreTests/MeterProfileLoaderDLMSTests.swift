import Foundation
import Testing
@testable import ConcentratorCore

/// The `dlms` section of a profile (MeterProfileLoader+DLMS.swift, Docs/profiles.md "dlms").
@Suite struct MeterProfileLoaderDLMSTests {
    static let valid = """
    {
      "id": "test-dlms", "name": "Test DLMS meter", "manufacturer": "Nobody", "source": "made up for the tests",
      "protocol": "dlms",
      "dlms": {
        "clientAddress": 1, "logicalDevice": 1, "serverAddressSize": 4, "maxInfoField": 256, "windowSize": 3,
        "security": {"level": "hls-gmac", "encryptionKey": "guek", "authenticationKey": "gak"},
        "clock": "0-0:1.0.0.255", "disconnectControl": "0-0:96.3.10.255",
        "objects": [
          {"quantity": "active_energy_import", "class": 3, "logicalName": "1-0:1.8.0.255", "profile": true},
          {"quantity": "voltage_l1", "class": 1, "logicalName": "1-0:32.7.0*255", "scaler": -1, "unit": 35, "note": "data object"}
        ],
        "loadProfiles": [{"logicalName": "1-0:99.1.0.255", "periodSeconds": 900, "captureObjects": [
          {"class": 8, "logicalName": "0-0:1.0.0.255", "attribute": 2},
          {"class": 3, "logicalName": "1-0:1.8.0.255", "attribute": 2, "quantity": "active_energy_import", "scaler": 0, "unit": 30}
        ]}],
        "vectors": [{"quantity": "active_energy_import", "value": "06 00 BC 61 4E", "scalerUnit": "02020F00161E", "expected": 12345.678}]
      }
    }
    """

    @Test func parsesAValidDLMSProfile() throws {
        let profile = try MeterProfileLoader.parse(Self.valid, source: "test.json")
        #expect(profile.protocolKind == .dlms && profile.modbus == nil)
        let d = try #require(profile.dlms)
        #expect(d.clientAddress == 1 && d.logicalDevice == 1 && d.serverAddressSize == 4 && d.maxInfoField == 256 && d.windowSize == 3)
        #expect(d.security == .highLevelGMAC(encryptionKey: "guek", authenticationKey: "gak"))
        #expect(d.clock == [0, 0, 1, 0, 0, 255] && d.disconnectControl == [0, 0, 96, 3, 10, 255])
        #expect(d.objects == [
            DLMSObjectSpec(quantity: "active_energy_import", classID: 3, logicalName: [1, 0, 1, 8, 0, 255], inLoadProfile: true),
            DLMSObjectSpec(quantity: "voltage_l1", classID: 1, logicalName: [1, 0, 32, 7, 0, 255], scaler: -1, unit: 35),
        ])
        #expect(d.loadProfiles.first?.series == .profile && d.loadProfiles.first?.captureObjects.count == 2)
        #expect(d.vectors == [DLMSTestVector(quantity: "active_energy_import", value: [6, 0, 0xBC, 0x61, 0x4E],
                                             scalerUnit: [2, 2, 0x0F, 0, 0x16, 0x1E], expected: 12345.678)])
        #expect(profile.quantities == ["active_energy_import", "voltage_l1"])
        #expect(profile.profileQuantities == ["active_energy_import"])
    }

    static func problems(_ replace: String, with replacement: String) -> [String] {
        let text = valid.replacingOccurrences(of: replace, with: replacement)
        #expect(text != valid, "the edit applies")
        do {
            _ = try MeterProfileLoader.parse(text, source: "bad.json")
            return []
        } catch {
            return error.issues.map { "\($0.path): \($0.problem)" }
        }
    }

    @Test func rejectsWhatIsWrongWithItsPath() {
        #expect(Self.problems("\"1-0:1.8.0.255\", \"profile\"", with: "\"1-0:1.8.0.256\", \"profile\"")
                == ["$.dlms.objects[0].logicalName: not an OBIS code"])
        #expect(Self.problems("\"scaler\": -1, \"unit\": 35", with: "\"scaler\": -1, \"unit\": 33").first?.contains("does not convert") == true)
        #expect(Self.problems("\"scaler\": -1, \"unit\": 35", with: "\"scaler\": -1").first?.contains("give both") == true)
        #expect(Self.problems("\"scaler\": -1, \"unit\": 35, ", with: "").first?.contains("class 1") == true)
        #expect(Self.problems("\"level\": \"hls-gmac\", \"encryptionKey\": \"guek\", ", with: "\"level\": \"hls-gmac\", ")
                == ["$.dlms.security.encryptionKey: missing required key"])
        #expect(Self.problems("\"authenticationKey\": \"gak\"", with: "\"authenticationKey\": \"gak\", \"key\": \"000102030405060708090a0b0c0d0e0f\"")
                == ["$.dlms.security.key: unknown key"])
        #expect(Self.problems("\"quantity\": \"active_energy_import\", \"value\"", with: "\"quantity\": \"voltage_l2\", \"value\"")
                == ["$.dlms.vectors[0].quantity: no object reads this quantity"])
        #expect(Self.problems("{\"class\": 8, \"logicalName\": \"0-0:1.0.0.255\", \"attribute\": 2},", with: "").first?.contains("no clock column") == true)
        #expect(Self.problems("\"value\": \"06 00 BC 61 4E\"", with: "\"value\": \"06 0\"") == ["$.dlms.vectors[0].value: not hexadecimal bytes"])
        #expect(Self.problems("\"windowSize\": 3", with: "\"windowSize\": 8").first?.hasPrefix("$.dlms.windowSize") == true)
        #expect(Self.problems("\"class\": 3, \"logicalName\": \"1-0:1.8.0.255\", \"profile\"", with: "\"class\": 7, \"logicalName\": \"1-0:1.8.0.255\", \"profile\"")
                .first?.hasPrefix("$.dlms.objects[0].class") == true)
    }
}
