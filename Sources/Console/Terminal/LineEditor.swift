/// What one input byte did to the line being typed.
public enum LineEditorEvent: Hashable, Sendable {
    /// Text to write back to the terminal (the typed character, `*` for a secret, or the erase
    /// sequence for a backspace).
    case echo(String)
    /// Enter: the finished line.
    case submit(String)
    /// Ctrl-C: the line is dropped and the current action cancelled.
    case cancel
    /// Ctrl-D on an empty line, or the end of the input stream.
    case endOfInput
}

/// A small line editor for a VT100-class terminal in raw mode: printable characters (UTF-8),
/// Backspace/Delete, Ctrl-U (erase the line), Enter (CR, LF or CR LF), Ctrl-C (cancel), Ctrl-D on
/// an empty line (end of input). Cursor keys and other escape sequences are read and ignored, so
/// they never end up in a value. Pure: bytes in, events out.
public struct LineEditor: Sendable {
    /// Longest line accepted; further characters are ignored.
    public static let maxLength = 1024

    /// Secrets echo `*` for each character, never the character itself.
    public var secret: Bool
    public private(set) var scalars: [Unicode.Scalar] = []
    private var utf8: [UInt8] = []
    private var utf8Expected = 0
    private var escape = EscapeState.none
    private var lastWasCarriageReturn = false

    private enum EscapeState: Sendable {
        case none
        /// ESC seen.
        case started
        /// ESC [ or ESC O seen: parameters until a final byte 0x40–0x7E.
        case sequence
    }

    public init(secret: Bool = false) { self.secret = secret }

    /// The text typed so far.
    public var text: String { String(String.UnicodeScalarView(scalars)) }

    /// Feeds one byte from the terminal.
    public mutating func feed(_ byte: UInt8) -> [LineEditorEvent] {
        let afterCR = lastWasCarriageReturn
        lastWasCarriageReturn = false
        switch escape {
        case .started:
            escape = (byte == 0x5B || byte == 0x4F) ? .sequence : .none
            return []
        case .sequence:
            if (0x40...0x7E).contains(byte) { escape = .none }
            return []
        case .none:
            break
        }
        if utf8Expected > 0 {
            guard byte & 0xC0 == 0x80 else {
                // A broken sequence: drop it and read this byte afresh.
                utf8 = []
                utf8Expected = 0
                return feed(byte)
            }
            utf8.append(byte)
            guard utf8.count == utf8Expected else { return [] }
            let decoded = String(decoding: utf8, as: UTF8.self).unicodeScalars
            utf8 = []
            utf8Expected = 0
            guard decoded.count == 1, let scalar = decoded.first, scalar != "\u{FFFD}" else { return [] }
            return append(scalar)
        }
        switch byte {
        case 0x03:
            scalars = []
            return [.cancel]
        case 0x04:
            return scalars.isEmpty ? [.endOfInput] : []
        case 0x0D:
            lastWasCarriageReturn = true
            return [submit()]
        case 0x0A:
            return afterCR ? [] : [submit()]
        case 0x08, 0x7F:
            guard !scalars.isEmpty else { return [] }
            scalars.removeLast()
            return [.echo("\u{08} \u{08}")]
        case 0x15:
            let count = scalars.count
            scalars = []
            return count == 0 ? [] : [.echo(String(repeating: "\u{08} \u{08}", count: count))]
        case 0x1B:
            escape = .started
            return []
        case 0x09:
            return append(" ")
        case 0x00..<0x20:
            return []
        case 0x20..<0x80:
            return append(Unicode.Scalar(byte))
        case 0xC2...0xDF:
            utf8 = [byte]; utf8Expected = 2
        case 0xE0...0xEF:
            utf8 = [byte]; utf8Expected = 3
        case 0xF0...0xF4:
            utf8 = [byte]; utf8Expected = 4
        default:
            return []
        }
        return []
    }

    private mutating func submit() -> LineEditorEvent {
        let line = text
        scalars = []
        return .submit(line)
    }

    private mutating func append(_ scalar: Unicode.Scalar) -> [LineEditorEvent] {
        guard scalars.count < Self.maxLength else { return [] }
        scalars.append(scalar)
        return [.echo(secret ? "*" : String(Character(scalar)))]
    }
}
