// libFuzzer entry for wireless M-Bus: frame formats A and B with their CRCs (and detection), the
// ELL/AFL/TPL peeling, decoding with security modes 5 and 7 through a stand-in cipher, the
// router's heard list, and the iM871A HCI decoder. Built and run by scripts/fuzz.sh wmbus-frames
// with Fuzz/MBusFuzzSupport.swift (the stand-in cipher).
import ConcentratorCore
@testable import MeterProtocols

@_cdecl("LLVMFuzzerTestOneInput")
public func wirelessMBusFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    // Half the inputs get valid CRCs so the layers behind them are reached.
    var input = bytes
    if bytes.count >= 11, bytes[0] & 0x40 != 0 {
        var frame = Array(bytes.prefix(250))
        frame[0] = UInt8(frame.count - 1)
        input = WirelessLinkFrame.encode(frame, format: bytes[1] & 1 == 0 ? .a : .b)
    }

    for crc in [WirelessFrameCRC.detect, .absent, .present(.a), .present(.b)] {
        guard let frame = try? WirelessLinkFrame.decode(input, crc: crc) else { continue }
        precondition(frame.bytes.count == Int(frame.bytes[0]) + 1 && frame.bytes.count >= WirelessLinkFrame.minimumLength)
        if let format = frame.format {
            precondition((try? WirelessLinkFrame.decode(WirelessLinkFrame.encode(frame.bytes, format: format), crc: .present(format)))?.bytes == frame.bytes,
                         "format \(format) does not round-trip")
        }
        if let layers = try? WirelessTelegramDecoder.peel(frame) {
            precondition(layers.transportOffset < frame.bytes.count)
            let key = MeterKey(bytes: Array(repeating: bytes.last ?? 0, count: 16))
            _ = try? WirelessTelegramDecoder.decode(layers, key: key, cipher: FuzzCipher())
        }
    }

    var router = WirelessMeterRouter(meters: [WirelessMeterEntry(meter: "m1", address: MBusSecondaryAddress(digits: [1, 2, 3, 4, 5, 6, 7, 8]),
                                                                 key: MeterKey(bytes: Array(0..<16)), map: fuzzMap)],
                                     cipher: FuzzCipher(), heardCapacity: 4)
    _ = router.receive(ReceivedRadioFrame(bytes: input, crc: .detect, rssiDBm: -60), at: Timestamp(seconds: 0))
    precondition(router.heard.count <= 4)

    var receiver = IM871AProtocol()
    let split = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
    for event in receiver.receive(Array(bytes[0..<split])) + receiver.receive(Array(bytes[split...])) {
        if case .telegram(let t) = event {
            precondition(!t.bytes.isEmpty && Int(t.bytes[0]) == t.bytes.count - 1)
            _ = router.receive(t, at: Timestamp(seconds: 1))
        }
    }
    precondition(receiver.pendingCount <= 266, "the HCI decoder holds more than one message")
    return 0
}
