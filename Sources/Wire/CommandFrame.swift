import ConcentratorCore

/// Why a command envelope or reply was refused before or while its body was read. Never carries key bytes.
public enum CommandMessageError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The frame does not split: magic, lengths or truncation.
    case malformedFrame(WireFormatError)
    case unsupportedVersion(UInt8)
    /// The frame splits, but the body is not a valid envelope or reply (JSON, fields, ranges).
    case malformedBody(String)
    /// Signed by a key id the receiver does not trust (for a device: no command key with this id).
    case unknownKey(KeyID)
    /// The signature does not verify with the key the frame names.
    case badSignature(KeyID)
    /// A reply that names another device than the one the receiver expects.
    case wrongDevice(String)

    public var description: String {
        switch self {
        case .malformedFrame(let e): return "malformed frame: \(e)"
        case .unsupportedVersion(let v): return "frame format version \(v) is not supported (this build reads version 1)"
        case .malformedBody(let reason): return "malformed body: \(reason)"
        case .unknownKey(let k): return "signed by key \(k), which is not a trusted key"
        case .badSignature(let k): return "signature by key \(k) does not verify (altered or forged)"
        case .wrongDevice(let d): return "the reply names device \(d), not the expected one"
        }
    }
}

/// The signed frame shared by command envelopes ("CCUC") and command replies ("CCUR"); Docs/mqtt-api.md §11.
///
/// ```
/// magic (4) ‖ version 01 ‖ signer key id (8) ‖ body length (u32, big-endian) ‖ body ‖ Ed25519 signature (64)
/// ```
/// The signature covers every byte before it. The body is a UTF-8 JSON object; its exact bytes are
/// what is signed, so a receiver never re-serialises it.
public struct SignedCommandFrame: Hashable, Sendable {
    public static let formatVersion: UInt8 = 1
    /// Bytes before the body.
    public static let headerLength = 17
    public static let signatureLength = 64

    public let magic: [UInt8]
    public let keyID: KeyID
    public let body: [UInt8]
    /// Everything the signature covers: header and body.
    public let signedBytes: [UInt8]
    public let signature: [UInt8]

    /// Builds and signs a frame.
    public static func encode(magic: [UInt8], body: [UInt8], signedBy key: SigningPrivateKey) -> [UInt8] {
        precondition(magic.count == 4 && body.count <= Int(UInt32.max), "a frame has a 4-byte magic and a body below 4 GiB")
        var w = ByteWriter(capacity: headerLength + body.count + signatureLength)
        w.raw(magic)
        w.u8(formatVersion)
        w.raw(key.id.bytes)
        w.bigEndian(UInt32(body.count))
        w.raw(body)
        return w.bytes + key.sign(w.bytes)
    }

    /// Splits `bytes` into a frame with `magic`, refusing bodies over `maximumBodyBytes`. Checks the
    /// layout only, not the signature (`verifies(with:)`).
    public static func parse(_ bytes: [UInt8], magic: [UInt8], maximumBodyBytes: Int) throws(CommandMessageError) -> SignedCommandFrame {
        var r = ByteReader(bytes)
        do {
            let found = try r.raw(4, "magic")
            guard found == magic else {
                throw CommandMessageError.malformedFrame(WireFormatError("magic is not \"\(String(decoding: magic, as: UTF8.self))\"", at: 0))
            }
            let version = try r.u8("format version")
            guard version == formatVersion else { throw CommandMessageError.unsupportedVersion(version) }
            let keyID = try KeyID(bytes: r.raw(KeyID.byteCount, "signer key id"))
            let length = Int(try r.bigEndian(UInt32.self, "body length"))
            guard length <= maximumBodyBytes else {
                throw CommandMessageError.malformedFrame(WireFormatError("body of \(length) bytes exceeds the limit of \(maximumBodyBytes)", at: 13))
            }
            let body = try r.raw(length, "body")
            let signature = try r.raw(signatureLength, "signature")
            guard r.isAtEnd else {
                throw CommandMessageError.malformedFrame(WireFormatError("\(r.remaining) bytes after the signature", at: r.offset))
            }
            return SignedCommandFrame(magic: magic, keyID: keyID, body: body,
                                      signedBytes: Array(bytes[..<(headerLength + length)]), signature: signature)
        } catch let e as WireFormatError {
            throw .malformedFrame(e)
        } catch let e as CommandMessageError {
            throw e
        } catch {
            throw .malformedFrame(WireFormatError("\(error)", at: r.offset))
        }
    }

    /// Whether the signature is `key`'s over the header and body.
    public func verifies(with key: SigningPublicKey) -> Bool {
        key.id == keyID && key.isValidSignature(signature, for: signedBytes)
    }

    /// The body as a JSON object, with duplicate keys refused at every level (two readers could
    /// otherwise disagree on what was signed).
    public func bodyObject() throws(CommandMessageError) -> JSONValue {
        let value: JSONValue
        do { value = try JSONParser.parse(body) } catch { throw .malformedBody("not JSON: \(error)") }
        guard value.members != nil else { throw .malformedBody("the body is a JSON \(value.typeName), not an object") }
        if let path = CanonicalJSON.duplicateKeyPath(value) { throw .malformedBody("duplicate key \(path)") }
        return value
    }
}

/// The canonical JSON form envelopes and replies are written in: object members sorted by key (byte
/// order of their UTF-8), no whitespace, strings escaped as `JSONWriter` does, numbers as written.
/// Receivers verify the exact bytes and never need to reproduce this form; writers use it so that
/// the same message always has the same bytes (test vectors, idempotent resends).
public enum CanonicalJSON {
    public static func render(_ value: JSONValue) -> [UInt8] { Array(JSONWriter.render(sorted(value), pretty: false).utf8) }

    /// `value` with every object's members sorted by key.
    public static func sorted(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let members):
            return .object(members.map { JSONMember(key: $0.key, value: sorted($0.value)) }
                .sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) })
        case .array(let items):
            return .array(items.map(sorted))
        default:
            return value
        }
    }

    /// The path of the first key that appears twice in one object, if any.
    public static func duplicateKeyPath(_ value: JSONValue, path: String = "$") -> String? {
        switch value {
        case .object(let members):
            var seen: Set<String> = []
            for m in members {
                if !seen.insert(m.key).inserted { return path + "." + m.key }
                if let inner = duplicateKeyPath(m.value, path: path + "." + m.key) { return inner }
            }
        case .array(let items):
            for (i, item) in items.enumerated() {
                if let inner = duplicateKeyPath(item, path: "\(path)[\(i)]") { return inner }
            }
        default:
            break
        }
        return nil
    }

    /// A JSON integer member value.
    public static func integer<T: BinaryInteger>(_ v: T) -> JSONValue { .number(Double(v), text: String(v)) }
}
