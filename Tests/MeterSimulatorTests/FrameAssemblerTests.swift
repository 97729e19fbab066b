import Testing
import ConcentratorCore
import MeterProtocols
@testable import MeterSimulator

@Suite struct FrameAssemblerTests {
    /// Modbus over Serial Line V1.02 §2.5.1.1: 1 start + 8 data + 1 stop = 10 bits; at 9600 baud a
    /// character lasts 10/9600 s = 1041.67 µs and the inter-frame silence is 3.5 characters.
    let line = LineSettings(baud: 9600)
    let request = ModbusRTUFrame.encode(ModbusRequest(slave: 1, pdu: .readInputRegisters(start: 0, count: 2)))
    let t0 = MonotonicInstant(nanoseconds: 1_000_000_000)

    @Test func aWholeRequestEndsEightCharactersAfterItArrived() throws {
        var a = FrameAssembler(line: line)
        a.receive(request, at: t0)
        let taken = a.takeCompleteFrame()
        let frame = try #require(taken)
        #expect(frame.bytes == request)
        #expect(frame.end.nanoseconds - t0.nanoseconds == 8 * 1_041_667)
        #expect(a.buffer.isEmpty)
        #expect(a.silenceDeadline == nil)
    }

    @Test func aRequestInTwoPiecesKeepsItsWireTime() throws {
        var a = FrameAssembler(line: line)
        a.receive(Array(request[0..<4]), at: t0)
        let early = a.takeCompleteFrame()
        #expect(early == nil)
        // The second half arrives while the first is still "on the wire": no gap.
        a.receive(Array(request[4...]), at: t0.adding(nanoseconds: 2_000_000))
        let joined = a.takeCompleteFrame()
        #expect(try #require(joined).end.nanoseconds - t0.nanoseconds == 8 * 1_041_667)
        // The same halves 10 ms apart: the frame ends 4 characters after the second half.
        var b = FrameAssembler(line: line)
        b.receive(Array(request[0..<4]), at: t0)
        b.receive(Array(request[4...]), at: t0.adding(nanoseconds: 10_000_000))
        let apart = b.takeCompleteFrame()
        #expect(try #require(apart).end.nanoseconds - t0.nanoseconds == 10_000_000 + 4 * 1_041_667)
    }

    @Test func unknownFunctionsEndBySilence() throws {
        // Function 0x2B/0x0E (read device identification), 7 bytes with CRC: longer than the 4 bytes
        // `requestLength` assumes for unknown functions, so only the silence can end it.
        let frame = ModbusCRC.appending(to: [0x01, 0x2B, 0x0E, 0x01, 0x00])
        var a = FrameAssembler(line: line)
        a.receive(frame, at: t0)
        let byLength = a.takeCompleteFrame()
        #expect(byLength == nil)
        let deadline = try #require(a.silenceDeadline)
        #expect(deadline.nanoseconds - t0.nanoseconds == 7 * 1_041_667 + 3_645_833)
        let tooEarly = a.takeSilentFrame(now: deadline.adding(nanoseconds: -1))
        #expect(tooEarly == nil)
        let bySilence = a.takeSilentFrame(now: deadline)
        #expect(try #require(bySilence).bytes == frame)
    }

    @Test func aPoisonedFrameIsDroppedAtTheNextSilence() throws {
        var a = FrameAssembler(line: line)
        a.receive(Array(request[0..<5]), at: t0)
        a.poison()
        a.receive(Array(request[5...]), at: t0)
        let complete = a.takeCompleteFrame()
        #expect(complete == nil)
        let silent = a.takeSilentFrame(now: t0.adding(nanoseconds: 1_000_000_000))
        #expect(silent == nil)
        a.receive(request, at: t0.adding(nanoseconds: 2_000_000_000))
        let next = a.takeCompleteFrame()
        #expect(try #require(next).bytes == request)
    }

    @Test func fastLinesUseTheFixedSilence() {
        // Above 19200 baud the inter-frame silence is fixed at 1750 µs (§2.5.1.1).
        #expect(FrameAssembler(line: LineSettings(baud: 115_200)).silenceNanoseconds == 1_750_000)
        // 8E1 has 11 bits per character.
        #expect(FrameAssembler(line: LineSettings(baud: 19_200, parity: .even)).characterNanoseconds == 572_917)
    }
}
