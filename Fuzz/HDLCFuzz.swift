// libFuzzer entry for the DLMS HDLC codecs: the incremental frame splitter, the frame decoder and
// the SNRM/UA parameter decoder. Built and run by scripts/fuzz.sh hdlc (swiftc -sanitize=fuzzer,address),
// compiled together with the Crypto-free files of Sources/MeterProtocols/DLMS against ConcentratorCore.
// Besides "never crash", it checks that the splitter gives the same frames at any split, and that
// every accepted frame encodes to bytes that decode to the same frame.
import ConcentratorCore
@testable import MeterProtocols

@_cdecl("LLVMFuzzerTestOneInput")
public func hdlcFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    guard let first = bytes.first else { return 0 }

    // The same stream at one split and byte by byte gives the same frames.
    var whole = HDLCFrameSplitter()
    let frames = whole.append(bytes)
    var split = HDLCFrameSplitter()
    let cut = Int(first) % (bytes.count + 1)
    precondition(split.append(bytes[..<cut]) + split.append(bytes[cut...]) == frames, "split changes the frames")

    for frame in frames {
        precondition(frame.first == 0x7E && frame.last == 0x7E, "frame without flags")
        if let decoded = try? HDLCFrame.decode(frame) {
            // Value-level: U frames are re-encoded with the P/F bit set, an HCS over an empty
            // information field is dropped.
            precondition((try? HDLCFrame.decode(decoded.encoded())) == decoded, "decoded frame does not encode back")
            if let p = try? HDLCParameters.decode(decoded.information) {
                precondition((try? HDLCParameters.decode(p.encoded)) == p, "parameters do not round-trip")
            }
        }
    }
    // The raw input as one frame, with its checks made valid half the time.
    var candidate = bytes
    if first & 1 == 1, candidate.count >= 5 {
        candidate = [0x7E] + HDLCCheck.appending(to: Array(candidate.dropFirst().dropLast(3))) + [0x7E]
    }
    _ = try? HDLCFrame.decode(candidate)
    _ = try? HDLCParameters.decode(bytes)
    return 0
}
