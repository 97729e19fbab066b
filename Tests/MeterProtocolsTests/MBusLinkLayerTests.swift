import Testing
import ConcentratorCore
@testable import MeterProtocols

/// EN 13757-2 link layer: frames, the incremental splitter and the echo filter.
@Suite struct MBusLinkLayerTests {
    /// OMS Vol.2 Annex N, N.2.2 "M-Bus meter with no encryption" (as published in the Annex and
    /// reproduced in tudborg/exmbus test/spec/oms_vol2_annex_n_test.exs): RSP_UD from secondary
    /// address FD, long header of ELS gas meter 12345678, volume 28504.27 m3.
    static let annexN22 = Hex.decode("6820206808FD7278563412931533032A0000000C1427048502046D32371F1502FD1700008916")!
    /// Kamstrup MULTICAL 403 RSP_UD, wmbusmeters src/driver_kamheat.cc test Kamstrup_403_mbus.
    static let multical403 = Hex.decode("68464668084a72447744772d2c3404060000000406ce86000004ff073444020004ff08f8ce0100041411680300043B0f02000002593c19025da41104ff220000000004a5ff21c7d02700d916")!
    /// A Diehl RSP_UD published with its checksum in the wireless-mbus-parser tests (crcHandler.test.ts, "Wired M-Bus CRC check ok").
    static let diehlWired = Hex.decode("6858586808057281052661A51170073E3000000C13000200008C1013000000008C2013000200003B3BDDBDEB0B26504701025ADB000266B900046D0C0B752B4C1300020000CC101300000000CC201300020000426C5F2C42EC7E7F2CDD16")!

    @Test func shortFramesMatchTheStandardExamples() throws {
        // EN 13757-2 §5: SND_NKE to address 5 is 10 40 05 45 16; REQ_UD2 with FCB set to 5 is 10 7B 05 80 16.
        #expect(MBusFrame.short(control: MBusControl.sndNKE, address: 5).encode() == [0x10, 0x40, 0x05, 0x45, 0x16])
        #expect(MBusFrame.short(control: MBusControl.reqUD2 | MBusControl.fcb, address: 5).encode() == [0x10, 0x7B, 0x05, 0x80, 0x16])
        #expect(try MBusFrame.decode([0xE5]) == .acknowledgement)
        #expect(try MBusFrame.decode([0x10, 0x40, 0xFD, 0x3D, 0x16]) == .short(control: 0x40, address: 0xFD))
        #expect(throws: MBusFrameError.badChecksum(expected: 0x45, got: 0x46)) { try MBusFrame.decode([0x10, 0x40, 0x05, 0x46, 0x16]) }
        #expect(throws: MBusFrameError.badStopByte(0x17)) { try MBusFrame.decode([0x10, 0x40, 0x05, 0x45, 0x17]) }
    }

    @Test func longFramesDecodeAndEncodeBack() throws {
        for bytes in [Self.annexN22, Self.multical403, Self.diehlWired] {
            let frame = try MBusFrame.decode(bytes)
            guard case .long(let c, _, let ci, _) = frame else { Issue.record("not a long frame"); continue }
            #expect(c == MBusControl.rspUD)
            #expect(ci == MBusCI.responseLongHeader)
            #expect(frame.encode() == bytes)
        }
        guard case .long(_, let a, _, let data) = try MBusFrame.decode(Self.annexN22) else { return }
        #expect(a == 0xFD && data.count == 0x20 - 3)
        // The selection of N.2.2's meter (EN 13757-3 §11.5): 68 0B 0B 68 53 FD 52 78 56 34 12 93 15 33 03 94 16.
        let select = MBusSelection.frame(MBusSecondaryAddress(exactly: MBusIdentity(number: 0x1234_5678, manufacturer: 0x1593, version: 0x33, medium: 0x03)))
        #expect(select.encode() == Hex.decode("680B0B6853FD527856341293153303" + "94" + "16")!)
    }

    @Test func everyTruncationOfAFrameIsAnError() {
        for bytes in [Self.annexN22, Self.multical403, [0x10, 0x40, 0x05, 0x45, 0x16]] {
            for cut in 0..<bytes.count {
                #expect(throws: MBusFrameError.self) { try MBusFrame.decode(Array(bytes.prefix(cut))) }
            }
        }
    }

    /// A stream as a level converter delivers it: noise, E5, a short frame, two long frames, a
    /// corrupt long frame, split at every byte boundary and fed in two parts, or byte by byte.
    @Test func theSplitterFindsTheSameFramesAtEverySplit() {
        var corrupt = Self.multical403
        corrupt[20] ^= 0x01
        let stream: [UInt8] = [0x00, 0x42] + [0xE5] + [0x10, 0x40, 0x05, 0x45, 0x16] + Self.annexN22 + Self.diehlWired + corrupt + [0xE5]
        var whole = MBusFrameSplitter()
        let expected = whole.push(stream)
        #expect(expected.count == 7)
        #expect(expected.first == .noise([0x00, 0x42]))
        if case .corrupt(let raw, .badChecksum)? = expected.dropLast().last { #expect(raw == corrupt) } else { Issue.record("corrupt frame not reported") }
        #expect(expected.last == .frame(.acknowledgement))
        for split in 0...stream.count {
            var s = MBusFrameSplitter()
            let events = s.push(Array(stream[0..<split])) + s.push(Array(stream[split...]))
            #expect(Self.mergedNoise(events) == Self.mergedNoise(expected), "split at \(split)")
            #expect(s.pendingCount == 0)
        }
        var bytewise = MBusFrameSplitter()
        let single = stream.flatMap { bytewise.push([$0]) }
        #expect(Self.mergedNoise(single) == Self.mergedNoise(expected))
    }

    /// Noise may arrive in several events when the stream is split; joined, it must be the same.
    static func mergedNoise(_ events: [MBusFrameSplitter.Event]) -> [MBusFrameSplitter.Event] {
        var out: [MBusFrameSplitter.Event] = []
        for e in events {
            if case .noise(let b) = e, case .noise(let a)? = out.last { out[out.count - 1] = .noise(a + b) } else { out.append(e) }
        }
        return out
    }

    @Test func theEchoFilterStripsTheRequestAtEverySplit() {
        let request = MBusFrame.short(control: 0x7B, address: 5).encode()
        let answer = Self.multical403
        let line = request + answer
        for split in 0...line.count {
            var filter = MBusEchoFilter()
            filter.arm(with: request)
            let out = filter.filter(Array(line[0..<split])) + filter.filter(Array(line[split...]))
            #expect(out == answer, "split at \(split)")
            #expect(filter.echoesStripped == 1)
        }
        // No echo: everything passes, also an answer that starts like the request.
        var filter = MBusEchoFilter()
        let longRequest = MBusSelection.frame(.anyMeter).encode()
        filter.arm(with: longRequest)
        #expect(filter.filter(Array(answer.prefix(3))) + filter.filter(Array(answer.dropFirst(3))) == answer)
        #expect(filter.echoesStripped == 0)
        // A wait that ends mid-echo gives the held bytes back.
        filter.arm(with: request)
        #expect(filter.filter(Array(request.prefix(2))) == [])
        #expect(filter.release() == Array(request.prefix(2)))
    }
}
