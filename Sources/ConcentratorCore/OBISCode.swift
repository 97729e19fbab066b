import ConcentratorCore

/// An OBIS code (IEC 62056-61), the one parser of OBIS text in the project: as IEC 62056-21 meters
/// print it, `A-B:C.D.E*F` with the short forms they use (`1.8.0`, `1.8.0*1`, `F.F`, `C.1.0`,
/// `P.01`, `1-0:32.7.0*255`, `0-0:C.90.2*255`), and as profiles write DLMS logical names
/// (`1-0:1.8.0.255`, `1.0.1.8.0.255`). A complete code gives the six bytes of a COSEM logical
/// name (`logicalNameBytes`).
///
/// Letters in the C and D groups stand for their IEC 62056-61 values: `C` = 96 (general service
/// entries), `F` = 97 (error messages), `L` = 98 (lists), `P` = 99 (data profiles); so `C.1.0` is
/// 96.1.0 (the meter serial number) and `F.F` is 97.97 (the error register).
public struct OBISCode: Hashable, Sendable, CustomStringConvertible {
    /// Medium (1 = electricity); nil when not printed.
    public var a: UInt8?
    /// Channel; nil when not printed.
    public var b: UInt8?
    public var c: UInt8
    public var d: UInt8
    /// Nil when the code has only two groups (`F.F`, `P.01`); it then matches E = 0.
    public var e: UInt8?
    /// Billing period (historical value); nil or 255 = the current value.
    public var f: UInt8?

    public init(a: UInt8? = nil, b: UInt8? = nil, c: UInt8, d: UInt8, e: UInt8? = nil, f: UInt8? = nil) {
        self.a = a
        self.b = b
        self.c = c
        self.d = d
        self.e = e
        self.f = f
    }

    /// The longest code text accepted (`255-255:255.255.255*255` is 23 characters).
    public static let maximumLength = 32

    /// Parses a code as printed by a meter; throws with the offset of the first bad character.
    public static func parse(_ text: String) throws(ByteFormatError) -> OBISCode {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= maximumLength else {
            throw ByteFormatError("an OBIS code has 1–\(maximumLength) characters", at: 0)
        }
        let dotted = text.split(separator: ".", omittingEmptySubsequences: false)
        if dotted.count == 6, let groups = Optional(dotted.compactMap { UInt8($0) }), groups.count == 6 {
            return OBISCode(a: groups[0], b: groups[1], c: groups[2], d: groups[3], e: groups[4], f: groups[5])
        }
        var r = ByteReader(bytes)
        var a: UInt8?, b: UInt8?
        if bytes.contains(UInt8(ascii: ":")) {
            if bytes.contains(UInt8(ascii: "-")) {
                a = try number(&r, "value group A", letters: false)
                try expect(&r, "-", "'-' after value group A")
            }
            b = try number(&r, "value group B", letters: false)
            try expect(&r, ":", "':' after value group B")
        }
        let c = try number(&r, "value group C", letters: true)
        try expect(&r, ".", "'.' after value group C")
        let d = try number(&r, "value group D", letters: true)
        var e: UInt8?, f: UInt8?
        if r.peek() == UInt8(ascii: ".") {
            try r.skip(1, "'.'")
            e = try number(&r, "value group E", letters: false)
        }
        if r.peek() == UInt8(ascii: "*") || r.peek() == UInt8(ascii: "&") || (a != nil && b != nil && e != nil && r.peek() == UInt8(ascii: ".")) {
            try r.skip(1, "'*'")
            f = try number(&r, "value group F", letters: false)
        }
        guard r.isAtEnd else { throw r.error("unexpected character in an OBIS code") }
        return OBISCode(a: a, b: b, c: c, d: d, e: e, f: f)
    }

    private static func expect(_ r: inout ByteReader, _ char: Character, _ what: String) throws(ByteFormatError) {
        guard r.peek() == char.asciiValue else { throw r.error("expected \(what)") }
        try r.skip(1, what)
    }

    /// A decimal group 0–255, or (C and D) one of the letters C, F, L, P.
    private static func number(_ r: inout ByteReader, _ what: String, letters: Bool) throws(ByteFormatError) -> UInt8 {
        let start = r.offset
        if letters, let p = r.peek(), let value = letterValue(p) {
            try r.skip(1, what)
            return value
        }
        var value = 0
        var digits = 0
        while let p = r.peek(), (0x30...0x39).contains(p) {
            try r.skip(1, what)
            value = value * 10 + Int(p - 0x30)
            digits += 1
            guard digits <= 3, value <= 255 else { throw ByteFormatError("\(what) is above 255", at: start) }
        }
        guard digits > 0 else { throw ByteFormatError("expected \(what)", at: start) }
        return UInt8(value)
    }

    static func letterValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "C"): return 96
        case UInt8(ascii: "F"): return 97
        case UInt8(ascii: "L"): return 98
        case UInt8(ascii: "P"): return 99
        default: return nil
        }
    }

    private static func letter(for value: UInt8) -> String? {
        switch value {
        case 96: return "C"
        case 97: return "F"
        case 98: return "L"
        case 99: return "P"
        default: return nil
        }
    }

    /// Whether a code read from a meter (`other`) denotes this code: C, D and E (absent = 0) equal,
    /// F equal with absent = 255 (the current value), A and B equal when both are given.
    public func matches(_ other: OBISCode) -> Bool {
        guard c == other.c, d == other.d, (e ?? 0) == (other.e ?? 0), (f ?? 255) == (other.f ?? 255) else { return false }
        if let a, let oa = other.a, a != oa { return false }
        if let b, let ob = other.b, b != ob { return false }
        return true
    }

    /// The short form: letters where the value has one in C and D, groups as parsed
    /// (`1-0:1.8.0*255`, `F.F`, `C.1.0`, `P.1`).
    public var description: String {
        var s = ""
        if let a { s += "\(a)-" }
        if let b { s += "\(b):" }
        s += (Self.letter(for: c) ?? String(c)) + "." + (Self.letter(for: d) ?? String(d))
        if let e { s += ".\(e)" }
        if let f { s += "*\(f)" }
        return s
    }

    /// The six bytes of a COSEM logical name, when A, B, C, D and E are given (F absent = 255).
    public var logicalNameBytes: [UInt8]? {
        guard let a, let b, let e else { return nil }
        return [a, b, c, d, e, f ?? 255]
    }

    /// A logical name's six bytes as text, `1-0:1.8.0.255`.
    public static func logicalNameText(_ bytes: [UInt8]) -> String {
        guard bytes.count == 6 else { return bytes.map(String.init).joined(separator: ".") }
        return "\(bytes[0])-\(bytes[1]):\(bytes[2]).\(bytes[3]).\(bytes[4]).\(bytes[5])"
    }
}
