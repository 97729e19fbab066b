import Console
import Testing

@Suite struct TextLayoutTests {
    @Test func wrappedLinesFitAndKeepEveryWord() {
        let text = "  ! meters[3].address: out of range (300); allowed: an integer 1-247 (Modbus slave address), unique on its bus "
            + String(repeating: "x", count: 130)
        for width in [20, 40, 80] {
            let lines = TextLayout.wrap(text, width: width)
            #expect(lines.allSatisfy { $0.count <= width }, "\(lines)")
            let words = text.split(separator: " ").joined()
            #expect(lines.map { $0.split(separator: " ").joined() }.joined() == words)
            #expect(lines[0].hasPrefix("  !"), "the text's own indent is kept")
        }
        #expect(TextLayout.wrap("short") == ["short"])
    }

    @Test func cutAndPadGiveExactWidths() {
        #expect(TextLayout.cut("abcdefghij", to: 8) == "abcde...")
        #expect(TextLayout.cut("abc", to: 8) == "abc")
        #expect(TextLayout.pad("abc", 5) == "abc  ")
        #expect(TextLayout.pad("abc", 5, right: true) == "  abc")
        #expect(TextLayout.pad("abcdefghij", 6).count == 6)
    }

    @Test func tableRowsNeverPassEightyColumns() {
        let row = TextLayout.row([("1", 4, true), (String(repeating: "p", count: 40), 20, false), (String(repeating: "d", count: 200), 0, false)])
        #expect(row.count == 80)
        #expect(row.hasPrefix("   1  pppppppppppppppp"))
    }

    @Test func escapeSequencesTakeNoColumns() {
        #expect(TextLayout.visibleWidth("\u{1B}[31mred\u{1B}[0m") == 3)
        #expect(TextLayout.visibleWidth("e\u{301}") == 1)
    }

    @Test func asciiFallbackReplacesWhatAVT100CannotShow() {
        #expect(TextLayout.ascii("1–247 … ≤ 5 °C → x") == "1-247 ... <= 5 degC -> x")
        #expect(TextLayout.ascii("plain") == "plain")
        #expect(TextLayout.ascii("日本").allSatisfy { $0 == "?" })
    }

    @Test func coloursFollowTermAndNoColor() {
        #expect(TerminalCapabilities.colours(environment: ["TERM": "vt100"], outputIsTerminal: true))
        #expect(!TerminalCapabilities.colours(environment: ["TERM": "dumb"], outputIsTerminal: true))
        #expect(!TerminalCapabilities.colours(environment: [:], outputIsTerminal: true))
        #expect(!TerminalCapabilities.colours(environment: ["TERM": "vt100", "NO_COLOR": "1"], outputIsTerminal: true))
        #expect(TerminalCapabilities.colours(environment: ["TERM": "vt100", "NO_COLOR": ""], outputIsTerminal: true))
        #expect(!TerminalCapabilities.colours(environment: ["TERM": "vt100"], outputIsTerminal: false))
        #expect(TerminalCapabilities.unicode(environment: ["LANG": "en_US.UTF-8"]))
        #expect(!TerminalCapabilities.unicode(environment: ["LANG": "C"]))
        #expect(TerminalCapabilities.rows(environment: [:]) == 24)
        #expect(TerminalCapabilities.rows(environment: ["LINES": "40"]) == 40)
    }

    @Test func pagesHoldAtMostTheScreenHeight() {
        let lines = (1...50).map { "line \($0)" }
        let pages = Pager.pages(lines, height: 22)
        #expect(pages.map(\.count) == [22, 22, 6])
        #expect(pages.flatMap { $0 } == lines)
        #expect(Pager.pages([], height: 22) == [[]])
    }

    @Test func progressLineShowsCountsAndEtaWithinSeventyNineColumns() {
        let half = ProgressText.render(label: "scan", done: 35, total: 70, note: "found 30", elapsed: .seconds(12))
        #expect(half == "scan [##########----------] 35/70  found 30  ETA 0:12")
        let done = ProgressText.render(label: "scan", done: 247, total: 247, note: "found 64", elapsed: .seconds(75))
        #expect(done.hasSuffix("took 1:15"))
        #expect(ProgressText.render(label: "scan", done: 0, total: 247, note: "", elapsed: .zero).contains("ETA --:--"))
        let long = ProgressText.render(label: String(repeating: "L", count: 90), done: 1, total: 2, note: "n", elapsed: .seconds(1))
        #expect(long.count == 79)
        #expect(ProgressText.clock(.seconds(3725)) == "1:02:05")
    }
}
