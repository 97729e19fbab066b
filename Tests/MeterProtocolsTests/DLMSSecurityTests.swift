import Testing
import ConcentratorCore
@testable import MeterProtocols

/// Security suite 0 against the Green Book's own vectors (DLMS UA 1000-2 Ed. 8, Table 40: ciphering
/// of a glo-get-request; Table 43: HLS mechanism 5 with GMAC), as reproduced in jDLMS's GmacTest,
/// the jDLMS/Gurux ciphering tests and a public DLMS security reference ("Volume 0 §0.4: all seven
/// match"): EK 000102…0F, AK D0D1…DF, server system title 4D4D4D0000BC614E, IC 01234567,
/// client system title 4D4D4D0000000001 with IC 00000001, CtoS "K56iVagY", StoC "P6wRJ21F".
@Suite struct DLMSSecurityTests {
    static let keys = DLMSSecurityKeys(encryption: DLMSKey(bytes("000102030405060708090A0B0C0D0E0F"))!,
                                       authentication: DLMSKey(bytes("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"))!)
    static let serverTitle = bytes("4D4D4D0000BC614E")
    static let clientTitle = bytes("4D4D4D0000000001")
    static let plain = bytes("C0 01 00 00 08 00 00 01 00 00 FF 02 00")

    @Test func table40AllThreeProtections() throws {
        let a = try SecuritySuite0.protect(Self.plain, securityControl: .authenticated, systemTitle: Self.serverTitle,
                                           invocationCounter: 0x01234567, keys: Self.keys)
        #expect(a == bytes("10 01234567 C0010000080000010000FF0200 06725D910F9221D263877516"))
        let e = try SecuritySuite0.protect(Self.plain, securityControl: .encrypted, systemTitle: Self.serverTitle,
                                           invocationCounter: 0x01234567, keys: Self.keys)
        #expect(e == bytes("20 01234567 411312FF935A47566827C467BC"))
        let ae = try SecuritySuite0.protect(Self.plain, securityControl: .authenticatedAndEncrypted, systemTitle: Self.serverTitle,
                                            invocationCounter: 0x01234567, keys: Self.keys)
        #expect(ae == bytes("30 01234567 411312FF935A47566827C467BC 7D825C3BE4A77C3FCC056B6B"))
        // The full glo-get-request of Table 40.
        #expect([0xC8, UInt8(ae.count)] + ae == bytes("C81E3001234567411312FF935A47566827C467BC7D825C3BE4A77C3FCC056B6B"))
        for secured in [a, e, ae] {
            let opened = try SecuritySuite0.open(secured, systemTitle: Self.serverTitle, keys: Self.keys)
            #expect(opened.apdu == Self.plain && opened.invocationCounter == 0x01234567)
        }
    }

    @Test func table43HLSMechanism5() throws {
        let fStoC = try SecuritySuite0.hlsResponse(to: Array("P6wRJ21F".utf8), systemTitle: Self.clientTitle, invocationCounter: 1, keys: Self.keys)
        #expect(fStoC == bytes("10000000011A52FE7DD3E72748973C1E28"))
        let fCtoS = try SecuritySuite0.hlsResponse(to: Array("K56iVagY".utf8), systemTitle: Self.serverTitle, invocationCounter: 0x01234567, keys: Self.keys)
        #expect(fCtoS == bytes("1001234567FE1466AFB3DBCD4F9389E2B7"))
        #expect(try SecuritySuite0.verifyHLSResponse(fCtoS, challenge: Array("K56iVagY".utf8), systemTitle: Self.serverTitle, keys: Self.keys) == 0x01234567)
        #expect(throws: DLMSSecurityError.authenticationFailed) {
            try SecuritySuite0.verifyHLSResponse(fCtoS, challenge: Array("K56iVagZ".utf8), systemTitle: Self.serverTitle, keys: Self.keys)
        }
    }

    @Test func wrongKeyTitleOrAlteredBytesFail() throws {
        let ae = try SecuritySuite0.protect(Self.plain, securityControl: .authenticatedAndEncrypted, systemTitle: Self.serverTitle,
                                            invocationCounter: 0x01234567, keys: Self.keys)
        let other = DLMSSecurityKeys(encryption: Self.keys.encryption, authentication: DLMSKey([UInt8](repeating: 0xD0, count: 16))!)
        #expect(throws: DLMSSecurityError.authenticationFailed) { try SecuritySuite0.open(ae, systemTitle: Self.serverTitle, keys: other) }
        #expect(throws: DLMSSecurityError.authenticationFailed) { try SecuritySuite0.open(ae, systemTitle: Self.clientTitle, keys: Self.keys) }
        for i in 0..<ae.count where i != 0 {
            var altered = ae
            altered[i] ^= 0x01
            #expect(throws: DLMSSecurityError.self) { try SecuritySuite0.open(altered, systemTitle: Self.serverTitle, keys: Self.keys) }
        }
        #expect(throws: DLMSSecurityError.unsupportedSecurityControl(0x31)) {
            try SecuritySuite0.protect(Self.plain, securityControl: SecurityControl(byte: 0x31), systemTitle: Self.serverTitle,
                                       invocationCounter: 1, keys: Self.keys)
        }
        for n in 0..<5 { #expect(throws: DLMSSecurityError.self) { try SecuritySuite0.open(Array(ae.prefix(n)), systemTitle: Self.serverTitle, keys: Self.keys) } }
    }

    @Test func keysNeverAppearInDescriptions() {
        let security = DLMSClientSecurity.highLevelGMAC(keys: Self.keys, clientSystemTitle: Self.clientTitle)
        let settings = DLMSClientSettings(serverAddress: .server(logical: 1, physical: 17), security: security)
        let association = DLMSAssociation(settings: settings, invocationCounters: 1...10)
        let lls = DLMSClientSecurity.lowLevel(password: Array("12345678".utf8))
        for text in ["\(Self.keys)", "\(security)", "\(settings)", "\(association)", String(reflecting: Self.keys.encryption), "\(lls)",
                     "\(DLMSClientSettings(serverAddress: .server(logical: 1, physical: nil), security: lls))"] {
            #expect(!text.lowercased().contains("000102030405"), "\(text)")
            #expect(!text.lowercased().contains("d0d1d2d3"), "\(text)")
            #expect(!text.contains("0, 1, 2, 3, 4") && !text.contains("208, 209, 210"), "\(text)")
            #expect(!text.contains("49, 50, 51, 52") && !text.contains("12345678"), "\(text)")
        }
    }
}
