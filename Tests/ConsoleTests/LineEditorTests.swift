import Console
import Testing

/// The line editor against the byte sequences a VT100-class terminal sends.
@Suite struct LineEditorTests {
    private func type(_ bytes: [UInt8], secret: Bool = false) -> [LineEditorEvent] {
        var editor = LineEditor(secret: secret)
        return bytes.flatMap { editor.feed($0) }
    }

    @Test func typedTextIsEchoedAndSubmittedOnCarriageReturn() {
        let events = type(Array("bus1".utf8) + [0x0D])
        #expect(events == [.echo("b"), .echo("u"), .echo("s"), .echo("1"), .submit("bus1")])
    }

    @Test func carriageReturnLineFeedIsOneEnterAndLineFeedAloneIsEnterToo() {
        let events = type(Array("a".utf8) + [0x0D, 0x0A] + Array("b".utf8) + [0x0A])
        #expect(events.filter { if case .submit = $0 { return true } else { return false } } == [.submit("a"), .submit("b")])
    }

    @Test func backspaceAndDeleteEraseTheLastCharacterOnScreenToo() {
        let events = type(Array("abc".utf8) + [0x7F, 0x08] + Array("x".utf8) + [0x0D])
        #expect(events.contains(.echo("\u{08} \u{08}")))
        #expect(events.last == .submit("ax"))
        // Backspace on an empty line does nothing.
        #expect(type([0x7F, 0x0D]) == [.submit("")])
    }

    @Test func ctrlUErasesTheWholeLine() {
        let events = type(Array("abc".utf8) + [0x15] + Array("d".utf8) + [0x0D])
        #expect(events.contains(.echo(String(repeating: "\u{08} \u{08}", count: 3))))
        #expect(events.last == .submit("d"))
    }

    @Test func cursorKeysAndOtherEscapeSequencesNeverEnterTheValue() {
        // ESC [ A (up), ESC [ 3 ~ (delete), ESC O P (F1): VT100/xterm sequences.
        let events = type(Array("1".utf8) + [0x1B, 0x5B, 0x41, 0x1B, 0x5B, 0x33, 0x7E, 0x1B, 0x4F, 0x50] + Array("2".utf8) + [0x0D])
        #expect(events.last == .submit("12"))
    }

    @Test func utf8CharactersAreAssembledFromTheirBytes() {
        let events = type(Array("°C é".utf8) + [0x0D])
        #expect(events.last == .submit("°C é"))
        #expect(events.contains(.echo("°")))
    }

    @Test func secretsEchoStarsOnly() {
        let events = type(Array("00ff".utf8) + [0x0D], secret: true)
        #expect(events == [.echo("*"), .echo("*"), .echo("*"), .echo("*"), .submit("00ff")])
    }

    @Test func ctrlCCancelsAndCtrlDEndsOnlyAnEmptyLine() {
        #expect(type(Array("ab".utf8) + [0x03]).last == .cancel)
        #expect(type([0x04]) == [.endOfInput])
        #expect(type(Array("a".utf8) + [0x04, 0x0D]).last == .submit("a"))
    }

    @Test func otherControlCharactersAreIgnoredAndTabIsASpace() {
        #expect(type([0x01, 0x07] + Array("a".utf8) + [0x09] + Array("b".utf8) + [0x0D]).last == .submit("a b"))
    }
}
