import Testing
import ConcentratorCore
@testable import MeterProtocols

/// ACSE and xDLMS APDUs against published bytes:
/// - [GB-AARQ] the Green Book's LLS AARQ example (password "12345678", conformance 00 7E 1F, max PDU
///   04B0), quoted byte for byte in gocosem's TestX_encode_AARQapdu and other public DLMS stacks;
/// - [GB-HLS] the AARQ of the Green Book's HLS example (CtoS "K56iVagY", Table 43), as quoted in a
///   public DLMS test ("0x60, 0x36, 0xA1, … 0x8B, 0x07, … 0x02, 0x05, 0xAC, 0x0A, 0x80, 0x08, 0x4B …");
/// - [AARE] an AARE captured from a meter behind a gateway (result accepted, conformance 00 18 1D,
///   max PDU 00C8) quoted in a public firmware source;
/// - the Gurux traces of DLMSHDLCTests ([GX2], [GX3], [SEL]) for AARQ/AARE/GET/selective access;
/// - [GB-T40] the plaintext of the Green Book's Table 40 (GET of the clock's attribute 2, invoke id 00).
@Suite struct DLMSAPDUTests {
    static func info(_ frame: [UInt8]) throws -> [UInt8] { Array(try HDLCFrame.decode(frame).information.dropFirst(3)) }

    @Test func aarqVectors() throws {
        let lls = bytes("60 36 A1 09 06 07 60 85 74 05 08 01 01 8A 02 07 80 8B 07 60 85 74 05 08 02 01 AC 0A 80 08 31 32 33 34 35 36 37 38 BE 10 04 0E 01 00 00 00 06 5F 1F 04 00 00 7E 1F 04 B0")
        let initiate = InitiateRequest(proposedConformance: 0x007E1F, clientMaxReceivePDUSize: 0x04B0).encoded
        #expect(AARQ(context: .logicalName, mechanism: .lowLevel, authenticationValue: Array("12345678".utf8), userInformation: initiate).encoded == lls)
        let decoded = try AARQ.decode(lls)
        #expect(decoded.mechanism == .lowLevel && decoded.authenticationValue == Array("12345678".utf8))
        #expect(try InitiateRequest.decode(decoded.userInformation) == InitiateRequest(proposedConformance: 0x007E1F, clientMaxReceivePDUSize: 0x04B0))

        let hls = bytes("60 36 A1 09 06 07 60 85 74 05 08 01 01 8A 02 07 80 8B 07 60 85 74 05 08 02 05 AC 0A 80 08 4B 35 36 69 56 61 67 59 BE 10 04 0E 01 00 00 00 06 5F 1F 04 00 00 7E 1F 04 B0")
        #expect(AARQ(context: .logicalName, mechanism: .highLevelGMAC, authenticationValue: Array("K56iVagY".utf8), userInformation: initiate).encoded == hls)

        let publicClient = try Self.info(HDLCVectors.aarq) // [GX2]
        #expect(AARQ(context: .logicalName, mechanism: .none,
                     userInformation: InitiateRequest(proposedConformance: 0x001E1D, clientMaxReceivePDUSize: 0xFFFF).encoded).encoded == publicClient)
        for n in 0..<lls.count { #expect(throws: ByteFormatError.self) { try AARQ.decode(Array(lls.prefix(n))) } }
    }

    @Test func aareVectors() throws {
        let captured = try AARE.decode(try Self.info(HDLCVectors.aare)) // [GX2], BER length 82 00 29
        #expect(captured.result == .accepted && captured.context == .logicalName)
        #expect(try InitiateResponse.decode(try #require(captured.userInformation))
                == InitiateResponse(negotiatedConformance: 0x00101D, serverMaxReceivePDUSize: 0x03EF))
        let gateway = bytes("61 29 A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 00 A3 05 A1 03 02 01 00 BE 10 04 0E 08 00 06 5F 1F 04 00 00 18 1D 00 C8 00 07")
        let expected = AARE(context: .logicalName, result: .accepted,
                            userInformation: InitiateResponse(negotiatedConformance: 0x00181D, serverMaxReceivePDUSize: 0x00C8).encoded)
        #expect(expected.encoded == gateway)
        #expect(try AARE.decode(gateway) == expected)
        let rejected = AARE(context: .logicalNameCiphered, result: .rejected(permanent: true, diagnostic: 13, fromProvider: false),
                            respondingAPTitle: bytes("4D4D4D0000BC614E"), mechanism: .highLevelGMAC, authenticationValue: Array("P6wRJ21F".utf8),
                            userInformation: nil)
        #expect(try AARE.decode(rejected.encoded) == rejected)
        for n in 0..<gateway.count { #expect(throws: ByteFormatError.self) { try AARE.decode(Array(gateway.prefix(n))) } }
    }

    @Test func getRequestsAndResponses() throws {
        let association = COSEMAttribute(classID: 15, logicalName: .currentAssociation, attribute: 2)
        #expect(XDLMSAPDU.getRequestNormal(invokeID: 0xC1, attribute: association, access: nil).encoded == (try Self.info(HDLCVectors.get)))
        let modem = COSEMAttribute(classID: 27, logicalName: COSEMLogicalName(0, 0, 2, 0, 0, 255), attribute: 2)
        #expect(XDLMSAPDU.getRequestNormal(invokeID: 0xC1, attribute: modem, access: nil).encoded == (try Self.info(HDLCVectors.twoByteRequest)))
        #expect(try XDLMSAPDU.decode(try Self.info(HDLCVectors.twoByteAnswer)) == .getResponseNormal(invokeID: 0xC1, result: .data(.array([]))))
        // [GB-T40]
        let clock = COSEMAttribute(classID: 8, logicalName: .clock, attribute: 2)
        #expect(XDLMSAPDU.getRequestNormal(invokeID: 0x00, attribute: clock, access: nil).encoded == bytes("C0 01 00 00 08 00 00 01 00 00 FF 02 00"))
        let next = XDLMSAPDU.getRequestNext(invokeID: 0xC1, block: 1)
        #expect(next.encoded == bytes("C0 02 C1 00 00 00 01"))
        #expect(try XDLMSAPDU.decode(next.encoded) == next)
        let block = bytes("C4 02 C1 00 00 00 00 01 00 05 01 19 02 02 09")
        #expect(try XDLMSAPDU.decode(block) == .getResponseBlock(invokeID: 0xC1, last: false, block: 1, raw: .success(bytes("01 19 02 02 09"))))
        #expect(try XDLMSAPDU.decode(bytes("C4 01 C1 01 04")) == .getResponseNormal(invokeID: 0xC1, result: .failure(4)))
    }

    @Test func rangeSelectiveAccessMatchesTheCapture() throws {
        // [SEL]: buffer of 1-0:99.1.0.255 from 2023-01-13 21:00 to 2023-09-06 00:00 (deviation not
        // specified), two columns: the clock's time and the clock's attribute 4.
        let from = try #require(ISO8601.parse("2023-01-13T21:00:00Z")), to = try #require(ISO8601.parse("2023-09-06T00:00:00Z"))
        let access = COSEMProfile.range(from: from, to: to, deviationMinutes: nil,
                                        selected: [.clockTime, COSEMProfile.CaptureObject(classID: 8, logicalName: .clock, attribute: 4)])
        let request = XDLMSAPDU.getRequestNormal(invokeID: 0xC1, attribute: COSEMAttribute(classID: 7, logicalName: COSEMLogicalName(1, 0, 99, 1, 0, 255), attribute: 2),
                                                 access: access)
        let frame = try HDLCFrame.decode(HDLCVectors.rangeRequest)
        #expect([0xE6, 0xE6, 0x00] + request.encoded == frame.information)
        #expect(try XDLMSAPDU.decode(request.encoded) == request)
        #expect(frame.destination == .server(logical: 1, physical: 16) && frame.source == .client(2))
    }

    @Test func setActionExceptionAndErrors() throws {
        let clock = COSEMAttribute(classID: 8, logicalName: .clock, attribute: 2)
        let set = XDLMSAPDU.setRequestNormal(invokeID: 0xC1, attribute: clock, access: nil, value: .octetString(bytes("07 E7 01 0D 05 15 00 00 00 00 00 00")))
        #expect(set.encoded == bytes("C1 01 C1 00 08 00 00 01 00 00 FF 02 00 09 0C 07 E7 01 0D 05 15 00 00 00 00 00 00"))
        #expect(try XDLMSAPDU.decode(set.encoded) == set)
        #expect(try XDLMSAPDU.decode(bytes("C5 01 C1 00")) == .setResponseNormal(invokeID: 0xC1, result: 0))
        let disconnect = XDLMSAPDU.actionRequestNormal(invokeID: 0xC1, method: COSEMMethod(classID: 70, logicalName: .disconnectControl, method: 1),
                                                       parameters: .integer(0))
        #expect(disconnect.encoded == bytes("C3 01 C1 00 46 00 00 60 03 0A FF 01 01 0F 00"))
        #expect(try XDLMSAPDU.decode(disconnect.encoded) == disconnect)
        // The Green Book HLS pass 3 ACTION on the association (as quoted in DLMSSecurityTests' sources).
        let hls = bytes("C3 01 C3 00 0F 00 00 28 00 00 FF 01 01 09 11 10 00 00 00 01 1A 52 FE 7D D3 E7 27 48 97 3C 1E 28")
        guard case .actionRequestNormal(_, let m, .octetString(let f)?) = try XDLMSAPDU.decode(hls) else { Issue.record("not an action"); return }
        #expect(m == COSEMMethod(classID: 15, logicalName: .currentAssociation, method: 1) && f.count == 17)
        #expect(try XDLMSAPDU.decode(bytes("C7 01 C1 00 00")) == .actionResponseNormal(invokeID: 0xC1, result: 0, returned: nil))
        // Every truncation of a request or response is an error (the exception response is complete
        // after its first three bytes: its invocation counter is optional).
        for vector in [set.encoded, disconnect.encoded, hls, bytes("C7 01 C1 00 01 00 09 02 AB CD"), bytes("C5 01 C1 00"),
                       bytes("C4 02 C1 00 00 00 00 01 00 05 01 19 02 02 09"), bytes("C0 02 C1 00 00 00 01"), bytes("0E 01 06 00")] {
            for n in 0..<vector.count { #expect(throws: ByteFormatError.self, "\(Hex.encode(vector.prefix(n)))") { try XDLMSAPDU.decode(Array(vector.prefix(n))) } }
        }
        #expect(try XDLMSAPDU.decode(bytes("C7 01 C1 00 01 00 09 02 AB CD")) == .actionResponseNormal(invokeID: 0xC1, result: 0, returned: .data(.octetString([0xAB, 0xCD]))))
        #expect(try XDLMSAPDU.decode(bytes("D8 01 06 00 00 00 07")) == .exceptionResponse(stateError: 1, serviceError: 6))
        #expect(try XDLMSAPDU.decode(bytes("0E 01 06 00")) == .confirmedServiceError(service: 1, kind: 6, value: 0))
        #expect(throws: ByteFormatError.self) { try XDLMSAPDU.decode(bytes("C4 01 C1 00 11 07 00")) } // trailing byte
        #expect(throws: ByteFormatError.self) { try XDLMSAPDU.decode(bytes("C2 01 C1")) }
    }

    @Test func cipheredFraming() throws {
        // [GB-T40] authenticated and encrypted glo-get-request: C8 1E 30 01234567 C… T…
        let apdu = bytes("C8 1E 30 01 23 45 67 41 13 12 FF 93 5A 47 56 68 27 C4 67 BC 7D 82 5C 3B E4 A7 7C 3F CC 05 6B 6B")
        let c = try CipheredAPDU.decode(apdu)
        #expect(c.tag == 0xC8 && c.securityControl == .authenticatedAndEncrypted && c.invocationCounter == 0x01234567 && c.content.count == 25)
        #expect(c.encoded == apdu)
        let general = CipheredAPDU(tag: 0xDB, systemTitle: bytes("4D4D4D0000BC614E"), securityControl: .authenticated, invocationCounter: 9, content: [1, 2])
        #expect(try CipheredAPDU.decode(general.encoded) == general)
        for n in 0..<apdu.count { #expect(throws: ByteFormatError.self) { try CipheredAPDU.decode(Array(apdu.prefix(n))) } }
    }
}
