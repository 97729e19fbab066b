// libFuzzer entry for the first parser a device runs on an untrusted MQTT payload on its ack topic:
// `BatchAck.verify`. Built and run by `scripts/fuzz.sh ack` against the Wire module.
//
// Inputs with bit 0 of the first byte set get a valid signature by the trusted ack key appended, so
// the fuzzer reaches everything behind the signature check; an ack that verifies encodes back to the
// same signed bytes.
import ConcentratorCore
import Wire

private let ackKey = try! SigningPrivateKey(seed: (0..<32).map { 0x70 &+ UInt8($0) })
private let trusted = [ackKey.publicKey]

@_cdecl("LLVMFuzzerTestOneInput")
public func batchAckFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    guard let selector = bytes.first else { return 0 }
    let input = Array(bytes.dropFirst())
    let signed = selector & 1 == 1
    let message = signed ? input + ackKey.sign(input) : input
    for device in ["gw-0001", "x"] {
        guard let ack = try? BatchAck.verify(message, deviceID: device, trustedKeys: trusted) else { continue }
        precondition(ack.deviceID == device, "an ack for another device verified")
        precondition(signed, "an ack verified without the trusted key's signature")
        precondition(Array(ack.encoded(signedBy: ackKey).prefix(input.count)) == input, "a verified ack does not encode back")
    }
    return 0
}
