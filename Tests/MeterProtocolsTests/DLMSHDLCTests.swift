import Testing
import ConcentratorCore
@testable import MeterProtocols

/// Hex to bytes for test vectors (spaces allowed).
func bytes(_ hex: String) -> [UInt8] { Hex.decode(hex)! }

/// HDLC (IEC 62056-46) framing against frames captured from real exchanges.
///
/// Sources, cited per vector:
/// - [GX1] Gurux.DLMS.Python client trace, public client 16 → server 1 (pastebin "Vvs6PqXK",
///   "gurux_dlms version: 1.0.64"): SNRM `7E A0 07 03 21 93 0F 01 7E`, its UA with parameters,
///   the RR `7E A0 07 03 21 51 11 E4 7E`.
/// - [GX2] Gurux GXDLMSDirector trace, logical-name association (gist knogi/f3d4853b…): AARQ,
///   AARE (with a non-minimal BER length 82 00 29) and GET of 0-0:40.0.0.255 attribute 2.
/// - [GX3] GXDLMSDirector 8.2 trace with a two-byte server address 02 23 (pastebin "BS3unhaZ").
/// - [GX4] DLMS trace with a four-byte server address 00 02 88 EB (pastebin "7HTFDmEv").
/// - [JD] jDLMS Fcs16BuilderTest: "A0 0A 00 02 60 4D 41 93 FF 98" has a good FCS.
/// - [SEL] a profile read by range with a two-byte address 02 21 (Gurux trace quoted in a public
///   DLMS parser, "TX: 22:07:28 7E A0 71 02 21 05 10 52 67 …").
enum HDLCVectors {
    static let snrm = bytes("7E A0 07 03 21 93 0F 01 7E")                                         // [GX1]
    static let ua = bytes("7E A0 1E 21 03 73 C3 7A 81 80 12 05 01 80 06 01 3E 07 04 00 00 00 01 08 04 00 00 00 01 07 22 7E") // [GX1]
    static let rr = bytes("7E A0 07 03 21 51 11 E4 7E")                                           // [GX1]
    static let aarq = bytes("7E A0 2B 03 21 10 FB AF E6 E6 00 60 1D A1 09 06 07 60 85 74 05 08 01 01 BE 10 04 0E 01 00 00 00 06 5F 1F 04 00 00 1E 1D FF FF C5 E4 7E") // [GX2]
    static let aare = bytes("7E A0 39 21 03 30 2E D2 E6 E7 00 61 82 00 29 A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 00 A3 05 A1 03 02 01 00 BE 10 04 0E 08 00 06 5F 1F 04 00 00 10 1D 03 EF 00 07 44 36 7E") // [GX2]
    static let get = bytes("7E A0 19 03 21 32 6F D8 E6 E6 00 C0 01 C1 00 0F 00 00 28 00 00 FF 02 00 91 53 7E") // [GX2]
    static let twoByteRequest = bytes("7E A0 1A 02 23 03 98 25 68 E6 E6 00 C0 01 C1 00 1B 00 00 02 00 00 FF 02 00 8E 3F 7E") // [GX3]
    static let twoByteAnswer = bytes("7E A0 13 03 02 23 DA 38 3E E6 E7 00 C4 01 C1 00 01 00 8A D8 7E")  // [GX3]
    static let fourByteSNRM = bytes("7E A0 23 00 02 88 EB 41 93 19 32 81 80 14 05 02 05 DC 06 02 05 DC 07 04 00 00 00 01 08 04 00 00 00 01 A9 0D 7E") // [GX4]
    static let fourByteUA = bytes("7E A0 21 41 00 02 88 EB 73 B8 BB 81 80 12 05 01 F8 06 01 3E 07 04 00 00 00 01 08 04 00 00 00 01 48 0E 7E") // [GX4]
    static let rangeRequest = bytes("""
        7E A0 71 02 21 05 10 52 67 E6 E6 00 C0 01 C1 00 07 01 00 63 01 00 FF 02 01 01 02 04 02 04 12 00 08 09 06 00 00 01 00 00 FF 0F
        02 12 00 00 09 0C 07 E7 01 0D 05 15 00 00 00 80 00 00 09 0C 07 E7 09 06 03 00 00 00 00 80 00 00 01 02 02 04 12 00 08 09 06 00
        00 01 00 00 FF 0F 02 12 00 00 02 04 12 00 08 09 06 00 00 01 00 00 FF 0F 04 12 00 00 9F 78 7E
        """) // [SEL]
    static let all = [snrm, ua, rr, aarq, aare, get, twoByteRequest, twoByteAnswer, fourByteSNRM, fourByteUA, rangeRequest]
}

@Suite struct HDLCCheckTests {
    @Test func x25CheckOfTheCapturedFrames() {
        // [JD]: the last two bytes are the FCS of the first eight.
        #expect(HDLCCheck.matches(bytes("A0 0A 00 02 60 4D 41 93 FF 98"), covering: 0..<8))
        // CRC-16/X.25 check value of "123456789" is 0x906E.
        #expect(HDLCCheck.compute(Array("123456789".utf8)) == 0x906E)
        for frame in HDLCVectors.all {
            #expect(HDLCCheck.matches(frame, covering: 1..<(frame.count - 3)), "FCS of \(Hex.encode(frame))")
        }
        var broken = HDLCVectors.snrm
        broken[5] ^= 0x01
        #expect(!HDLCCheck.matches(broken, covering: 1..<(broken.count - 3)))
        #expect(ModbusCRC.compute([0xA0, 0x07]) != HDLCCheck.compute([0xA0, 0x07]), "not the Modbus CRC")
    }
}

@Suite struct HDLCFrameTests {
    @Test func decodesAndReencodesEveryCapturedFrame() throws {
        for vector in HDLCVectors.all {
            let frame = try HDLCFrame.decode(vector)
            #expect(frame.encoded() == vector, "round trip of \(Hex.encode(vector))")
        }
    }

    @Test func readsAddressesOfOneTwoAndFourBytes() throws {
        let snrm = try HDLCFrame.decode(HDLCVectors.snrm)
        #expect(snrm.destination == .server(logical: 1, physical: nil))
        #expect(snrm.source == .client(16))
        #expect(snrm.control == .setNormalResponseMode)
        #expect(HDLCFrame(destination: .server(logical: 1, physical: nil), source: .client(16), control: .setNormalResponseMode).encoded()
                == HDLCVectors.snrm)

        let two = try HDLCFrame.decode(HDLCVectors.twoByteRequest)
        #expect(two.destination == HDLCAddress(upper: 1, lower: 17, size: 2))
        #expect(two.destination == .server(logical: 1, physical: 17))
        #expect(two.source == .client(1))
        let answer = try HDLCFrame.decode(HDLCVectors.twoByteAnswer)
        #expect(answer.control == .information(send: 5, receive: 6, final: true))
        #expect(answer.source == two.destination && answer.destination == two.source)

        let four = try HDLCFrame.decode(HDLCVectors.fourByteSNRM)
        #expect(four.destination == HDLCAddress(upper: 1, lower: 8821, size: 4))
        #expect(four.destination == .server(logical: 1, physical: 8821))
        #expect(four.source == .client(32))
        let ua = try HDLCFrame.decode(HDLCVectors.fourByteUA)
        #expect(ua.source == four.destination && ua.destination == four.source)
    }

    @Test func controlFieldsAndSequenceNumbers() throws {
        #expect(try HDLCFrame.decode(HDLCVectors.aarq).control == .information(send: 0, receive: 0, final: true))
        #expect(try HDLCFrame.decode(HDLCVectors.aare).control == .information(send: 0, receive: 1, final: true))
        #expect(try HDLCFrame.decode(HDLCVectors.get).control == .information(send: 1, receive: 1, final: true))
        #expect(try HDLCFrame.decode(HDLCVectors.rr).control == .receiveReady(receive: 2, final: true))
        for control in [HDLCControl.disconnect, .unnumberedAcknowledge, .disconnectedMode, .frameReject, .unnumberedInformation(final: true),
                        .receiveNotReady(receive: 5, final: false), .information(send: 6, receive: 2, final: false)] {
            #expect(HDLCControl(byte: control.byte) == control)
        }
        #expect(HDLCControl.disconnect.byte == 0x53 && HDLCControl.disconnectedMode.byte == 0x1F && HDLCControl.frameReject.byte == 0x97)
    }

    @Test func negotiatesTheUAParameters() throws {
        let ua = try HDLCFrame.decode(HDLCVectors.ua)
        let p = try HDLCParameters.decode(ua.information)
        #expect(p == HDLCParameters(maxInfoTransmit: 128, maxInfoReceive: 62, windowTransmit: 1, windowReceive: 1))
        // A client proposing 128 both ways may send at most 62 bytes per frame to this meter.
        #expect(HDLCParameters.negotiated(proposal: .defaults, answer: p).maxInfoTransmit == 62)
        let snrm = try HDLCParameters.decode(try HDLCFrame.decode(HDLCVectors.fourByteSNRM).information)
        #expect(snrm == HDLCParameters(maxInfoTransmit: 1500, maxInfoReceive: 1500, windowTransmit: 1, windowReceive: 1))
        #expect(try HDLCParameters.decode([]) == .defaults)
        #expect(try HDLCParameters.decode(HDLCParameters(maxInfoTransmit: 300, maxInfoReceive: 40, windowTransmit: 7, windowReceive: 3).encoded)
                == HDLCParameters(maxInfoTransmit: 300, maxInfoReceive: 40, windowTransmit: 7, windowReceive: 3))
        #expect(throws: ByteFormatError.self) { try HDLCParameters.decode(bytes("81 80 03 07 01 09")) } // window 9
    }

    @Test func rejectsBadChecksAndMalformedFrames() {
        var hcs = HDLCVectors.aarq
        hcs[7] ^= 0x40
        #expect(throws: HDLCFrameError.badHeaderCheck) { try HDLCFrame.decode(hcs) }
        var fcs = HDLCVectors.aarq
        fcs[20] ^= 0x01
        #expect(throws: HDLCFrameError.badFrameCheck) { try HDLCFrame.decode(fcs) }
        var type = HDLCVectors.snrm
        type[1] = 0xB0
        #expect(throws: HDLCFrameError.self) { try HDLCFrame.decode(type) }
        // Every truncation is an error, never a crash.
        for vector in HDLCVectors.all {
            for n in 0..<vector.count { #expect(throws: HDLCFrameError.self) { try HDLCFrame.decode(Array(vector.prefix(n))) } }
        }
    }

    @Test func segmentedFramesCarryTheSBit() throws {
        let f = HDLCFrame(destination: .client(16), source: .server(logical: 1, physical: 17), control: .information(send: 2, receive: 3, final: false),
                          segmented: true, information: [1, 2, 3])
        let e = f.encoded()
        #expect(e[1] == 0xA8)
        #expect(try HDLCFrame.decode(e) == f)
    }
}

@Suite struct HDLCFrameSplitterTests {
    static let stream = HDLCVectors.snrm + HDLCVectors.ua + HDLCVectors.aarq + HDLCVectors.aare + HDLCVectors.twoByteAnswer
    static let frames = [HDLCVectors.snrm, HDLCVectors.ua, HDLCVectors.aarq, HDLCVectors.aare, HDLCVectors.twoByteAnswer]

    @Test func splitsAtEveryByteBoundary() {
        for cut in 0...Self.stream.count {
            var s = HDLCFrameSplitter()
            let out = s.append(Self.stream[..<cut]) + s.append(Self.stream[cut...])
            #expect(out == Self.frames, "cut at \(cut)")
        }
        var s = HDLCFrameSplitter()
        var out: [[UInt8]] = []
        for b in Self.stream { out += s.append([b]) }
        #expect(out == Self.frames)
    }

    @Test func skipsNoiseAndSharesFlags() {
        var s = HDLCFrameSplitter()
        // Noise, a 7E followed by garbage, then two frames sharing one flag.
        let shared = HDLCVectors.snrm + HDLCVectors.rr.dropFirst()
        let out = s.append(bytes("00 FF 7E 13 37") + shared)
        #expect(out == [HDLCVectors.snrm, HDLCVectors.rr])
        #expect(s.discarded == 5)
    }

    @Test func flagValuesInsideAFrameAreData() throws {
        // No byte stuffing in DLMS HDLC: 7E inside the information field and the checks is data.
        let frame = HDLCFrame(destination: .client(16), source: .server(logical: 1, physical: 17), control: .information(send: 0, receive: 0, final: true),
                              information: [0xE6, 0xE7, 0x00, 0x7E, 0x7E, 0xA0, 0x07, 0x7E]).encoded()
        for cut in 0...frame.count {
            var s = HDLCFrameSplitter()
            #expect(s.append(frame[..<cut]) + s.append(frame[cut...]) == [frame], "cut \(cut)")
        }
        #expect(try HDLCFrame.decode(frame).information.suffix(5) == [0x7E, 0x7E, 0xA0, 0x07, 0x7E])
    }

    @Test func resynchronisesAfterAFrameWithoutClosingFlag() {
        var broken = HDLCVectors.aarq
        broken[broken.count - 1] = 0x00
        var s = HDLCFrameSplitter()
        #expect(s.append(broken + HDLCVectors.rr) == [HDLCVectors.rr])
    }
}
