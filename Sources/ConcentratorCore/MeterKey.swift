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

extension MeterKeyDocument {
    /// The kinds of secret a meter key file may hold: the DLMS/COSEM global unicast encryption and
    /// authentication keys (16 bytes each) and a password (the DLMS LLS password or the IEC 62056-21
    /// P1 password, 1–32 bytes). A profile may name its key ids instead (`guek`, `p1`): any other
    /// member of the file is read as a secret under that id.
    public static let kinds = ["encryption", "authentication", "password"]
    /// The longest password a key file holds (IEC 62056-21 and DLMS LLS passwords are shorter).
    public static let maximumPasswordBytes = 32

    /// Every secret in the file's text by name (hex values). The problem names the file's flaw and
    /// the member, never a secret.
    public static func secrets(in text: String, meter: String) -> Result<[String: [UInt8]], KeyTextProblem> {
        guard let document = try? JSONParser.parse(text), let members = document.members else {
            return .failure(KeyTextProblem("the key file of meter \(meter) is not a JSON object"))
        }
        guard document["format"]?.stringValue == format else {
            return .failure(KeyTextProblem("the key file of meter \(meter) is not in the \(format) format"))
        }
        if let named = document["meter"]?.stringValue, named != meter {
            return .failure(KeyTextProblem("the key file names meter \(named), not \(meter)"))
        }
        var out: [String: [UInt8]] = [:]
        for member in members where member.key != "format" && member.key != "meter" {
            guard let hex = member.value.stringValue, let bytes = Hex.decode(hex), !bytes.isEmpty else {
                return .failure(KeyTextProblem("the \(member.key) member of the key file of meter \(meter) is not hexadecimal"))
            }
            if member.key == "password" {
                guard bytes.count <= maximumPasswordBytes else {
                    return .failure(KeyTextProblem("the password of meter \(meter) is longer than \(maximumPasswordBytes) bytes"))
                }
            } else if kinds.contains(member.key), bytes.count != MeterKey.byteCount {
                return .failure(KeyTextProblem("the \(member.key) key of meter \(meter) is not 32 hex digits"))
            }
            out[member.key] = bytes
        }
        return .success(out)
    }
}
