import Testing
@testable import ConcentratorCore

/// Issue 17 #11: invalid UTF-8 is refused, naming the line, never replaced with U+FFFD.
@Suite struct UTF8TextTests {
    @Test func validTextDecodes() throws {
        #expect(try UTF8Text.decode(Array("{\"label\": \"café ⚡\"}\n".utf8)).get() == "{\"label\": \"café ⚡\"}\n")
    }

    /// Bytes from the Unicode standard's table of ill-formed sequences (Unicode 15, §3.9, table 3-8
    /// and the examples around it): a Latin-1 byte, a lone continuation byte, a truncated sequence,
    /// an overlong encoding, a surrogate, a code point above U+10FFFF.
    @Test(arguments: [[0xE9], [0x80], [0xE2, 0x82], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80]] as [[UInt8]])
    func invalidBytesAreRefusedWithTheirLine(_ bad: [UInt8]) {
        let bytes = Array("{\n  \"a\": 1,\n  \"label\": \"caf".utf8) + bad + Array("\"\n}\n".utf8)
        guard case .failure(let e) = UTF8Text.decode(bytes) else {
            Issue.record("\(bad) accepted")
            return
        }
        #expect(e.line == 3 && e.column == 16, "\(e)")
        #expect(e.description.contains("line 3"))
    }

    @Test func theJSONParserRefusesInvalidUTF8InStrings() {
        let bytes = Array("{\n\"label\": \"caf".utf8) + [0xE9] + Array("\"}".utf8)
        #expect(throws: JSONSyntaxError.self) { _ = try JSONParser.parse(bytes) }
        do {
            _ = try JSONParser.parse(bytes)
        } catch {
            #expect(error.line == 2 && error.message.contains("UTF-8"), "\(error)")
        }
    }
}
