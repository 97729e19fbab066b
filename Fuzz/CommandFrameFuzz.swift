// libFuzzer entry for the first parsers a device runs on an untrusted MQTT payload on its command
// topic: the signed frame (`SignedCommandFrame.parse`), the lenient id peek, the body's JSON object
// (duplicate keys refused) and the envelope (`CommandEnvelope.decode`); and the same for replies the
// head-end reads (`CommandReply.verify`). Built and run by `scripts/fuzz.sh command` against Wire.
//
// Bit 0 of the first byte: the rest is a body, framed and signed with a fixed key (bit 1: as a reply,
// else as a command), so the fuzzer reaches the envelope and reply checks; otherwise the rest is a
// whole frame. Every envelope or reply that decodes encodes (canonically) to bytes that decode to the same.
import ConcentratorCore
import Wire

private let signer = try! SigningPrivateKey(seed: (0..<32).map { 0x90 &+ UInt8($0) })

@_cdecl("LLVMFuzzerTestOneInput")
public func commandFrameFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    guard let selector = bytes.first else { return 0 }
    let input = Array(bytes.dropFirst())
    let framed = selector & 1 == 1
    let magic = selector & 2 == 0 ? CommandEnvelope.magic : CommandReply.magic
    let message = framed ? SignedCommandFrame.encode(magic: magic, body: input, signedBy: signer) : input
    _ = CommandEnvelope.peekIdentity(input)
    if let frame = try? SignedCommandFrame.parse(message, magic: CommandEnvelope.magic, maximumBodyBytes: CommandEnvelope.maximumBodyBytes) {
        if framed && magic == CommandEnvelope.magic { precondition(frame.verifies(with: signer.publicKey) && frame.body == input, "a frame we signed does not verify") }
        if let object = try? frame.bodyObject(), let envelope = try? CommandEnvelope.decode(body: object) {
            let again = try? SignedCommandFrame.parse(envelope.signed(by: signer), magic: CommandEnvelope.magic,
                                                      maximumBodyBytes: CommandEnvelope.maximumBodyBytes)
            let decoded = again.flatMap { try? $0.bodyObject() }.flatMap { try? CommandEnvelope.decode(body: $0) }
            precondition(decoded?.body() == envelope.body(), "an envelope does not survive encoding")
        }
    }
    if let (reply, _) = try? CommandReply.verify(message, device: "gw-0001", deviceKeys: [signer.publicKey]) {
        let again = try? CommandReply.verify(reply.signed(by: signer), device: "gw-0001", deviceKeys: [signer.publicKey])
        precondition(again?.reply.body() == reply.body(), "a reply does not survive encoding")
    }
    return 0
}
