import ConcentratorCore

/// The security control byte of security suite 0 (Green Book §9.2.7.2.3): bit 4 authentication,
/// bit 5 encryption, bit 6 key set (0 unicast, 1 broadcast), bit 7 compression, bits 0–3 the suite.
public struct SecurityControl: Hashable, Sendable {
    public var byte: UInt8

    public init(byte: UInt8) { self.byte = byte }

    public static let authenticated = SecurityControl(byte: 0x10)
    public static let encrypted = SecurityControl(byte: 0x20)
    public static let authenticatedAndEncrypted = SecurityControl(byte: 0x30)

    public var authentication: Bool { byte & 0x10 != 0 }
    public var encryption: Bool { byte & 0x20 != 0 }
    public var broadcastKey: Bool { byte & 0x40 != 0 }
    public var compression: Bool { byte & 0x80 != 0 }
    public var suite: UInt8 { byte & 0x0F }
}

/// A ciphered xDLMS APDU as it travels (Green Book §9.2.7.2.4): glo-ciphering tag, length, then the
/// security header (security control, invocation counter) and the protected content; or
/// general-glo-ciphering (tag DB) with the sender's system title in front. Only framing here;
/// `SecuritySuite0` does the cryptography.
public struct CipheredAPDU: Hashable, Sendable {
    /// The glo tag (C8 glo-get-request … CF glo-action-response, 21/28 the glo-initiate APDUs) or DB.
    public var tag: UInt8
    /// The sender's system title, in general-glo-ciphering only.
    public var systemTitle: [UInt8]?
    public var securityControl: SecurityControl
    public var invocationCounter: UInt32
    /// Ciphertext (and tag), or plaintext and tag for authentication only.
    public var content: [UInt8]

    public init(tag: UInt8, systemTitle: [UInt8]? = nil, securityControl: SecurityControl, invocationCounter: UInt32, content: [UInt8]) {
        self.tag = tag
        self.systemTitle = systemTitle
        self.securityControl = securityControl
        self.invocationCounter = invocationCounter
        self.content = content
    }

    /// The tag of general-glo-ciphering.
    public static let generalGloCiphering: UInt8 = 0xDB

    /// The glo-ciphering tag that protects a plain APDU with tag `plain`, or nil if there is none.
    public static func gloTag(for plain: UInt8) -> UInt8? {
        switch plain {
        case 0x01: return 0x21 // initiateRequest
        case 0x08: return 0x28 // initiateResponse
        case 0xC0: return 0xC8 // get-request
        case 0xC1: return 0xC9 // set-request
        case 0xC3: return 0xCB // action-request
        case 0xC4: return 0xCC // get-response
        case 0xC5: return 0xCD // set-response
        case 0xC7: return 0xCF // action-response
        default: return nil
        }
    }

    /// Whether `tag` starts a ciphered APDU this decoder understands.
    public static func isCiphered(_ tag: UInt8) -> Bool {
        tag == generalGloCiphering || [0x21, 0x28, 0xC8, 0xC9, 0xCB, 0xCC, 0xCD, 0xCF].contains(tag)
    }

    /// SC || IC || content: the part the cryptography covers, as `SecuritySuite0` produces it.
    public var securedContent: [UInt8] {
        [securityControl.byte, UInt8(invocationCounter >> 24), UInt8(invocationCounter >> 16 & 0xFF),
         UInt8(invocationCounter >> 8 & 0xFF), UInt8(invocationCounter & 0xFF)] + content
    }

    public var encoded: [UInt8] {
        let secured = securedContent
        if tag == Self.generalGloCiphering {
            let title = systemTitle ?? []
            return [tag] + AXDRLength.encode(title.count) + title + AXDRLength.encode(secured.count) + secured
        }
        return [tag] + AXDRLength.encode(secured.count) + secured
    }

    public static func decode(_ bytes: [UInt8]) throws(ByteFormatError) -> CipheredAPDU {
        var r = ByteReader(bytes)
        let tag = try r.u8("ciphered APDU tag")
        guard isCiphered(tag) else { throw ByteFormatError("tag \(Hex.encode([tag])) is not a ciphered APDU", at: 0) }
        var title: [UInt8]?
        if tag == generalGloCiphering {
            let n = try AXDRLength.read(&r, "system title")
            guard n == 8 else { throw ByteFormatError("system title of \(n) bytes (expected 8)", at: 1) }
            title = try r.raw(n, "system title")
        }
        let at = r.offset
        let length = try AXDRLength.read(&r, "ciphered content")
        guard length == r.remaining else { throw ByteFormatError("ciphered content length \(length), \(r.remaining) bytes follow", at: at) }
        guard length >= 5 else { throw ByteFormatError("ciphered content of \(length) bytes has no security header", at: at) }
        let sc = SecurityControl(byte: try r.u8("security control"))
        let ic = try r.bigEndian(UInt32.self, "invocation counter")
        return CipheredAPDU(tag: tag, systemTitle: title, securityControl: sc, invocationCounter: ic, content: r.rest())
    }
}
