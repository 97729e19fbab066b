/// CRC-32 as in IEEE 802.3, zlib and PNG (reflected polynomial 0xEDB88320, initial value and final
/// XOR 0xFFFFFFFF). Check value: CRC-32 of the ASCII digits "123456789" is 0xCBF43926.
public enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}

/// Why pasted key text was refused. Names the position and the rule, never the key's digits.
public struct KeyTextProblem: Error, Hashable, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Keys as people type, paste or read them out (the installer's console, `headend keys show`):
/// hexadecimal digits of the key followed by 8 check digits, the CRC-32 (IEEE 802.3/zlib) of the
/// key bytes, most significant digit first. Spaces, colons and dashes between digits are ignored; upper and lower case are equal. A 16-byte meter key is 32
/// digits plus 8 (40); a 32-byte head-end public key is 64 plus 8 (72). Docs/console.md, "Keys".
public enum KeyText {
    public static let checkDigits = 8

    /// The key bytes, or why the text is not a key of `keyLength` bytes with a matching check.
    /// `what` names the key in messages ("a meter key").
    public static func parse(_ text: String, keyLength: Int, what: String) -> Result<[UInt8], KeyTextProblem> {
        var digits: [UInt8] = []
        for (position, scalar) in text.unicodeScalars.enumerated() {
            if scalar == " " || scalar == ":" || scalar == "-" || scalar == "\t" { continue }
            guard let value = hexValue(scalar) else {
                return .failure(KeyTextProblem("character \(position + 1) is not a hexadecimal digit (0-9, a-f)"))
            }
            digits.append(value)
        }
        let expected = keyLength * 2 + checkDigits
        guard digits.count == expected else {
            return .failure(KeyTextProblem("\(digits.count) hexadecimal digits; \(what) is \(keyLength * 2) digits followed by "
                + "the \(checkDigits)-digit CRC-32 check, \(expected) in all"))
        }
        var bytes: [UInt8] = []
        for i in stride(from: 0, to: digits.count, by: 2) { bytes.append(digits[i] << 4 | digits[i + 1]) }
        let key = Array(bytes.prefix(keyLength))
        let check = bytes.suffix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard CRC32.checksum(key) == check else {
            return .failure(KeyTextProblem("the check digits do not match the key (CRC-32): a digit was mistyped or lost; "
                + "copy the key again"))
        }
        return .success(key)
    }

    /// A key in the pasted form: lowercase hex of the key, then its CRC-32 check digits.
    public static func format(_ key: [UInt8]) -> String {
        let crc = CRC32.checksum(key)
        return hex(key) + hex([UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)])
    }

    /// Lowercase hexadecimal.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]] })
    }

    private static func hexValue(_ s: Unicode.Scalar) -> UInt8? {
        switch s.value {
        case 0x30...0x39: return UInt8(s.value - 0x30)
        case 0x41...0x46: return UInt8(s.value - 0x41 + 10)
        case 0x61...0x66: return UInt8(s.value - 0x61 + 10)
        default: return nil
        }
    }
}
