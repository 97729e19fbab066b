import ConcentratorCore
import Console
import Testing

@Suite struct KeyTextTests {
    /// CRC-32/ISO-HDLC (the zlib and IEEE 802.3 CRC) check value from the Catalogue of parametrised
    /// CRC algorithms (reveng.sourceforge.net/crc-catalogue): CRC of ASCII "123456789" = 0xCBF43926.
    @Test func crc32MatchesTheCatalogueCheckValue() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([]) == 0)
    }

    /// Bytes 00..0f with their CRC-32 as Python's zlib.crc32 computes it (0xcecee288).
    static let meterKeyText = "000102030405060708090a0b0c0d0e0f" + "cecee288"

    @Test func aMeterKeyWithItsCheckDigitsParsesWithAnySpacingAndCase() throws {
        let key = try KeyText.parse(Self.meterKeyText, keyLength: 16, what: "a meter key").get()
        #expect(key == Array(0..<16))
        let spaced = "00 01 02 03:04 05 06 07-08 09 0A 0B 0C 0D 0E 0F  CE CE E2 88"
        #expect(try KeyText.parse(spaced, keyLength: 16, what: "a meter key").get() == key)
        #expect(KeyText.format(key) == Self.meterKeyText)
    }

    @Test func wrongLengthBadDigitsAndWrongChecksAreRefusedWithoutShowingTheKey() {
        let short = KeyText.parse(String(Self.meterKeyText.dropLast(2)), keyLength: 16, what: "a meter key")
        guard case .failure(let p1) = short else { Issue.record("accepted"); return }
        #expect(p1.description.contains("38 hexadecimal digits") && p1.description.contains("40 in all"))
        guard case .failure(let p2) = KeyText.parse("0001zz" + Self.meterKeyText.dropFirst(6), keyLength: 16, what: "a meter key") else {
            Issue.record("accepted"); return
        }
        #expect(p2.description.contains("character 5"))
        var flipped = Array(Self.meterKeyText)
        flipped[3] = "9"
        guard case .failure(let p3) = KeyText.parse(String(flipped), keyLength: 16, what: "a meter key") else {
            Issue.record("a mistyped digit passed the check"); return
        }
        #expect(p3.description.contains("check digits do not match"))
        for problem in [p1, p2, p3] { #expect(!problem.description.contains("0102030405")) }
        // The same text as a 32-byte key has the wrong length.
        guard case .failure = KeyText.parse(Self.meterKeyText, keyLength: 32, what: "a head-end public key") else {
            Issue.record("accepted"); return
        }
    }
}

@Suite struct AddressSelectionTests {
    @Test func listsRangesAllAndNone() throws {
        let offered = Array(1...64)
        #expect(try AddressSelection.parse("1-3, 7,10-11", offered: offered).get() == [1, 2, 3, 7, 10, 11])
        #expect(try AddressSelection.parse("all", offered: [5, 2]).get() == [2, 5])
        #expect(try AddressSelection.parse("none", offered: offered).get() == [])
        #expect((try? AddressSelection.parse("1-300", offered: offered).get()) == nil)
        #expect((try? AddressSelection.parse("5-2", offered: offered).get()) == nil)
        #expect((try? AddressSelection.parse("x", offered: offered).get()) == nil)
        #expect(try AddressSelection.list("1-247", within: 1...247).get() == Array(1...247))
        #expect(try AddressSelection.list("17", within: 1...247).get() == [17])
        #expect((try? AddressSelection.list("0-300", within: 1...247).get()) == nil)
    }
}
