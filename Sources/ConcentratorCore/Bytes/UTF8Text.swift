/// Where a byte sequence stops being valid UTF-8, for an error that names the line.
public struct InvalidUTF8: Error, Hashable, Sendable, CustomStringConvertible {
    /// 1-based line and column (in bytes) of the first invalid byte.
    public let line: Int
    public let column: Int
    /// The first invalid byte.
    public let byte: UInt8

    public var description: String {
        "not valid UTF-8 on line \(line), column \(column) (byte 0x\(Hex.encode([byte]))); save the file as UTF-8"
    }
}

/// Strict UTF-8 decoding: invalid input is refused, never replaced with U+FFFD. Pure.
public enum UTF8Text {
    /// `bytes` as a string, or where they are not UTF-8.
    public static func decode(_ bytes: some Collection<UInt8>) -> Result<String, InvalidUTF8> {
        if let text = String(validating: bytes, as: UTF8.self) { return .success(text) }
        return .failure(firstInvalid(Array(bytes)))
    }

    private static func firstInvalid(_ bytes: [UInt8]) -> InvalidUTF8 {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        scan: while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded): offset += encoded.count
            case .error: break scan
            case .emptyInput: break scan
            }
        }
        let at = min(offset, max(0, bytes.count - 1))
        let lineStart = bytes[..<at].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        let line = bytes[..<at].reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
        return InvalidUTF8(line: line, column: at - lineStart + 1, byte: bytes.isEmpty ? 0 : bytes[at])
    }
}
