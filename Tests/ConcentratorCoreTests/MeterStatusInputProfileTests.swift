import Foundation
import Testing
@testable import ConcentratorCore

/// The status inputs of DLMS and IEC profiles (`alarmRegister`, `errorCode`; MeterStatusInputs.swift,
/// Docs/profiles.md): what loads, what is refused with its path, and the flags they give alarm rules.
@Suite struct MeterStatusInputProfileTests {
    @Test func profileSectionsLoadAndRefuseBadBits() throws {
        let dlms = MeterProfileLoaderDLMSTests.valid.replacingOccurrences(
            of: "\"disconnectControl\": \"0-0:96.3.10.255\",",
            with: "\"disconnectControl\": \"0-0:96.3.10.255\", \"alarmRegister\": {\"bits\": {\"tamper\": 2, \"cover_open\": 0}},")
        let profile = try MeterProfileLoader.parse(dlms, source: "test.json")
        #expect(profile.dlms?.alarmRegister == DLMSAlarmRegisterSpec(logicalName: [0, 0, 97, 98, 0, 255],
                                                                     bits: [.init(name: "cover_open", bit: 0), .init(name: "tamper", bit: 2)])
                || profile.dlms?.alarmRegister == DLMSAlarmRegisterSpec(logicalName: [0, 0, 97, 98, 0, 255],
                                                                        bits: [.init(name: "tamper", bit: 2), .init(name: "cover_open", bit: 0)]))
        #expect(Set(profile.statusFlags) == ["tamper", "cover_open"] && profile.hasRelay)
        for (bad, problem) in [("{\"bits\": {\"tamper\": 32}}", "$.dlms.alarmRegister.bits.tamper"),
                               ("{\"logicalName\": \"0-0:97.98.0.256\", \"bits\": {\"tamper\": 1}}", "$.dlms.alarmRegister.logicalName"),
                               ("{\"bits\": {\"Tamper\": 1}}", "$.dlms.alarmRegister.bits.Tamper")] {
            let text = MeterProfileLoaderDLMSTests.valid.replacingOccurrences(
                of: "\"disconnectControl\": \"0-0:96.3.10.255\",", with: "\"disconnectControl\": \"0-0:96.3.10.255\", \"alarmRegister\": \(bad),")
            do {
                _ = try MeterProfileLoader.parse(text, source: "bad.json")
                Issue.record("accepted \(bad)")
            } catch {
                #expect(error.issues.contains { $0.path == problem }, "\(error.issues)")
            }
        }
        let iecText = """
        {"id": "t-iec", "name": "t", "manufacturer": "t", "source": "t", "protocol": "iec62056-21",
         "iec": {"registers": [{"obis": "1.8.0", "quantity": "active_energy_import", "unit": "kWh"}],
                 "errorCode": {"obis": "F.F.0", "bits": {"meter_error": 31}}}}
        """
        let iec = try MeterProfileLoader.parse(iecText, source: "iec.json")
        #expect(iec.iec?.errorCode == IECErrorCodeSpec(obis: "F.F.0", bits: [.init(name: "meter_error", bit: 31)]))
        #expect(iec.statusFlags == ["meter_error"] && !iec.hasRelay)
        do {
            _ = try MeterProfileLoader.parse(iecText.replacingOccurrences(of: "\"F.F.0\"", with: "\"F..F\""), source: "iec.json")
            Issue.record("accepted a bad error-code OBIS")
        } catch {
            #expect(error.issues.contains { $0.path == "$.iec.errorCode.obis" }, "\(error.issues)")
        }
    }
}
