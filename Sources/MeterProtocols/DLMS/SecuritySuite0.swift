import ConcentratorCore
import Crypto

/// A 128-bit DLMS key (block cipher key EK or authentication key AK). Its description never shows
/// the bytes, so a key cannot end up in a log or an error by accident.
public struct DLMSKey: Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    let bytes: [UInt8]

    /// Nil unless `bytes` has exactly 16 bytes.
    public init?(_ bytes: [UInt8]) {
        guard bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    public var description: String { "<128-bit key>" }
    public var debugDescription: String { description }
}

/// The keys of security suite 0 for one meter: the global unicast encryption key and the
/// authentication key.
public struct DLMSSecurityKeys: Hashable, Sendable, CustomStringConvertible {
    public var encryption: DLMSKey
    public var authentication: DLMSKey

    public init(encryption: DLMSKey, authentication: DLMSKey) {
        self.encryption = encryption
        self.authentication = authentication
    }

    public var description: String { "<suite 0 keys>" }
}

/// Why protecting or opening a ciphered APDU failed. Never carries a key.
public enum DLMSSecurityError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The tag does not verify: wrong key, wrong system title, or altered bytes.
    case authenticationFailed
    /// A security control byte this client does not use (another suite, compression, broadcast key).
    case unsupportedSecurityControl(UInt8)
    /// An invocation counter not above the last one accepted from the same sender.
    case replayedInvocationCounter(received: UInt32, last: UInt32)
    /// The ciphered content is too short or otherwise malformed.
    case malformed(String)

    public var description: String {
        switch self {
        case .authenticationFailed: return "authentication tag does not verify (wrong key or system title, or altered data)"
        case .unsupportedSecurityControl(let sc): return "unsupported security control byte \(Hex.encode([sc]))"
        case .replayedInvocationCounter(let r, let l): return "replayed invocation counter \(r) (last accepted \(l))"
        case .malformed(let what): return "malformed ciphered APDU: \(what)"
        }
    }
}

/// Security suite 0 (Green Book §9.2.3.3 and §9.2.7): AES-GCM-128 with a 96-bit IV made of the
/// sender's system title and invocation counter, and a 96-bit (12-byte) authentication tag.
/// Pure: the invocation counter is always an input; this code never invents one.
public enum SecuritySuite0 {
    public static let tagLength = 12

    /// SC || IC || C || T (or SC || IC || P || T for authentication only, SC || IC || C for
    /// encryption only), the content of a glo-ciphered APDU.
    public static func protect(_ plaintext: [UInt8], securityControl sc: SecurityControl, systemTitle: [UInt8],
                               invocationCounter ic: UInt32, keys: DLMSSecurityKeys) throws(DLMSSecurityError) -> [UInt8] {
        guard sc.suite == 0, !sc.compression, !sc.broadcastKey, sc.authentication || sc.encryption else {
            throw .unsupportedSecurityControl(sc.byte)
        }
        let header = [sc.byte] + bigEndian(ic)
        let iv = try initializationVector(systemTitle: systemTitle, invocationCounter: ic)
        if !sc.encryption {
            let tag = try seal([], aad: [sc.byte] + keys.authentication.bytes + plaintext, key: keys.encryption, iv: iv).tag
            return header + plaintext + tag
        }
        let sealed = try seal(plaintext, aad: [sc.byte] + keys.authentication.bytes, key: keys.encryption, iv: iv)
        return header + sealed.ciphertext + (sc.authentication ? sealed.tag : [])
    }

    /// Opens SC || IC || content; returns the plaintext APDU. The caller checks the counter for replay.
    public static func open(_ secured: [UInt8], systemTitle: [UInt8], keys: DLMSSecurityKeys) throws(DLMSSecurityError) -> (apdu: [UInt8], securityControl: SecurityControl, invocationCounter: UInt32) {
        guard secured.count >= 5 else { throw .malformed("\(secured.count) bytes, no security header") }
        let sc = SecurityControl(byte: secured[0])
        guard sc.suite == 0, !sc.compression, !sc.broadcastKey, sc.authentication || sc.encryption else {
            throw .unsupportedSecurityControl(sc.byte)
        }
        let ic = UInt32(secured[1]) << 24 | UInt32(secured[2]) << 16 | UInt32(secured[3]) << 8 | UInt32(secured[4])
        let iv = try initializationVector(systemTitle: systemTitle, invocationCounter: ic)
        var body = Array(secured[5...])
        var tag: [UInt8] = []
        if sc.authentication {
            guard body.count >= tagLength else { throw .malformed("content shorter than the \(tagLength)-byte tag") }
            tag = Array(body.suffix(tagLength))
            body.removeLast(tagLength)
        }
        if !sc.encryption {
            let expected = try seal([], aad: [sc.byte] + keys.authentication.bytes + body, key: keys.encryption, iv: iv).tag
            guard constantTimeEqual(expected, tag) else { throw .authenticationFailed }
            return (body, sc, ic)
        }
        // GCM encryption is CTR mode: the keystream is the encryption of zeros under the same IV.
        let stream = try seal([UInt8](repeating: 0, count: body.count), aad: [], key: keys.encryption, iv: iv).ciphertext
        let plaintext = zip(body, stream).map { $0 ^ $1 }
        if sc.authentication {
            let expected = try seal(plaintext, aad: [sc.byte] + keys.authentication.bytes, key: keys.encryption, iv: iv).tag
            guard constantTimeEqual(expected, tag) else { throw .authenticationFailed }
        }
        return (plaintext, sc, ic)
    }

    /// HLS mechanism 5 (Green Book §9.2.7.4, Table 42): f(challenge) = SC || IC || GMAC(SC || AK || challenge),
    /// computed with the sender's system title and invocation counter, SC = 0x10.
    public static func hlsResponse(to challenge: [UInt8], systemTitle: [UInt8], invocationCounter ic: UInt32,
                                   keys: DLMSSecurityKeys) throws(DLMSSecurityError) -> [UInt8] {
        let iv = try initializationVector(systemTitle: systemTitle, invocationCounter: ic)
        let tag = try seal([], aad: [0x10] + keys.authentication.bytes + challenge, key: keys.encryption, iv: iv).tag
        return [0x10] + bigEndian(ic) + tag
    }

    /// Checks the peer's f(challenge) (17 bytes: SC, IC, 12-byte tag) against our own challenge.
    /// Returns the invocation counter it carried.
    public static func verifyHLSResponse(_ response: [UInt8], challenge: [UInt8], systemTitle: [UInt8],
                                         keys: DLMSSecurityKeys) throws(DLMSSecurityError) -> UInt32 {
        guard response.count == 5 + tagLength, response[0] == 0x10 else {
            throw .malformed("HLS response of \(response.count) bytes (expected SC 10, IC and a 12-byte tag)")
        }
        let ic = UInt32(response[1]) << 24 | UInt32(response[2]) << 16 | UInt32(response[3]) << 8 | UInt32(response[4])
        let expected = try hlsResponse(to: challenge, systemTitle: systemTitle, invocationCounter: ic, keys: keys)
        guard constantTimeEqual(expected, response) else { throw .authenticationFailed }
        return ic
    }

    static func initializationVector(systemTitle: [UInt8], invocationCounter: UInt32) throws(DLMSSecurityError) -> [UInt8] {
        guard systemTitle.count == 8 else { throw .malformed("system title of \(systemTitle.count) bytes (expected 8)") }
        return systemTitle + bigEndian(invocationCounter)
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    private static func seal(_ plaintext: [UInt8], aad: [UInt8], key: DLMSKey, iv: [UInt8]) throws(DLMSSecurityError) -> (ciphertext: [UInt8], tag: [UInt8]) {
        do {
            let box = try AES.GCM.seal(plaintext, using: SymmetricKey(data: key.bytes), nonce: try AES.GCM.Nonce(data: iv),
                                       authenticating: aad)
            return (Array(box.ciphertext), Array(box.tag.prefix(tagLength)))
        } catch {
            throw .malformed("AES-GCM refused the input")
        }
    }

    private static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}
