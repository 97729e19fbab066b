// libFuzzer entry for the EN 13757-3 application layer: the record decoder (DIF/DIFE/VIF/VIFE,
// every data type), the transport header, the application decoder with security modes 5 and 7
// (through a stand-in cipher, so the paths after decryption are reached), and a profile's rules.
// Built and run by scripts/fuzz.sh mbus-records with Fuzz/MBusFuzzSupport.swift.
import ConcentratorCore
@testable import MeterProtocols

@_cdecl("LLVMFuzzerTestOneInput")
public func mbusRecordFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []

    if let block = try? MBusRecordDecoder.decode(bytes) {
        var previous = -1
        for record in block.records {
            precondition(record.offset > previous && !record.dib.isEmpty && !record.vib.isEmpty, "record bookkeeping")
            precondition(record.dib.count <= 11 && record.function == [.instantaneous, .maximum, .minimum, .error][Int((record.dib[0] >> 4) & 3)])
            previous = record.offset
            if let v = record.scaledValue { _ = v.isFinite }
        }
        let reading = MBusProfileDecoder.read(block.records, map: fuzzMap)
        precondition(reading.values.count + reading.missing.count == fuzzMap.quantities.count, "every quantity accounted for")
        for value in reading.values { precondition((value.value == nil) != (value.error == nil)) }
    }
    _ = try? MBusTransportHeader.parse(bytes, at: 0)
    let key = MeterKey(bytes: Array((bytes.prefix(16) + [UInt8](repeating: 0x2F, count: 16)).prefix(16)))
    let link = MBusIdentity(number: 0x1234_5678, manufacturer: 0x2C2D, version: 1, medium: 4)
    let afl = OMSAuthenticationFields(messageControl: 0x25, messageCounter: 7, mac: bytes.count > 8 ? Array(bytes.suffix(8)) : [])
    for authentication in [nil, afl] {
        do {
            let app = try MBusApplicationLayer.decode(bytes, ciOffset: 0, linkIdentity: link, authentication: authentication, key: key,
                                                      cipher: FuzzCipher())
            precondition([0, 5, 7].contains(app.securityMode))
        } catch {
            precondition(!error.detail.isEmpty)
        }
    }
    _ = MBusDataCoding.bcd(bytes.prefix(8))
    if bytes.count >= 6 {
        _ = MBusDataCoding.dateTimeI(bytes)
        _ = MBusDataCoding.dateTimeF(bytes)
        _ = MBusDataCoding.dateG(bytes)
        _ = MBusDataCoding.timeJ(bytes)
    }
    return 0
}
