import ConcentratorCore

/// Why a telegram's transport or application layer could not be read. The detail names what and
/// where, never a key byte.
public struct MBusTelegramError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure: the agent raises a key event for `.noKey` and `.security`.
    public enum Kind: String, Hashable, Sendable {
        /// The bytes break the layer's structure.
        case malformed
        /// A well-formed layer this decoder does not implement (compact frames, ELL encryption, …).
        case unsupported
        /// The telegram is encrypted and no key is configured for the meter.
        case noKey = "no-key"
        /// Decryption or authentication failed: a wrong key, or a corrupted or altered telegram.
        case security
    }

    public var kind: Kind
    public var detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "\(kind.rawValue): \(detail)" }

    /// The same failure in the vocabulary of meter sessions.
    public var sessionError: MeterSessionError {
        switch kind {
        case .malformed: return MeterSessionError(.malformed, detail)
        case .unsupported: return MeterSessionError(.malformed, "unsupported: " + detail)
        case .noKey, .security: return MeterSessionError(.security, detail)
        }
    }
}

/// A decoded transport and application layer: the header, whose meter it is, and its records.
public struct MBusApplicationData: Hashable, Sendable {
    public var header: MBusTransportHeader
    /// The meter the data belongs to: the long header's identity, or the link layer's.
    public var meter: MBusIdentity?
    /// 0 none, 5 or 7 (the configuration field's mode).
    public var securityMode: UInt8
    public var block: MBusRecordBlock

    public var records: [MBusDataRecord] { block.records }
    public var status: MBusStatus? { header.status }
}

/// Decodes a transport layer (CI 72/7A/78) and its records, decrypting security modes 5 and 7.
/// Shared by the wired RSP_UD and the wireless telegram pipeline. Pure.
public enum MBusApplicationLayer {
    /// - Parameters:
    ///   - bytes: the telegram; the TPL starts at `ciOffset` and the application data runs to the end.
    ///   - linkIdentity: the wireless link layer's M and A fields (the meter when the header is short).
    ///   - authentication: the AFL fields, when an AFL preceded the TPL (mode 7 needs its counter).
    ///   - key: the meter's key, if one is configured.
    ///   - alreadyDecrypted: the encrypted blocks were decrypted before (a telegram published in its
    ///     decrypted form, as wmbusmeters' driver files show them): only the AES step is skipped,
    ///     the 2F 2F check still applies. Profile test vectors only; received telegrams never.
    public static func decode(_ bytes: [UInt8], ciOffset: Int, linkIdentity: MBusIdentity?,
                              authentication: OMSAuthenticationFields? = nil, key: MeterKey?,
                              cipher: (any OMSCipher)?, alreadyDecrypted: Bool = false) throws(MBusTelegramError) -> MBusApplicationData {
        let header: MBusTransportHeader
        do {
            header = try MBusTransportHeader.parse(bytes, at: ciOffset)
        } catch {
            throw MBusTelegramError(.malformed, "transport header: \(error)")
        }
        let meter = header.identity ?? linkIdentity
        let mode = header.configuration?.securityMode ?? 0
        let dataStart = ciOffset + header.length
        var plain = Array(bytes[dataStart...])
        switch mode {
        case 0:
            break
        case 5 where alreadyDecrypted, 7 where alreadyDecrypted:
            guard plain.starts(with: OMSSecurity.decryptionCheck) else {
                throw MBusTelegramError(.security, "the telegram of meter \(meter.map(\.numberText) ?? "?") was said to be decrypted but does not start with 2F 2F")
            }
        case 5, 7:
            guard let key else {
                throw MBusTelegramError(.noKey, "the telegram is encrypted (security mode \(mode)) and no key is configured for meter \(meter.map(\.numberText) ?? "?")")
            }
            guard let cipher else { throw MBusTelegramError(.unsupported, "no cipher available for security mode \(mode)") }
            guard let meter else { throw MBusTelegramError(.malformed, "security mode \(mode) without a meter address") }
            let blocks = header.configuration?.encryptedBlocks ?? 0
            let encryptedLength = 16 * blocks
            guard encryptedLength <= plain.count else {
                throw MBusTelegramError(.malformed, "the configuration field announces \(blocks) encrypted blocks (\(encryptedLength) bytes); \(plain.count) bytes follow the header")
            }
            let encrypted = Array(plain[0..<encryptedLength])
            let decrypted: [UInt8]?
            if mode == 5 {
                decrypted = cipher.decryptCBC(encrypted, key: key.bytes,
                                              iv: OMSSecurity.mode5IV(identity: meter, accessNumber: header.accessNumber ?? 0))
            } else {
                decrypted = try mode7(encrypted, bytes: bytes, ciOffset: ciOffset, header: header, meter: meter,
                                      authentication: authentication, key: key, cipher: cipher)
            }
            guard let decrypted else { throw MBusTelegramError(.security, "AES decryption failed for meter \(meter.numberText)") }
            guard blocks == 0 || decrypted.starts(with: OMSSecurity.decryptionCheck) else {
                throw MBusTelegramError(.security, "decryption check failed for meter \(meter.numberText) (security mode \(mode)): the decrypted data does not start with 2F 2F; the configured key is wrong for this meter, or the telegram was corrupted")
            }
            plain = decrypted + plain[encryptedLength...]
        default:
            throw MBusTelegramError(.unsupported, "security mode \(mode) of meter \(meter.map(\.numberText) ?? "?") is not supported (only 0, 5 and 7)")
        }
        do {
            let block = try MBusRecordDecoder.decode(plain)
            return MBusApplicationData(header: header, meter: meter, securityMode: mode, block: block)
        } catch {
            throw MBusTelegramError(.malformed, "records: \(error.reason) at byte \(dataStart + error.offset)")
        }
    }

    private static func mode7(_ encrypted: [UInt8], bytes: [UInt8], ciOffset: Int, header: MBusTransportHeader, meter: MBusIdentity,
                              authentication: OMSAuthenticationFields?, key: MeterKey,
                              cipher: any OMSCipher) throws(MBusTelegramError) -> [UInt8]? {
        guard let configuration = header.configuration, configuration.keyDerivation == 1 else {
            throw MBusTelegramError(.unsupported, "security mode 7 of meter \(meter.numberText) with key derivation \(header.configuration?.keyDerivation.map(String.init) ?? "?") (only KDF-A, 1)")
        }
        guard let authentication, let counter = authentication.messageCounter else {
            throw MBusTelegramError(.malformed, "security mode 7 of meter \(meter.numberText) needs an AFL with a message counter")
        }
        guard let encryptionKey = OMSSecurity.deriveKey(.encryptionFromMeter, master: key.bytes, messageCounter: counter,
                                                        meterNumber: meter.number, cipher: cipher),
              let macKey = OMSSecurity.deriveKey(.macFromMeter, master: key.bytes, messageCounter: counter,
                                                 meterNumber: meter.number, cipher: cipher) else { return nil }
        if !authentication.mac.isEmpty {
            let expected = OMSSecurity.mode7MAC(fields: authentication, transportAndApplication: bytes[ciOffset...], macKey: macKey,
                                                cipher: cipher)
            guard let expected, OMSSecurity.constantTimeEqual(expected, authentication.mac) else {
                throw MBusTelegramError(.security, "the AFL MAC does not match for meter \(meter.numberText) (security mode 7): the configured key is wrong for this meter, or the telegram was altered")
            }
        }
        return cipher.decryptCBC(encrypted, key: encryptionKey, iv: [UInt8](repeating: 0, count: 16))
    }
}
