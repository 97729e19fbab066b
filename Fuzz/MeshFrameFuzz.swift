// libFuzzer entry for the mesh's decoders of untrusted radio and network input: the frame codec
// (header, routed section, lengths), the beacon, routed-payload and hop-ack decoders, fragments and
// the reassembler, and the RN2483 modem's line decoder. Built and run by scripts/fuzz.sh mesh;
// compiled together with the pure frame and link-protocol sources of Sources/Mesh against the
// ConcentratorCore module (the MAC needs swift-crypto and is outside this build: a MAC check only
// follows a successful parse). Besides "never crash", it checks that what parses re-encodes to
// something that parses to the same value, and that the reassembler stays within its bounds.
import ConcentratorCore

@_cdecl("LLVMFuzzerTestOneInput")
public func meshFrameFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    guard let selector = bytes.first else { return 0 }
    let input = Array(bytes.dropFirst())
    switch selector % 4 {
    case 0: frame(input)
    case 1: reassembly(input)
    case 2: modemLines(input, chunk: Int(selector >> 2) + 1)
    default: payloads(input, kind: selector >> 2)
    }
    return 0
}

private func frame(_ input: [UInt8]) {
    guard let parsed = try? MeshFrameCodec.parse(input) else { return }
    let again = MeshFrameCodec.authenticatedBytes(of: parsed.frame) + parsed.mac
    guard let reparsed = try? MeshFrameCodec.parse(again) else { preconditionFailure("a parsed frame re-encodes to bytes that do not parse") }
    precondition(reparsed.frame == parsed.frame, "frame round trip changed the frame")
    precondition(parsed.frame.payload.count <= MeshFrame.maximumPayloadLength)
    payloads(parsed.frame.payload, kind: parsed.frame.header.type.rawValue)
}

private func payloads(_ input: [UInt8], kind: UInt8) {
    switch kind % 3 {
    case 0:
        if let beacon = try? MeshBeacon.decode(input) {
            precondition((try? MeshBeacon.decode(beacon.encoded())) == beacon, "beacon round trip changed the beacon")
        }
    case 1:
        if let ack = try? MeshHopAck.decode(input) {
            precondition((try? MeshHopAck.decode(ack.encoded())) == ack, "hop-ack round trip changed the ack")
        }
    default:
        if let payload = try? MeshRoutedPayload.decode(input) {
            precondition((try? MeshRoutedPayload.decode(payload.encoded())) == payload, "routed payload round trip changed it")
        }
    }
}

/// The input as a sequence of datagrams, each prefixed by its length byte, fed to one reassembler
/// at increasing instants.
private func reassembly(_ input: [UInt8]) {
    var reassembler = MeshReassembler(maximumPartials: 4, maximumBufferedBytes: MeshFrame.maximumFrameLength, timeoutMilliseconds: 1_000)
    var offset = 0
    var now: Int64 = 0
    while offset < input.count {
        let length = Int(input[offset])
        offset += 1
        let datagram = Array(input[offset..<min(input.count, offset + length)])
        offset += length
        now += Int64(datagram.first ?? 0) * 10
        if let fragment = try? MeshFragment.decode(datagram),
           let whole = try? reassembler.accept(fragment, at: Timestamp(milliseconds: now)) {
            precondition(whole.count <= MeshFrame.maximumFrameLength, "reassembled beyond the frame limit")
            frame(whole)
        }
        precondition(reassembler.partialCount <= 4, "more partial frames than allowed")
        precondition(reassembler.heldBytes <= MeshFrame.maximumFrameLength + 255, "reassembler holds more than its bound")
    }
}

private func modemLines(_ input: [UInt8], chunk: Int) {
    var decoder = RN2483Protocol.LineDecoder()
    var whole = RN2483Protocol.LineDecoder()
    var pieces: [RN2483Protocol.Response] = []
    var offset = 0
    while offset < input.count {
        pieces += decoder.feed(Array(input[offset..<min(input.count, offset + chunk)]))
        offset += chunk
    }
    precondition(pieces == whole.feed(input), "the line decoder depends on how the stream is split")
}
