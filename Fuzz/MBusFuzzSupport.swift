// Shared by the M-Bus fuzz entries (scripts/fuzz.sh mbus-records, wmbus-frames): a stand-in
// cipher and a profile section. No libFuzzer entry here.
import ConcentratorCore
@testable import MeterProtocols

/// A stand-in for AES: XOR with the key (so "decryption" is cheap and reversible) and a checksum
/// as the MAC. Only for reaching code paths; never a cipher.
struct FuzzCipher: OMSCipher {
    func decryptCBC(_ data: [UInt8], key: [UInt8], iv: [UInt8]) -> [UInt8]? {
        guard key.count == 16, iv.count == 16, data.count % 16 == 0 else { return nil }
        return data.enumerated().map { $0.element ^ key[$0.offset % 16] ^ iv[$0.offset % 16] }
    }
    func encryptCBC(_ data: [UInt8], key: [UInt8], iv: [UInt8]) -> [UInt8]? { decryptCBC(data, key: key, iv: iv) }
    func cmac(_ data: [UInt8], key: [UInt8]) -> [UInt8]? {
        guard key.count == 16 else { return nil }
        var out = key
        for (i, b) in data.enumerated() { out[i % 16] = out[i % 16] &* 31 &+ b }
        return out
    }
}

let fuzzMap = MBusRecordMap(identifications: [MBusModelIdentification(manufacturer: 0x2C2D)], records: [
    MBusRecordRule(quantity: "heat_energy", selector: .kind(.energy), unit: .kilowattHour),
    MBusRecordRule(quantity: "heat_volume", selector: .kind(.volume), storage: 1, unit: .cubicMetre),
    MBusRecordRule(quantity: "meter_uptime", selector: .vifBytes([0xA5, 0xFF, 0x21]), unit: .second),
    MBusRecordRule(quantity: "hca_units", selector: .kind(.hcaUnits), tariff: 1, subunit: 1, unit: .none),
    MBusRecordRule(quantity: "heat_flow_temperature", selector: .kind(.flowTemperature), function: .maximum, scale: 0.1, unit: .degreeCelsius),
])

