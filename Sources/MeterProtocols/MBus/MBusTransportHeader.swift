import ConcentratorCore

/// The status byte of the transport header (EN 13757-3 table 6 / OMS Vol.2 table 11).
public struct MBusStatus: Hashable, Sendable, CustomStringConvertible {
    /// Bits 1–0.
    public enum ApplicationStatus: UInt8, Hashable, Sendable {
        case noError = 0, busy = 1, error = 2, alarm = 3
    }

    public var raw: UInt8
    public init(raw: UInt8) { self.raw = raw }

    public var application: ApplicationStatus { ApplicationStatus(rawValue: raw & 0x03)! }
    public var powerLow: Bool { raw & 0x04 != 0 }
    public var permanentError: Bool { raw & 0x08 != 0 }
    public var temporaryError: Bool { raw & 0x10 != 0 }
    /// Bits 7–5, meaning defined by the manufacturer.
    public var manufacturerBits: UInt8 { raw >> 5 }
    public var isOK: Bool { raw & 0x1F == 0 }

    /// `ok`, or the flags that are set: `busy power-low temporary-error`.
    public var description: String {
        var flags: [String] = []
        switch application {
        case .noError: break
        case .busy: flags.append("application-busy")
        case .error: flags.append("application-error")
        case .alarm: flags.append("alarm")
        }
        if powerLow { flags.append("power-low") }
        if permanentError { flags.append("permanent-error") }
        if temporaryError { flags.append("temporary-error") }
        if manufacturerBits != 0 { flags.append("manufacturer-bits-\(manufacturerBits)") }
        return flags.isEmpty ? "ok" : flags.joined(separator: " ")
    }
}

/// The configuration field of the transport header (OMS Vol.2 §7.2.4; EN 13757-7): the security
/// mode, the number of encrypted 16-byte blocks, and for mode 7 the configuration-field extension.
public struct MBusConfigurationField: Hashable, Sendable {
    /// The two bytes as a little-endian number.
    public var raw: UInt16
    /// The extension byte mode 7 adds (key id, key derivation function).
    public var extensionByte: UInt8?

    public init(raw: UInt16, extensionByte: UInt8? = nil) {
        self.raw = raw
        self.extensionByte = extensionByte
    }

    /// Bits 12–8: 0 none, 5 AES-128-CBC with IV, 7 AES-128-CBC with IV 0 and derived keys, …
    public var securityMode: UInt8 { UInt8((raw >> 8) & 0x1F) }
    /// Bits 7–4: encrypted blocks of 16 bytes.
    public var encryptedBlocks: Int { Int((raw >> 4) & 0x0F) }
    public var bidirectional: Bool { raw & 0x8000 != 0 }
    public var accessible: Bool { raw & 0x4000 != 0 }
    public var synchronous: Bool { raw & 0x2000 != 0 }
    /// Bits 3–2: 0 standard data, 1 static, 2 and 3 other content.
    public var content: UInt8 { UInt8((raw >> 2) & 0x03) }
    /// Mode 7: key derivation function (bits 5–4 of the extension; 1 = KDF-A of OMS Vol.2 §9.5).
    public var keyDerivation: UInt8? { extensionByte.map { ($0 >> 4) & 0x03 } }
    /// Mode 7: the key version (bits 3–0 of the extension).
    public var keyVersion: UInt8? { extensionByte.map { $0 & 0x0F } }

    /// Modes whose header carries the extension byte.
    static func hasExtension(mode: UInt8) -> Bool { mode == 7 || mode == 13 }
}

/// The transport (TPL) header that follows a CI field: none (0x78), short (0x7A: access number,
/// status, configuration) or long (0x72: the meter's identity, then the short fields).
public struct MBusTransportHeader: Hashable, Sendable {
    /// Which header the CI announced.
    public enum Kind: Hashable, Sendable { case none, short, long }

    public var ci: UInt8
    public var kind: Kind
    /// The meter's identity from a long header.
    public var identity: MBusIdentity?
    public var accessNumber: UInt8?
    public var status: MBusStatus?
    public var configuration: MBusConfigurationField?
    /// Bytes from the CI field up to the first byte after the header.
    public var length: Int

    /// Whether `ci` opens a TPL this decoder understands (response direction).
    public static func isTransportCI(_ ci: UInt8) -> Bool {
        [MBusCI.responseLongHeader, MBusCI.responseShortHeader, MBusCI.responseNoHeader].contains(ci)
    }

    /// Reads the CI and the header it announces at `offset` of `bytes`.
    public static func parse(_ bytes: [UInt8], at offset: Int) throws(ByteFormatError) -> MBusTransportHeader {
        var r = ByteReader(bytes, from: offset)
        let ci = try r.u8("CI field")
        switch ci {
        case MBusCI.responseNoHeader:
            return MBusTransportHeader(ci: ci, kind: .none, identity: nil, accessNumber: nil, status: nil, configuration: nil,
                                       length: 1)
        case MBusCI.responseShortHeader, MBusCI.responseLongHeader:
            let identity = ci == MBusCI.responseLongHeader ? try identityField(&r) : nil
            let access = try r.u8("access number")
            let status = try r.u8("status")
            let configuration = try configurationField(&r)
            return MBusTransportHeader(ci: ci, kind: identity == nil ? .short : .long, identity: identity, accessNumber: access,
                                       status: MBusStatus(raw: status), configuration: configuration, length: r.offset - offset)
        case MBusCI.responseLongHeaderMSBFirst:
            throw ByteFormatError("CI 0x76 (data most significant byte first) is not supported", at: offset)
        default:
            throw ByteFormatError("CI 0x\(Hex.encode([ci])) is not a transport layer this decoder reads", at: offset)
        }
    }

    /// Identification (4 bytes BCD, LSB first), manufacturer (2), version, medium: the long
    /// header's order. `manufacturerFirst`: the wireless link layer's order (M, then A).
    static func identityField(_ r: inout ByteReader, manufacturerFirst: Bool = false) throws(ByteFormatError) -> MBusIdentity {
        let early = manufacturerFirst ? try r.littleEndian(UInt16.self, "manufacturer") : 0
        let number = try r.littleEndian(UInt32.self, "identification number")
        let manufacturer = manufacturerFirst ? early : try r.littleEndian(UInt16.self, "manufacturer")
        let version = try r.u8("version")
        let medium = try r.u8("medium")
        return MBusIdentity(number: number, manufacturer: manufacturer, version: version, medium: medium)
    }

    static func configurationField(_ r: inout ByteReader) throws(ByteFormatError) -> MBusConfigurationField {
        let raw = try r.littleEndian(UInt16.self, "configuration field")
        var field = MBusConfigurationField(raw: raw)
        if MBusConfigurationField.hasExtension(mode: field.securityMode) {
            field.extensionByte = try r.u8("configuration field extension")
        }
        return field
    }

    /// The bytes of an identity in the long header's order, or (`manufacturerFirst`) the link layer's.
    public static func encode(_ identity: MBusIdentity, manufacturerFirst: Bool = false) -> [UInt8] {
        var w = ByteWriter(capacity: 8)
        if manufacturerFirst { w.littleEndian(identity.manufacturer) }
        w.littleEndian(identity.number)
        if !manufacturerFirst { w.littleEndian(identity.manufacturer) }
        w.u8(identity.version)
        w.u8(identity.medium)
        return w.bytes
    }
}
