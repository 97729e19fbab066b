import Testing
import ConcentratorCore
@testable import MeterProtocols

/// Client sessions replayed against captured meter answers: every frame the session transmits
/// must equal the one Gurux sent in the same situation, and the answers are fed one byte at a
/// time. (Sessions against the simulated meter, for every security level, are in
/// MeterSimulatorTests/DLMSSessionTests.)
@Suite struct DLMSSessionReplayTests {
    /// Gurux's public client: address 16, server 1, conformance 00 1E 1D, max PDU FFFF.
    static let settings = DLMSClientSettings(clientAddress: 16, serverAddress: .server(logical: 1, physical: nil), maxReceivePDUSize: 0xFFFF,
                                             proposedConformance: 0x001E1D)

    /// Feeds `answer` one byte at a time; returns the first step that is not `.awaitMore`.
    static func feed<S: MeterSession>(_ session: inout S, _ answer: [UInt8]) -> MeterSessionStep<S.Outcome> {
        for (i, b) in answer.enumerated() {
            let step = session.received([b])
            if case .awaitMore = step { continue }
            #expect(i == answer.count - 1, "the session acted before the answer was complete")
            return step
        }
        return .awaitMore
    }

    static func transmitted<O>(_ step: MeterSessionStep<O>) -> [UInt8]? {
        if case .transmit(let bytes, _, _) = step { return bytes }
        return nil
    }

    @Test func publicAssociationMatchesTheGuruxTraceByteForByte() throws {
        var session = DLMSSession(DLMSAssociateConversation(), association: DLMSAssociation(settings: Self.settings))
        #expect(Self.transmitted(session.start()) == HDLCVectors.snrm)                  // [GX1]
        #expect(Self.transmitted(Self.feed(&session, HDLCVectors.ua)) == HDLCVectors.aarq) // [GX1] UA → [GX2] AARQ
        guard case .finished(let outcome) = Self.feed(&session, HDLCVectors.aare) else {
            Issue.record("association did not finish")
            return
        }
        let association = outcome.value
        #expect(association.associated && association.serverMaxPDUSize == 0x03EF && association.conformance == 0x00101D)
        #expect(association.negotiated.maxInfoTransmit == 62, "the meter receives at most 62 bytes per frame")

        // The next GET is the [GX2] request of the association's object list: N(S)=1, N(R)=1, invoke id C1.
        let read = COSEMAttribute(classID: 15, logicalName: .currentAssociation, attribute: 2)
        var get = DLMSSession(DLMSServiceConversation([.get(read)]), association: association)
        #expect(Self.transmitted(get.start()) == HDLCVectors.get)
        // Answer: a two-frame segmented answer (built here with the meter's addresses and numbering).
        let meter = HDLCAddress.server(logical: 1, physical: nil), client = HDLCAddress.client(16)
        let apdu = [0xE6, 0xE7, 0x00] + XDLMSAPDU.getResponseNormal(invokeID: 0xC1, result: .data(.array([.unsigned(1), .unsigned(2)]))).encoded
        let first = HDLCFrame(destination: client, source: meter, control: .information(send: 1, receive: 2, final: true), segmented: true,
                              information: Array(apdu.prefix(6))).encoded()
        let second = HDLCFrame(destination: client, source: meter, control: .information(send: 2, receive: 2, final: true),
                               information: Array(apdu.dropFirst(6))).encoded()
        #expect(Self.transmitted(Self.feed(&get, first)) == HDLCVectors.rr)             // [GX1]: RR N(R)=2
        guard case .finished(let read1) = Self.feed(&get, second) else { Issue.record("GET did not finish"); return }
        #expect(read1.value == [.data(.array([.unsigned(1), .unsigned(2)]))])
    }

    @Test func frameForAnotherStationIsIgnoredAndDMFails() {
        var session = DLMSSession(DLMSAssociateConversation(), association: DLMSAssociation(settings: Self.settings))
        _ = session.start()
        // A UA from another meter (server 2) on the same line: not ours.
        let foreign = HDLCFrame(destination: .client(16), source: .server(logical: 2, physical: nil), control: .unnumberedAcknowledge).encoded()
        if case .awaitMore = session.received(foreign) {} else { Issue.record("a foreign frame was acted on") }
        let dm = HDLCFrame(destination: .client(16), source: .server(logical: 1, physical: nil), control: .disconnectedMode).encoded()
        guard case .failed(let error) = session.received(dm) else { Issue.record("DM to SNRM did not fail"); return }
        #expect(error.kind == .refused)
    }

    @Test func garbledAnswerIsAskedForAgainThenFails() {
        var session = DLMSSession(DLMSAssociateConversation(), association: DLMSAssociation(settings: Self.settings))
        _ = session.start()
        var bad = HDLCVectors.ua
        bad[bad.count - 2] ^= 0xFF
        #expect(Self.transmitted(session.received(bad)) == HDLCVectors.snrm, "one retry: SNRM again")
        guard case .failed(let error) = session.received(bad) else { Issue.record("second bad FCS did not fail"); return }
        #expect(error.kind == .badCheck)
        var silent = DLMSSession(DLMSAssociateConversation(), association: DLMSAssociation(settings: Self.settings))
        _ = silent.start()
        #expect(Self.transmitted(silent.timedOut()) == HDLCVectors.snrm)
        guard case .failed(let timeout) = silent.timedOut() else { Issue.record("no timeout failure"); return }
        #expect(timeout.kind == .timeout)
    }

    @Test func servicesNeedAnAssociation() {
        var session = DLMSSession(DLMSServiceConversation(DLMSOperations.readClock()), association: DLMSAssociation(settings: Self.settings))
        guard case .failed(let error) = session.start() else { Issue.record("started without association"); return }
        #expect(error.kind == .aborted)
    }

    @Test func rowStreamAcrossBlocksAtEveryCut() throws {
        let rows: [DLMSData] = (0..<5).map { .structure([.octetString(COSEMDateTime(Timestamp(seconds: 1_700_000_000 + Int64($0) * 900)).bytes),
                                                         .doubleLongUnsigned(UInt32($0 * 1000))]) }
        let encoded = DLMSDataCodec.encode(.array(rows))
        for cut in 1..<encoded.count {
            var stream = DLMSRowStream()
            let a = try stream.append(Array(encoded.prefix(cut)), final: false)
            let b = try stream.append(Array(encoded.dropFirst(cut)), final: true)
            #expect((a + b).map { DLMSData.structure($0) } == rows, "cut \(cut)")
        }
        var truncated = DLMSRowStream()
        #expect(throws: ByteFormatError.self) { try truncated.append(Array(encoded.dropLast()), final: true) }
    }
}
