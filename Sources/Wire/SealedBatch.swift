import ConcentratorCore
import Crypto
import FoundationEssentials

/// Why a received batch was refused. Each case says what to check; none carries key or body bytes.
public enum BatchOpenError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The message cannot be split into header, encapsulated key, ciphertext and signature.
    case malformed(WireFormatError)
    /// A format version this build does not read.
    case unsupportedVersion(UInt8)
    /// The device id is not registered at the head-end.
    case unknownDevice(String)
    /// The device is registered, but not with the key id that signed the batch.
    case unknownSigningKey(device: String, keyID: KeyID)
    /// The signature does not verify: the header, encapsulated key or ciphertext was altered, or
    /// the batch was not made by this device's key.
    case badSignature(device: String, sequence: UInt64)
    /// The batch is sealed to a head-end key id this opener does not hold.
    case unknownSealingKey(KeyID)
    /// The seal does not open (authenticated decryption failed) although the signature verified.
    case cannotDecrypt(device: String, sequence: UInt64)
    /// The header declares a body larger than the opener allows.
    case bodyTooLarge(declared: UInt32, maximum: Int)
    /// The sealed payload is not a valid zstd frame of the declared size.
    case decompressionFailed(ZstdError)
    /// The decompressed body does not decode.
    case malformedBody(WireFormatError)
    /// The body contradicts the header (counts, time range, lengths).
    case headerMismatch(String)

    public var description: String {
        switch self {
        case .malformed(let e): return "malformed batch: \(e)"
        case .unsupportedVersion(let v): return "batch format version \(v) is not supported (this build reads version 1)"
        case .unknownDevice(let d): return "device \(d) is not registered; register its public keys (concentrator keys show)"
        case .unknownSigningKey(let d, let k):
            return "device \(d) signed with key \(k), which is not registered for it; register the new key"
        case .badSignature(let d, let s): return "batch \(s) of device \(d): signature does not verify (altered or forged)"
        case .unknownSealingKey(let k): return "batch is sealed to head-end key \(k), which this head-end does not hold"
        case .cannotDecrypt(let d, let s): return "batch \(s) of device \(d): sealed payload does not decrypt"
        case .bodyTooLarge(let d, let m): return "batch body of \(d) bytes exceeds the limit of \(m) bytes"
        case .decompressionFailed(let e): return "batch payload: \(e)"
        case .malformedBody(let e): return "batch body: \(e)"
        case .headerMismatch(let what): return "batch body contradicts its header: \(what)"
        }
    }

    /// The reason to put in a signed "rejected" ack, or nil when no ack may be sent: a batch whose
    /// signature did not verify is not known to come from the device, so it is dropped silently.
    public var rejectionReason: BatchRejectionReason? {
        switch self {
        case .malformed, .unsupportedVersion, .unknownDevice, .unknownSigningKey, .badSignature: return nil
        case .unknownSealingKey: return .unknownSealingKey
        case .cannotDecrypt: return .cannotDecrypt
        case .bodyTooLarge: return .bodyTooLarge
        case .decompressionFailed: return .decompressionFailed
        case .malformedBody: return .malformedBody
        case .headerMismatch: return .headerMismatch
        }
    }
}

/// A batch as it travels: header ‖ encapsulated key (32) ‖ ciphertext ‖ Ed25519 signature (64).
/// Anyone (a relay, the broker) can split it and check the signature; only the head-end opens it.
public struct SealedBatch: Hashable, Sendable {
    public static let encapsulatedKeyLength = 32
    public static let signatureLength = 64
    public static let tagLength = 16

    public let header: BatchHeader
    /// The header exactly as sent (the associated data and the start of the signed bytes).
    public let headerBytes: [UInt8]
    /// The sender's ephemeral X25519 public key (HPKE `enc`).
    public let encapsulatedKey: [UInt8]
    /// HPKE ciphertext of the (compressed) body, with the 16-byte ChaCha20-Poly1305 tag.
    public let ciphertext: [UInt8]
    public let signature: [UInt8]

    init(header: BatchHeader, headerBytes: [UInt8], encapsulatedKey: [UInt8], ciphertext: [UInt8], signature: [UInt8]) {
        self.header = header
        self.headerBytes = headerBytes
        self.encapsulatedKey = encapsulatedKey
        self.ciphertext = ciphertext
        self.signature = signature
    }

    /// The complete message (the MQTT payload).
    public var bytes: [UInt8] { signedBytes + signature }

    /// header ‖ enc ‖ ciphertext: what the device's Ed25519 signature covers.
    public var signedBytes: [UInt8] { headerBytes + encapsulatedKey + ciphertext }

    /// SHA-256 of the complete message; acks name the batch they answer by this digest.
    public var digest: [UInt8] { Array(SHA256.hash(data: bytes)) }

    /// Splits a received message. Checks lengths and the header's syntax only (no keys needed).
    public static func parse(_ bytes: [UInt8]) throws(BatchOpenError) -> SealedBatch {
        var r = ByteReader(bytes)
        let header = try BatchHeader.parse(&r)
        let headerBytes = Array(bytes[0..<r.offset])
        let ciphertextLength = Int(header.ciphertextLength)
        guard ciphertextLength >= tagLength else {
            throw .malformed(WireFormatError("ciphertext length \(ciphertextLength) is shorter than the tag", at: r.offset - 4))
        }
        let expected = headerBytes.count + encapsulatedKeyLength + ciphertextLength + signatureLength
        guard bytes.count == expected else {
            throw .malformed(WireFormatError("message is \(bytes.count) bytes; its header implies \(expected)", at: min(bytes.count, expected)))
        }
        do {
            let enc = try r.raw(encapsulatedKeyLength, "encapsulated key")
            let ciphertext = try r.raw(ciphertextLength, "ciphertext")
            let signature = try r.raw(signatureLength, "signature")
            return SealedBatch(header: header, headerBytes: headerBytes, encapsulatedKey: enc, ciphertext: ciphertext,
                               signature: signature)
        } catch {
            throw .malformed(error)
        }
    }

    /// Whether the device key `key` signed this batch.
    public func hasValidSignature(by key: SigningPublicKey) -> Bool {
        key.isValidSignature(signature, for: signedBytes)
    }
}

/// The content of a batch: snapshots of one series, or events.
public enum BatchContent: Hashable, Sendable {
    case snapshots(SeriesKind, interval: IntervalSchedule, [MeterSnapshot])
    case events([GatewayEvent])

    var kind: BatchKind {
        switch self {
        case .snapshots(let series, _, _): return series == .interval ? .interval : .profile
        case .events: return .events
        }
    }

    /// The header fields that describe the content: range, interval length, meter and value counts.
    var summary: (start: Timestamp, end: Timestamp, intervalSeconds: UInt32, meters: Int, values: Int) {
        switch self {
        case .snapshots(_, let schedule, let snapshots):
            let starts = snapshots.map(\.intervalStart)
            let first = starts.min() ?? Timestamp(milliseconds: 0)
            let last = starts.max() ?? first
            return (first, Timestamp(milliseconds: last.milliseconds &+ schedule.lengthMilliseconds), UInt32(clamping: schedule.lengthSeconds),
                    Set(snapshots.map(\.meter)).count, snapshots.reduce(0) { $0 + $1.values.count })
        case .events(let events):
            let times = events.map(\.time)
            let first = times.min() ?? Timestamp(milliseconds: 0)
            return (first, times.max() ?? first, 0, Set(events.compactMap(\.meter)).count, events.count)
        }
    }
}

/// The HPKE `info` for a batch: the domain string "concentrator/v1 batch" followed by the sealing and
/// signing key ids (8 bytes each).
func batchSealingInfo(sealingKeyID: KeyID, signingKeyID: KeyID) -> [UInt8] {
    Array("concentrator/v1 batch".utf8) + sealingKeyID.bytes + signingKeyID.bytes
}

/// The one HPKE configuration batches use (RFC 9180): mode_base, DHKEM(X25519, HKDF-SHA256) 0x0020,
/// HKDF-SHA256 0x0001, ChaCha20-Poly1305 0x0003, single-shot (sequence number 0).
enum BatchHPKE {
    static let ciphersuite = HPKE.Ciphersuite.Curve25519_SHA256_ChachaPoly

    static func seal(_ plaintext: [UInt8], to key: AgreementPublicKey, info: [UInt8], aad: [UInt8]) throws -> (enc: [UInt8], ciphertext: [UInt8]) {
        var sender = try HPKE.Sender(recipientKey: key.key, ciphersuite: ciphersuite, info: Data(info))
        let ciphertext = try sender.seal(plaintext, authenticating: aad)
        return (Array(sender.encapsulatedKey), Array(ciphertext))
    }

    static func open(_ ciphertext: [UInt8], enc: [UInt8], with key: AgreementPrivateKey, info: [UInt8], aad: [UInt8]) throws -> [UInt8] {
        var recipient = try HPKE.Recipient(privateKey: key.key, ciphersuite: ciphersuite, info: Data(info), encapsulatedKey: Data(enc))
        return Array(try recipient.open(ciphertext, authenticating: aad))
    }
}
