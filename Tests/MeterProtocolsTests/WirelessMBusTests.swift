import Testing
import ConcentratorCore
@testable import MeterProtocols

/// EN 13757-4 frames and CRCs, the ELL/AFL/TPL layers, and OMS security modes 5 and 7 against the
/// published examples.
@Suite struct WirelessMBusTests {
    static let cipher = SwiftCryptoOMSCipher()

    /// OMS Vol.2 Annex N, N.2.1 "wM-Bus meter with security profile A" with its format A CRCs
    /// (as reproduced in the Rust oms-parser tests and the wireless-mbus-parser CRC tests), key
    /// 01 02 … 0F 11.
    static let annexN21WithCRC = Hex.decode("2E44931578563412330333637A2A0020255923C95AAA26D1B2E7493BC2AD013EC4A6F6D3529B520EDFF0EA6DEFC955B29D6D69EBF3EC8A")!
    static let annexN21 = Hex.decode("2E4493157856341233037A2A0020255923C95AAA26D1B2E7493B013EC4A6F6D3529B520EDFF0EA6DEFC99D6D69EBF3")!
    static let annexN21Key = MeterKey(bytes: Hex.decode("0102030405060708090A0B0C0D0E0F11")!)!

    /// CEN/TR 17167:2018 annex F.3 "Security mode 7 example" (as split into layers in tudborg/exmbus
    /// test/parser/afl/afl_example_test.exs): radio module RAD 11223344, ELL with receiver XYZ
    /// 33445566, AFL with counter 0x00000AB3 and an 8-byte CMAC, long TPL of meter ELS 12345678.
    static let cenF3 = Hex.decode("53082448443322110337" + "8E80753A63665544330A31" + "900F002C25B30A0000AF5D74DF73A600D9"
                                  + "7278563412931533037500200710" + "9058475F4BC91DF878B80A1B0F98B629" + "024AAC727942BFC549233C0140829B93")!
    static let zeroToF = MeterKey(bytes: Array(0..<16))!

    /// OMS Vol.2 Annex N, N.5.3 "wM-Bus example with partial encryption" (heat-cost allocator behind
    /// an ELL, tudborg/exmbus test/spec/oms_vol2_annex_n_test.exs), key 00 01 … 0F.
    static let annexN53 = Hex.decode("304493444433221155378C00757288776655934455080004100500DFE2A782146D1513581CD2F83F39040CFD1078563412")!

    @Test func crcCheckValuesFromTheCatalogue() {
        // reveng CRC catalogue: CRC-16/EN-13757 check 0xC2B7, CRC-16/IBM-SDLC check 0x906E.
        #expect(WirelessMBusCRC.checksum(Array("123456789".utf8)) == 0xC2B7)
        #expect(CRC16X25.checksum(Array("123456789".utf8)) == 0x906E)
    }

    @Test func formatAStripsItsBlockCRCsAndEncodesBack() throws {
        let frame = try WirelessLinkFrame.decode(Self.annexN21WithCRC, crc: .present(.a))
        #expect(frame.bytes == Self.annexN21 && frame.format == .a)
        #expect(try WirelessLinkFrame.decode(Self.annexN21WithCRC + [0x12, 0x34], crc: .detect).bytes == Self.annexN21)
        #expect(WirelessLinkFrame.encode(Self.annexN21, format: .a) == Self.annexN21WithCRC)
        #expect(frame.sender == MBusIdentity(number: 0x1234_5678, manufacturer: MBusManufacturer.code("ELS")!, version: 0x33, medium: 3))
        var broken = Self.annexN21WithCRC
        broken[11] ^= 1
        #expect(throws: WirelessFrameError.self) { try WirelessLinkFrame.decode(broken, crc: .present(.a)) }
        for cut in 0..<Self.annexN21WithCRC.count {
            #expect(throws: WirelessFrameError.self) { try WirelessLinkFrame.decode(Array(Self.annexN21WithCRC.prefix(cut)), crc: .present(.a)) }
        }
    }

    /// Format B examples from the wireless-mbus-parser CRC handler tests ("Frame Type B with CRC",
    /// "… and 3rd block"): one CRC over blocks 1 and 2; a third block with its own CRC.
    @Test func formatBOneAndTwoCRCs() throws {
        let short = Hex.decode("1444AE0C7856341201078C2027780B134365877AC5")!
        let a = try WirelessLinkFrame.decode(short, crc: .present(.b))
        #expect(a.bytes == [0x12] + Hex.decode("44AE0C7856341201078C2027780B13436587")!)
        #expect(WirelessLinkFrame.encode(a.bytes, format: .b) == short)
        let long = Hex.decode("8644AE0C7856341201078C2027780B134365877AC5" + String(repeating: "11", count: 105) + "E678" + "1234567890" + "F4EE")!
        let b = try WirelessLinkFrame.decode(long, crc: .detect)
        #expect(b.format == .b && b.bytes.count == 131 && b.bytes.suffix(5) == Hex.decode("1234567890")![...])
        #expect(WirelessLinkFrame.encode(b.bytes, format: .b) == long)
        var broken = long
        broken[130] ^= 0x80
        #expect(throws: WirelessFrameError.self) { try WirelessLinkFrame.decode(broken, crc: .present(.b)) }
        #expect(throws: WirelessFrameError.self) { try WirelessLinkFrame.decode(short.dropLast().map { $0 }, crc: .detect) }
    }

    /// RFC 4493 §4 test vectors for AES-CMAC, and NIST SP 800-38A F.2.1 for AES-128-CBC.
    @Test func cipherPrimitivesMatchTheirStandards() {
        let key = Hex.decode("2b7e151628aed2a6abf7158809cf4f3c")!
        let message = Hex.decode("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")!
        #expect(Self.cipher.cmac([], key: key) == Hex.decode("bb1d6929e95937287fa37d129b756746"))
        #expect(Self.cipher.cmac(Array(message.prefix(16)), key: key) == Hex.decode("070a16b46b4d4144f79bdd9dd04a287c"))
        #expect(Self.cipher.cmac(Array(message.prefix(40)), key: key) == Hex.decode("dfa66747de9ae63030ca32611497c827"))
        #expect(Self.cipher.cmac(message, key: key) == Hex.decode("51f0bebf7e3b9d92fc49741779363cfe"))
        let iv = Hex.decode("000102030405060708090a0b0c0d0e0f")!
        let encrypted = Self.cipher.encryptCBC(Array(message.prefix(32)), key: key, iv: iv)
        #expect(encrypted == Hex.decode("7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"))
        #expect(Self.cipher.decryptCBC(encrypted ?? [], key: key, iv: iv) == Array(message.prefix(32)))
        #expect(Self.cipher.decryptCBC([1, 2, 3], key: key, iv: iv) == nil)
    }

    @Test func annexN21Mode5Decrypts() throws {
        let layers = try WirelessTelegramDecoder.peel(try WirelessLinkFrame.decode(Self.annexN21WithCRC, crc: .detect))
        #expect(layers.ell == nil && layers.afl == nil && layers.transportOffset == 10)
        let telegram = try WirelessTelegramDecoder.decode(layers, key: Self.annexN21Key, cipher: Self.cipher)
        #expect(telegram.application.securityMode == 5)
        #expect(telegram.application.header.accessNumber == 0x2A)
        let r = telegram.records
        #expect(r.count == 3)
        #expect(abs((r[0].scaledValue ?? 0) - 28504.27) < 1e-9)
        #expect(r[1].value == .dateTime(MBusDateTime(year: 2008, month: 5, day: 31, hour: 23, minute: 50)))
        #expect(r[2].value == .flags(0))
        #expect(OMSSecurity.mode5IV(identity: telegram.meter, accessNumber: 0x2A)
            == Hex.decode("93157856341233032A2A2A2A2A2A2A2A"))
    }

    /// A real Sontex Supercom 587 telegram in security mode 5 (10 encrypted blocks) and its key, from
    /// wmbusmeters simulations/simulation_aes.msg (commit 468ba752) and tests/test_aes.sh (commit
    /// 0224941e): it passes the 2F 2F check with that key only.
    @Test func aPublishedMode5TelegramDecryptsWithItsKey() throws {
        let frame = try WirelessLinkFrame.decode(Hex.decode("AE44EE4D777777773C077A4400A025E78F4A01F9DCA029EDA03BA452686E8FA917507B29E5358B52D77C111EA4C41140290523F3F6B9F9261705E041C0CA41305004605F42D6C9464E5A04EEE227510BD0DC0983C665C3A5E4739C2082975476AC637BCDD39766AEF030502B6A7697BE9E1C49AF535C15470FCF8ADA36CAB9D0B2A1A8690F8DDCF70859F18B3414D8315B311A0AFA57325531587CB7E9CC110E807F24C190D7E635BEDAF4CAE8A161")!, crc: .absent)
        let layers = try WirelessTelegramDecoder.peel(frame)
        #expect(layers.meter.numberText == "77777777" && MBusManufacturer.letters(layers.meter.manufacturer) == "SON")
        let key = MeterKey(bytes: Hex.decode("5065747220486F6C79737A6577736B69")!)!
        let plain = Self.cipher.decryptCBC(Array(frame.bytes[15..<175]), key: key.bytes,
                                           iv: OMSSecurity.mode5IV(identity: layers.meter, accessNumber: 0x44))
        #expect(plain?.prefix(2) == [0x2F, 0x2F] && plain?.suffix(10) == [UInt8](repeating: 0x2F, count: 10)[...])
        #expect(throws: MBusTelegramError.self) { try WirelessTelegramDecoder.decode(layers, key: Self.annexN21Key, cipher: Self.cipher) }
    }

    @Test func mode5WithoutKeyOrWithAWrongKeyFailsPerMeterWithoutShowingTheKey() throws {
        let layers = try WirelessTelegramDecoder.peel(try WirelessLinkFrame.decode(Self.annexN21, crc: .absent))
        do {
            _ = try WirelessTelegramDecoder.decode(layers, key: nil, cipher: Self.cipher)
            Issue.record("decoded without a key")
        } catch {
            #expect(error.kind == .noKey && error.description.contains("12345678"))
        }
        let wrong = MeterKey(bytes: Hex.decode("0102030405060708090A0B0C0D0E0F12")!)!
        do {
            _ = try WirelessTelegramDecoder.decode(layers, key: wrong, cipher: Self.cipher)
            Issue.record("decoded with a wrong key")
        } catch {
            #expect(error.kind == .security)
            #expect(error.description.contains("12345678") && error.description.contains("wrong"))
            for k in [wrong, Self.annexN21Key] {
                #expect(!error.description.lowercased().contains(Hex.encode(k.bytes)))
                #expect(!error.description.contains(Hex.encode(k.bytes.prefix(4))))
            }
            #expect(error.sessionError.kind == .security)
        }
        #expect("\(wrong)" == "AES-128 key (hidden)")
    }

    /// The KDF-A session keys of the F.3 example (CEN/TR 17167:2018, also checked in exmbus
    /// test/crypto_test.exs), the AFL MAC, and the decrypted records.
    @Test func cenF3Mode7DerivesKeysChecksTheMACAndDecrypts() throws {
        #expect(OMSSecurity.deriveKey(.encryptionFromMeter, master: Self.zeroToF.bytes, messageCounter: 0x0000_0AB3,
                                      meterNumber: 0x1234_5678, cipher: Self.cipher) == Hex.decode("ECCF39D475D730B8284FDFDC1995D52F"))
        #expect(OMSSecurity.deriveKey(.macFromMeter, master: Self.zeroToF.bytes, messageCounter: 0x0000_0AB3,
                                      meterNumber: 0x1234_5678, cipher: Self.cipher) == Hex.decode("C9CD19FF5A9AAD5A6BBDA13BD2C4C7AD"))
        let layers = try WirelessTelegramDecoder.peel(try WirelessLinkFrame.decode(Self.cenF3, crc: .absent))
        #expect(layers.frame.sender.numberText == "11223344" && MBusManufacturer.letters(layers.frame.sender.manufacturer) == "RAD")
        #expect(layers.ell?.receiver?.numberText == "33445566" && MBusManufacturer.letters(layers.ell!.receiver!.manufacturer) == "XYZ")
        #expect(layers.afl?.fields?.messageCounter == 0x0AB3 && layers.afl?.fields?.mac == Hex.decode("AF5D74DF73A600D9"))
        #expect(layers.meter.numberText == "12345678" && layers.meter.version == 51)
        let telegram = try WirelessTelegramDecoder.decode(layers, key: Self.zeroToF, cipher: Self.cipher)
        #expect(telegram.application.securityMode == 7)
        let r = telegram.records
        #expect(r.contains { abs(($0.scaledValue ?? 0) - 28504.27) < 1e-9 && $0.description.kind == .volume })
        #expect(r.contains { $0.value == .dateTime(MBusDateTime(year: 2008, month: 5, day: 31, hour: 23, minute: 50)) })
        #expect(r.contains { $0.description.kind == .errorFlags && $0.value == .flags(0) })
        // A flipped ciphertext bit or another key fails the MAC check.
        var altered = Self.cenF3
        altered[70] ^= 0x01
        let alteredLayers = try WirelessTelegramDecoder.peel(try WirelessLinkFrame.decode(altered, crc: .absent))
        #expect(throws: MBusTelegramError.self) { try WirelessTelegramDecoder.decode(alteredLayers, key: Self.zeroToF, cipher: Self.cipher) }
        do {
            _ = try WirelessTelegramDecoder.decode(layers, key: Self.annexN21Key, cipher: Self.cipher)
            Issue.record("decoded with a wrong key")
        } catch {
            #expect(error.kind == .security && error.description.contains("MAC"))
        }
    }

    @Test func annexN53PartialEncryptionBehindAnELL() throws {
        let layers = try WirelessTelegramDecoder.peel(try WirelessLinkFrame.decode(Self.annexN53, crc: .absent))
        #expect(layers.ell?.ci == 0x8C && layers.ell?.accessNumber == 0x75)
        #expect(layers.meter.numberText == "55667788" && layers.meter.medium == 8 && layers.frame.sender.numberText == "11223344")
        let telegram = try WirelessTelegramDecoder.decode(layers, key: Self.zeroToF, cipher: Self.cipher)
        let r = telegram.records
        #expect(r.map(\.value) == [.bcd(1234), .dateTime(MBusDateTime(year: 2007, month: 4, day: 30)), .bcd(23456), .bcd(12_345_678)])
        #expect(r.map(\.storage) == [0, 1, 1, 0])
        #expect(r[3].description.kind == .customerLocation)
        #expect(telegram.application.status?.powerLow == true)
    }

    /// OMS Vol.2 Annex N, N.5.4 "M-Bus example with partial encryption" (exmbus spec test): the
    /// wired RSP_UD carries the same encrypted block, then plain records.
    @Test func annexN54WiredPartialEncryption() throws {
        let bytes = Hex.decode("682C2C6808FD" + "72887766559344550800041005" + "00DFE2A782146D1513581CD2F83F3904" + "0CFD10785634120C7844332211" + "2616")!
        guard case .long(_, _, let ci, let data) = try MBusFrame.decode(bytes) else { Issue.record("not a long frame"); return }
        let app = try MBusApplicationLayer.decode([ci] + data, ciOffset: 0, linkIdentity: nil, key: Self.zeroToF, cipher: Self.cipher)
        #expect(app.records.count == 5)
        #expect(app.records.last?.description.kind == .fabricationNumber && app.records.last?.value == .bcd(11_223_344))
    }

    @Test func everyTruncationOfTheExamplesIsAnError() {
        for frame in [Self.annexN21, Self.cenF3, Self.annexN53] {
            for cut in 0..<frame.count {
                #expect(throws: (any Error).self, "cut \(cut)") {
                    let layers = try WirelessTelegramDecoder.peel(try WirelessLinkFrame.decode(Array(frame.prefix(cut)), crc: .absent))
                    _ = try WirelessTelegramDecoder.decode(layers, key: Self.zeroToF, cipher: Self.cipher)
                }
            }
        }
    }
}
