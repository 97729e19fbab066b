/// Layout for an 80-column terminal: visible width (escape sequences do not count), cutting,
/// padding, word wrapping, table rows, and an ASCII fallback for terminals without UTF-8.
public enum TextLayout {
    /// Every line the console writes fits in this many columns.
    public static let width = 80

    /// Columns `text` occupies: escape sequences (colours) count zero, every other character one.
    public static func visibleWidth(_ text: String) -> Int {
        var width = 0
        var inEscape = false
        var afterEscape = false
        for scalar in text.unicodeScalars {
            if afterEscape {
                afterEscape = false
                inEscape = scalar == "["
                continue
            }
            if inEscape {
                if (0x40...0x7E).contains(scalar.value) { inEscape = false }
                continue
            }
            if scalar == "\u{1B}" {
                afterEscape = true
                continue
            }
            // Combining marks share the column of the character before them.
            if scalar.value < 0x20 || (0x300...0x36F).contains(scalar.value) { continue }
            width += 1
        }
        return width
    }

    /// `text` cut to `width` columns, ending in "..." when something was cut. Plain text only.
    public static func cut(_ text: String, to width: Int) -> String {
        let chars = Array(text)
        guard chars.count > width else { return text }
        guard width > 3 else { return String(chars.prefix(width)) }
        return String(chars.prefix(width - 3)) + "..."
    }

    /// `text` cut or padded with spaces to exactly `width` columns.
    public static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let t = cut(text, to: width)
        let fill = String(repeating: " ", count: max(0, width - t.count))
        return right ? fill + t : t + fill
    }

    /// Wraps `text` at spaces into lines of at most `width` columns. The text's own leading spaces
    /// are kept; continuation lines are indented `indent` more. A word longer than a line is split.
    /// Plain text only (no escape sequences).
    public static func wrap(_ text: String, width: Int = TextLayout.width, indent: Int = 2) -> [String] {
        guard text.count > width else { return [text] }
        let leading = String(text.prefix(while: { $0 == " " }))
        let continuation = String(repeating: " ", count: min(leading.count + indent, width / 2))
        var lines: [String] = []
        var current = leading
        var hasWord = false
        for piece in text.dropFirst(leading.count).split(separator: " ") {
            var word = String(piece)
            if current.count + (hasWord ? 1 : 0) + word.count <= width {
                current += (hasWord ? " " : "") + word
                hasWord = true
                continue
            }
            if hasWord {
                lines.append(current)
                current = continuation
                hasWord = false
            }
            while current.count + word.count > width {
                let room = width - current.count
                lines.append(current + String(word.prefix(room)))
                word = String(word.dropFirst(room))
                current = continuation
            }
            current += word
            hasWord = true
        }
        if hasWord || lines.isEmpty { lines.append(current) }
        return lines
    }

    /// One table row: each cell padded or cut to its width, separated by two spaces. The last
    /// column takes what is left of the 80 columns.
    public static func row(_ cells: [(text: String, width: Int, right: Bool)], total: Int = TextLayout.width) -> String {
        var out = ""
        for (index, cell) in cells.enumerated() {
            if index > 0 { out += "  " }
            if index == cells.count - 1 {
                out += cut(cell.text, to: max(0, total - out.count))
            } else {
                out += pad(cell.text, cell.width, right: cell.right)
            }
        }
        while out.hasSuffix(" ") { out.removeLast() }
        return out
    }

    /// One table row whose cells are wrapped within their widths instead of cut: a cell that does
    /// not fit continues on the next line in its own column, so nothing is lost. The last column
    /// takes what is left of `total`. Right-aligned cells are padded on the left.
    public static func wrappedRow(_ cells: [(text: String, width: Int, right: Bool)], total: Int = TextLayout.width) -> [String] {
        var widths = cells.map(\.width)
        let fixed = widths.dropLast().reduce(0, +) + 2 * max(0, cells.count - 1)
        if !widths.isEmpty { widths[widths.count - 1] = max(8, total - fixed) }
        let columns = zip(cells, widths).map { cell, width in wrap(cell.text, width: width, indent: 0) }
        let height = columns.map(\.count).max() ?? 0
        var lines: [String] = []
        for index in 0..<height {
            var out = ""
            for (column, cell) in cells.enumerated() {
                if column > 0 { out += "  " }
                let text = index < columns[column].count ? columns[column][index] : ""
                out += column == cells.count - 1 && !cell.right ? text : pad(text, widths[column], right: cell.right)
            }
            while out.hasSuffix(" ") { out.removeLast() }
            lines.append(out)
        }
        return lines
    }

    /// Replaces characters a VT100 cannot show with ASCII look-alikes ("–" → "-", "…" → "...",
    /// "°C" → "degC", "≤" → "<="); anything else outside ASCII becomes "?".
    public static func ascii(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value >= 0x80 }) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar.value < 0x80 {
                out.unicodeScalars.append(scalar)
                continue
            }
            switch scalar {
            case "–", "—", "‐", "−": out += "-"
            case "…": out += "..."
            case "≤": out += "<="
            case "≥": out += ">="
            case "→": out += "->"
            case "←": out += "<-"
            case "×": out += "x"
            case "°": out += "deg"
            case "µ": out += "u"
            case "±": out += "+/-"
            case "‘", "’": out += "'"
            case "“", "”": out += "\""
            case "\u{00A0}": out += " "
            default: out += "?"
            }
        }
        return out
    }
}
