/// A meter's AES-128 key (wireless M-Bus OMS, DLMS). Its description never shows the key, so it
/// can sit in a value that is logged or put into an error by mistake without leaking.
public struct MeterKey: Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public static let byteCount = 16
    public let bytes: [UInt8]

    /// Nil unless exactly 16 bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count == MeterKey.byteCount else { return nil }
        self.bytes = bytes
    }

    /// A key typed or pasted at the console: 32 hex digits and the 8 CRC-32 check digits
    /// (`KeyText`, Docs/console.md "Keys"). The problem never contains the key's digits.
    public static func parse(_ text: String) -> Result<MeterKey, KeyTextProblem> {
        KeyText.parse(text, keyLength: byteCount, what: "a meter key").map { MeterKey(bytes: $0)! }
    }

    public var description: String { "AES-128 key (hidden)" }
    public var debugDescription: String { description }
}

/// Reads the meter key file the console writes (`<state>/keys/meters/<meter id>.json`, mode 0600,
/// format `concentrator-meter-key/1`, keys in plain hex; Docs/console.md "Keys").
public enum MeterKeyDocument {
    public static let format = "concentrator-meter-key/1"

    /// The key of `kind` ("encryption" for wireless M-Bus) in the file's text. The problem names the
    /// file's flaw, never a key digit.
    public static func key(_ kind: String, in text: String, meter: String) -> Result<MeterKey, KeyTextProblem> {
        guard let document = try? JSONParser.parse(text), document.members != nil else {
            return .failure(KeyTextProblem("the key file of meter \(meter) is not a JSON object"))
        }
        guard document["format"]?.stringValue == format else {
            return .failure(KeyTextProblem("the key file of meter \(meter) is not in the \(format) format"))
        }
        if let named = document["meter"]?.stringValue, named != meter {
            return .failure(KeyTextProblem("the key file names meter \(named), not \(meter)"))
        }
        guard let hex = document[kind]?.stringValue else {
            return .failure(KeyTextProblem("the key file of meter \(meter) has no \(kind) key"))
        }
        guard let bytes = Hex.decode(hex), let key = MeterKey(bytes: bytes) else {
            return .failure(KeyTextProblem("the \(kind) key of meter \(meter) is not 32 hex digits"))
        }
        return .success(key)
    }
}
