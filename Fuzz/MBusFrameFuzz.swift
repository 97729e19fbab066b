// libFuzzer entry for the wired M-Bus link layer (EN 13757-2): frame decoding, the incremental
// splitter, the echo filter, and the readout and scan sessions fed the input as the slaves'
// answers. Built and run by scripts/fuzz.sh mbus-frames, compiled together with the M-Bus sources
// against the ConcentratorCore module. Checks: nothing crashes, a decoded frame encodes back to
// its bytes, the splitter accounts for every byte, sessions end.
import ConcentratorCore
@testable import MeterProtocols

@_cdecl("LLVMFuzzerTestOneInput")
public func mbusFrameFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []

    if let frame = try? MBusFrame.decode(bytes) {
        precondition(frame.encode() == bytes, "decoded frame does not encode back")
    }

    // The splitter, fed in two parts, accounts for every byte.
    let split = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
    var splitter = MBusFrameSplitter()
    let events = splitter.push(Array(bytes[0..<split])) + splitter.push(Array(bytes[split...]))
    var seen: [UInt8] = []
    for event in events {
        switch event {
        case .frame(let f): seen += f.encode()
        case .noise(let n): seen += n
        case .corrupt(let raw, _): seen += raw
        }
    }
    seen += splitter.reset()
    precondition(seen == bytes, "the splitter lost or invented bytes")

    // The echo filter never invents bytes.
    var echo = MBusEchoFilter()
    echo.arm(with: Array(bytes.prefix(5)))
    let passed = echo.filter(bytes) + echo.release()
    precondition(passed.count <= bytes.count, "the echo filter invented bytes")

    // Sessions with the input as every answer (cut into chunks) must finish.
    var readout = MBusReadoutSession(target: bytes.first.map { $0 & 1 == 0 } ?? true ? .primary(5) : .secondary(.anyMeter),
                                     options: MBusSessionOptions(maximumTelegrams: 3, retries: 1))
    drive(&readout, answer: bytes, limit: 40)
    var scan = MBusSecondaryScanSession(options: MBusSessionOptions(retries: 0),
                                        start: MBusSecondaryAddress(digits: [1, 2, 3, 4, 5, 6, 7, nil]))
    drive(&scan, answer: bytes, limit: 120)
    return 0
}

/// Plays the line: every write is answered with `answer` in 7-byte chunks, then the wait runs out.
private func drive<S: MeterSession>(_ session: inout S, answer: [UInt8], limit: Int) {
    var step = session.start()
    for _ in 0..<limit {
        switch step {
        case .finished, .failed: return
        case .transmit, .receive, .awaitMore, .pause:
            var next: MeterSessionStep<S.Outcome>?
            var i = 0
            while i < answer.count {
                let s = session.received(Array(answer[i..<min(answer.count, i + 7)]))
                i += 7
                if case .awaitMore = s { continue }
                next = s
                break
            }
            step = next ?? session.timedOut()
        }
    }
}
