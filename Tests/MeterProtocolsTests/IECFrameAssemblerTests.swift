import Testing
import ConcentratorCore
@testable import MeterProtocols

/// The incremental decoder fed every vector split at every byte (and in three parts), truncated at
/// every length, and with the faults a line produces: a wrong BCC, a missing ETX, 8-bit bytes, noise.
@Suite struct IECFrameAssemblerTests {
    /// The frames `bytes` cut into when appended in the pieces that `cuts` marks.
    static func frames(_ bytes: [UInt8], cuts: [Int], role: IECFrameAssembler.Role, optionSelect: Bool = false) throws -> [IECFrame] {
        var assembler = IECFrameAssembler(role: role)
        assembler.expectsOptionSelect = optionSelect
        var out: [IECFrame] = []
        var start = 0
        for cut in cuts + [bytes.count] {
            assembler.append(bytes[start..<cut])
            start = cut
            while let frame = try assembler.next() { out.append(frame) }
        }
        #expect(assembler.buffer.isEmpty)
        return out
    }

    static let clientStreams: [(String, [UInt8])] = [
        ("ME162 identification", IECVectors.me162Identification),
        ("ME162 readout", IECVectors.me162Readout),
        ("LEM identification", IECVectors.lemIdentification),
        ("LEM readout", IECVectors.lemReadout),
        ("LEM P0", IECVectors.lemMessages[0].1),
        ("LEM date answer then ACK and NAK", IECVectors.lemMessages[3].1 + [0x06, 0x15]),
        ("ME162 R1 answers", IECVectors.me162Messages[1].1 + [0x15] + IECVectors.me162Messages[3].1),
        ("pwitab answer whose BCC is 0x04", IECVectors.pwitabMessages[5].1),
        ("partial block then last block", IECBlock(header: 0x02, body: Array("P.01(1)".utf8), isPartial: true).encoded
            + IECBlock(header: 0x02, body: Array("(2)".utf8)).encoded),
    ]

    @Test(arguments: 0..<clientStreams.count)
    func clientStreamsSplitAtEveryByte(_ index: Int) throws {
        let (name, bytes) = Self.clientStreams[index]
        let whole = try Self.frames(bytes, cuts: [], role: .client)
        #expect(!whole.isEmpty, "\(name)")
        for cut in 0...bytes.count {
            #expect(try Self.frames(bytes, cuts: [cut], role: .client) == whole, "\(name) split at \(cut)")
        }
        for a in stride(from: 0, through: bytes.count, by: 7) {
            for b in stride(from: a, through: bytes.count, by: 11) {
                #expect(try Self.frames(bytes, cuts: [a, b], role: .client) == whole, "\(name) split at \(a), \(b)")
            }
        }
        // Truncated at every length: never a frame beyond what is complete, never an error.
        for length in 0..<bytes.count {
            var assembler = IECFrameAssembler(role: .client)
            assembler.append(bytes[0..<length])
            var got: [IECFrame] = []
            while let frame = try assembler.next() { got.append(frame) }
            #expect(got.count < whole.count || (got == whole && length == bytes.count), "\(name) truncated at \(length)")
        }
    }

    @Test func theDecodedFramesAreTheDocumentedMessages() throws {
        let ident = try Self.frames(IECVectors.me162Identification, cuts: [], role: .client)
        #expect(ident == [.line(Array("/ISK5ME162-0033".utf8))])
        let readout = try Self.frames(IECVectors.me162Readout, cuts: [], role: .client)
        guard case .block(let block)? = readout.first else { Issue.record("no block"); return }
        #expect(block.header == IECCharacter.stx && !block.isPartial)
        #expect(block.encoded == IECVectors.me162Readout)
        // [pwitab] a BCC that happens to be EOT (0x04) ends nothing: the ETX did.
        let eotCheck = try Self.frames(IECVectors.pwitabMessages[5].1, cuts: [], role: .client)
        #expect(eotCheck == [.block(IECBlock(header: 0x02, body: Array("3:14(314*kWh)4:15(415*kWh)\r\n".utf8)))])
        let partial = try Self.frames(IECBlock(header: 0x02, body: Array("P.01(1)".utf8), isPartial: true).encoded, cuts: [], role: .client)
        guard case .block(let p)? = partial.first else { Issue.record("no partial block"); return }
        #expect(p.isPartial && p.text == "P.01(1)")
        #expect(try Self.frames([0x06, 0x15], cuts: [1], role: .client) == [.acknowledge, .repeatRequest])
    }

    @Test func deviceRoleSplitsRequestsOptionSelectsAndCommands() throws {
        let request = Array("/?45678903!\r\n".utf8)
        let option = Array("\u{06}051\r\n".utf8)
        let command = IECVectors.lemMessages[1].1
        let stream = request + option + command + [0x06] + IECVectors.lemMessages[7].1
        let whole = try Self.frames(stream, cuts: [], role: .device, optionSelect: true)
        #expect(whole == [.line(Array("/?45678903!".utf8)), .optionSelect(Array("\u{06}051".utf8)),
                          .block(IECBlock(header: 0x01, body: Array("P1\u{02}(00000000)".utf8))), .acknowledge,
                          .block(IECBlock(header: 0x01, body: Array("B0".utf8)))])
        for cut in 0...stream.count {
            #expect(try Self.frames(stream, cuts: [cut], role: .device, optionSelect: true) == whole, "split at \(cut)")
        }
        // Without an option select awaited, ACK is always a lone ACK.
        #expect(try Self.frames([0x06], cuts: [], role: .device) == [.acknowledge])
    }

    @Test func aWrongBlockCheckIsATypedErrorAndTheStreamGoesOn() throws {
        var damaged = IECVectors.me162Readout
        damaged[damaged.count - 1] ^= 0x20
        var assembler = IECFrameAssembler(role: .client)
        assembler.append(damaged + IECVectors.me162Messages[1].1)
        #expect {
            _ = try assembler.next()
        } throws: { error in
            guard case .badBlockCheck(let expected, let received, let length)? = error as? IECFrameError else { return false }
            return expected == UInt8(ascii: "L") && received == UInt8(ascii: "L") ^ 0x20 && length == damaged.count
        }
        // The next message still decodes.
        #expect(try assembler.next() == .block(IECBlock(header: 0x02, body: Array("(0032907.842*kWh)".utf8))))
        #expect(IECFrameError.badBlockCheck(expected: 1, received: 2, blockLength: 3).sessionError.kind == .badCheck)
    }

    @Test func aMissingETXIsNoticedAfterTheReadoutsEnd() throws {
        // "!" CR LF followed by anything but ETX (here the next sign-on's identification).
        let body = Array(IECVectors.me162Readout.dropLast(2)) + IECVectors.me162Identification
        var assembler = IECFrameAssembler(role: .client)
        assembler.append(body)
        #expect(throws: IECFrameError.missingETX(blockLength: IECVectors.me162Readout.count - 2)) { _ = try assembler.next() }
        #expect(try assembler.next() == .line(Array("/ISK5ME162-0033".utf8)))
        // A readout that just stops after "! CR LF" reports its progress for the timeout error.
        var stopped = IECFrameAssembler(role: .client)
        stopped.append(IECVectors.me162Readout.dropLast(2))
        #expect(try stopped.next() == nil)
        #expect(stopped.progress == .block(bytes: IECVectors.me162Readout.count - 2, afterReadoutEnd: true))
        var halfway = IECFrameAssembler(role: .client)
        halfway.append(IECVectors.me162Readout.prefix(40))
        #expect(try halfway.next() == nil)
        #expect(halfway.progress == .block(bytes: 40, afterReadoutEnd: false))
    }

    @Test func eightBitBytesNoiseAndOverlongMessagesAreRejected() throws {
        var a = IECFrameAssembler(role: .client)
        a.append([0xAF] + IECVectors.me162Identification)
        #expect(throws: IECFrameError.notSevenBit(0xAF)) { _ = try a.next() }
        #expect(try a.next() == .line(Array("/ISK5ME162-0033".utf8)))
        var b = IECFrameAssembler(role: .client)
        b.append([0x41])
        #expect(throws: IECFrameError.unexpectedByte(0x41)) { _ = try b.next() }
        var c = IECFrameAssembler(role: .client)
        c.append(Array("/ISK5ME162\n".utf8))
        #expect(throws: IECFrameError.lineWithoutCarriageReturn) { _ = try c.next() }
        var d = IECFrameAssembler(role: .client)
        d.append([0x2F] + [UInt8](repeating: 0x41, count: 200))
        #expect(throws: IECFrameError.tooLong(limit: IECFrameAssembler.lineLimit)) { _ = try d.next() }
        var e = IECFrameAssembler(role: .client, blockLimit: 100)
        e.append([0x02] + [UInt8](repeating: 0x41, count: 200))
        #expect(throws: IECFrameError.tooLong(limit: 100)) { _ = try e.next() }
        var f = IECFrameAssembler(role: .client)
        f.append([0x02, 0x41, 0xC1, 0x03, 0x00])
        #expect(throws: IECFrameError.notSevenBit(0xC1)) { _ = try f.next() }
    }

    /// Random streams: the assembler returns frames or typed errors and always makes progress.
    @Test func randomStreamsNeverTrapAndAlwaysDrain() {
        var rng = SplitMix64(seed: 0x1EC)
        let pieces: [[UInt8]] = [IECVectors.me162Readout, IECVectors.me162Identification, [0x06], [0x15], IECVectors.lemMessages[0].1,
                                 Array("/?12!\r\n".utf8), Array("\u{06}050\r\n".utf8)]
        for _ in 0..<3000 {
            var stream: [UInt8] = []
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                if Bool.random(using: &rng) {
                    stream += pieces[Int.random(in: 0..<pieces.count, using: &rng)]
                } else {
                    stream += (0..<Int.random(in: 0...20, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                }
            }
            if !stream.isEmpty, Bool.random(using: &rng) { stream[Int.random(in: 0..<stream.count, using: &rng)] ^= 0x10 }
            for role in [IECFrameAssembler.Role.client, .device] {
                var assembler = IECFrameAssembler(role: role)
                assembler.expectsOptionSelect = role == .device
                assembler.append(stream)
                var steps = 0
                while steps <= stream.count + 1 {
                    steps += 1
                    do { if try assembler.next() == nil { break } } catch {}
                }
                #expect(steps <= stream.count + 1, "no progress")
            }
        }
    }
}
