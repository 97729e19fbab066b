import ConcentratorCore

/// The AES operations OMS security needs, behind a protocol so the telegram decoders stay pure
/// and can be fuzzed without a crypto library. `SwiftCryptoOMSCipher` is the production one.
public protocol OMSCipher: Sendable {
    /// AES-128-CBC without padding; nil when the key is not 16 bytes or the data not whole blocks.
    func decryptCBC(_ data: [UInt8], key: [UInt8], iv: [UInt8]) -> [UInt8]?
    /// AES-128-CBC without padding (the simulator's meters encrypt with it).
    func encryptCBC(_ data: [UInt8], key: [UInt8], iv: [UInt8]) -> [UInt8]?
    /// AES-CMAC (RFC 4493), 16 bytes.
    func cmac(_ data: [UInt8], key: [UInt8]) -> [UInt8]?
}

/// The fields of an authentication and fragmentation layer (AFL, CI 0x90) that security mode 7
/// needs: the message control field, the message counter, the message length and the MAC.
public struct OMSAuthenticationFields: Hashable, Sendable {
    public var messageControl: UInt8
    public var messageCounter: UInt32?
    public var messageLength: UInt16?
    public var mac: [UInt8]

    public init(messageControl: UInt8, messageCounter: UInt32?, messageLength: UInt16? = nil, mac: [UInt8]) {
        self.messageControl = messageControl
        self.messageCounter = messageCounter
        self.messageLength = messageLength
        self.mac = mac
    }

    /// The MAC length the authentication type (MCL bits 3–0) announces: 3 → 2, 4 → 4, 5 → 8,
    /// 6 → 12, 7 → 16 bytes of AES-CMAC-128; 0 → none; nil for types this decoder does not check.
    public static func macLength(authenticationType: UInt8) -> Int? {
        switch authenticationType {
        case 0: return 0
        case 3: return 2
        case 4: return 4
        case 5: return 8
        case 6: return 12
        case 7: return 16
        default: return nil
        }
    }
}

/// OMS security modes 5 and 7 (OMS Vol.2 §9.2–9.5; EN 13757-7): the IVs, the key derivation, the
/// decryption check and the MAC. Pure, given an `OMSCipher`.
public enum OMSSecurity {
    /// Mode 5 IV: M (2 bytes) ‖ A (id 4, version, medium) ‖ access number × 8.
    public static func mode5IV(identity: MBusIdentity, accessNumber: UInt8) -> [UInt8] {
        var iv = ByteWriter(capacity: 16)
        iv.littleEndian(identity.manufacturer)
        iv.littleEndian(identity.number)
        iv.u8(identity.version)
        iv.u8(identity.medium)
        iv.raw([UInt8](repeating: accessNumber, count: 8))
        return iv.bytes
    }

    /// The derivation constants D of KDF-A (OMS Vol.2 table 27).
    public enum DerivedKey: UInt8, Sendable {
        case encryptionFromMeter = 0x00
        case macFromMeter = 0x01
        case encryptionToMeter = 0x10
        case macToMeter = 0x11
    }

    /// KDF-A: AES-CMAC(master, D ‖ message counter (4, LSB first) ‖ meter id (4, as in the A field)
    /// ‖ 07 × 7).
    public static func deriveKey(_ which: DerivedKey, master: [UInt8], messageCounter: UInt32, meterNumber: UInt32,
                                 cipher: any OMSCipher) -> [UInt8]? {
        var input = ByteWriter(capacity: 16)
        input.u8(which.rawValue)
        input.littleEndian(messageCounter)
        input.littleEndian(meterNumber)
        input.raw([UInt8](repeating: 0x07, count: 7))
        return cipher.cmac(input.bytes, key: master)
    }

    /// Mode 7's MAC over MCL ‖ MCR ‖ ML (when present) ‖ the TPL and APL bytes, truncated to the
    /// length the authentication type announces.
    public static func mode7MAC(fields: OMSAuthenticationFields, transportAndApplication: ArraySlice<UInt8>, macKey: [UInt8],
                                cipher: any OMSCipher) -> [UInt8]? {
        var input = ByteWriter(capacity: 8 + transportAndApplication.count)
        input.u8(fields.messageControl)
        if let counter = fields.messageCounter { input.littleEndian(counter) }
        if let length = fields.messageLength { input.littleEndian(length) }
        input.raw(transportAndApplication)
        guard let full = cipher.cmac(input.bytes, key: macKey) else { return nil }
        return Array(full.prefix(fields.mac.count))
    }

    /// The encrypted blocks after the header must decrypt to a block starting 2F 2F (OMS Vol.2 §9.2.4).
    public static let decryptionCheck: [UInt8] = [0x2F, 0x2F]

    /// Compares without an early exit (the MAC check).
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}
