import ConcentratorCore

/// The extended link layer (ELL, EN 13757-4 §13.2, CI 0x8C–0x8F): communication control, access
/// number, and for 0x8E/0x8F the receiver's address, for 0x8D/0x8F a session number.
public struct WirelessExtendedLinkLayer: Hashable, Sendable {
    public var ci: UInt8
    public var communicationControl: UInt8
    public var accessNumber: UInt8
    public var receiver: MBusIdentity?
    public var sessionNumber: UInt32?
    /// Bytes from the ELL's CI to the next layer.
    public var length: Int

    static func parse(_ bytes: [UInt8], at offset: Int) throws(ByteFormatError) -> WirelessExtendedLinkLayer {
        var r = ByteReader(bytes, from: offset)
        let ci = try r.u8("ELL CI")
        let cc = try r.u8("ELL communication control")
        let acc = try r.u8("ELL access number")
        var receiver: MBusIdentity?
        var session: UInt32?
        if ci == 0x8E || ci == 0x8F { receiver = try WirelessLinkFrame.readAddress(&r) }
        if ci == 0x8D || ci == 0x8F {
            session = try r.littleEndian(UInt32.self, "ELL session number")
            try r.skip(2, "ELL payload CRC")
        }
        return WirelessExtendedLinkLayer(ci: ci, communicationControl: cc, accessNumber: acc, receiver: receiver,
                                         sessionNumber: session, length: r.offset - offset)
    }

    /// The ELL's own encryption (session number bits 31–29, AES-CTR); 0 means none.
    public var encryption: UInt8 { UInt8(((sessionNumber ?? 0) >> 29) & 0x07) }
}

/// The authentication and fragmentation layer (AFL, CI 0x90; EN 13757-7 §6, OMS Vol.2 §7.3).
public struct WirelessAuthenticationLayer: Hashable, Sendable {
    public var fragmentationControl: UInt16
    public var keyInformation: UInt16?
    public var fields: OMSAuthenticationFields?
    /// Bytes from the AFL's CI to the next layer.
    public var length: Int

    /// More fragments follow (FCL bit 14): fragmented messages are not reassembled here.
    public var moreFragments: Bool { fragmentationControl & 0x4000 != 0 }

    static func parse(_ bytes: [UInt8], at offset: Int) throws(ByteFormatError) -> WirelessAuthenticationLayer {
        var r = ByteReader(bytes, from: offset)
        _ = try r.u8("AFL CI")
        let length = Int(try r.u8("AFL length"))
        let end = r.offset + length
        guard end <= bytes.count else { throw ByteFormatError("AFL length \(length) runs past the frame", at: offset + 1) }
        var inner = ByteReader(bytes, from: r.offset, to: end)
        let fcl = try inner.littleEndian(UInt16.self, "AFL fragmentation control")
        var mcl: UInt8?
        var keyInfo: UInt16?
        var counter: UInt32?
        var mac: [UInt8] = []
        var messageLength: UInt16?
        if fcl & 0x2000 != 0 { mcl = try inner.u8("AFL message control") }
        if fcl & 0x0200 != 0 { keyInfo = try inner.littleEndian(UInt16.self, "AFL key information") }
        if fcl & 0x0800 != 0 { counter = try inner.littleEndian(UInt32.self, "AFL message counter") }
        if fcl & 0x0400 != 0 {
            let type = (mcl ?? 0) & 0x0F
            let macLength = OMSAuthenticationFields.macLength(authenticationType: type)
                ?? (inner.remaining - (fcl & 0x1000 != 0 ? 2 : 0))
            mac = try inner.raw(macLength, "AFL MAC")
        }
        if fcl & 0x1000 != 0 { messageLength = try inner.littleEndian(UInt16.self, "AFL message length") }
        let fields = mcl.map { OMSAuthenticationFields(messageControl: $0, messageCounter: counter, messageLength: messageLength, mac: mac) }
        return WirelessAuthenticationLayer(fragmentationControl: fcl, keyInformation: keyInfo, fields: fields, length: end - offset)
    }
}

/// The layers of a received frame before decryption: enough to know whose telegram it is.
public struct WirelessTelegramLayers: Hashable, Sendable {
    public var frame: WirelessLinkFrame
    public var ell: WirelessExtendedLinkLayer?
    public var afl: WirelessAuthenticationLayer?
    /// Where the transport layer's CI is.
    public var transportOffset: Int
    /// The meter: the long transport header's identity, or the link layer's sender.
    public var meter: MBusIdentity
}

/// A fully decoded wireless telegram.
public struct WirelessTelegram: Hashable, Sendable {
    public var layers: WirelessTelegramLayers
    public var application: MBusApplicationData

    public var meter: MBusIdentity { layers.meter }
    public var records: [MBusDataRecord] { application.records }
}

/// Peels and decodes wireless M-Bus telegrams: link layer, ELL, AFL, transport layer with OMS
/// security modes 0, 5 and 7, and the records. Pure.
public enum WirelessTelegramDecoder {
    /// The layers up to the transport header, without decrypting (the heard list and the key lookup
    /// need only this).
    public static func peel(_ frame: WirelessLinkFrame) throws(MBusTelegramError) -> WirelessTelegramLayers {
        let bytes = frame.bytes
        var offset = 10
        var ell: WirelessExtendedLinkLayer?
        var afl: WirelessAuthenticationLayer?
        do {
            if (0x8C...0x8F).contains(bytes[offset]) {
                let layer = try WirelessExtendedLinkLayer.parse(bytes, at: offset)
                guard layer.encryption == 0 else {
                    throw MBusTelegramError(.unsupported, "ELL encryption (AES-CTR, mode \(layer.encryption)) of sender \(frame.sender.numberText)")
                }
                ell = layer
                offset += layer.length
            }
            guard offset < bytes.count else { throw MBusTelegramError(.malformed, "the frame ends after its link layers") }
            if bytes[offset] == 0x90 {
                let layer = try WirelessAuthenticationLayer.parse(bytes, at: offset)
                guard !layer.moreFragments else {
                    throw MBusTelegramError(.unsupported, "fragmented message (AFL) from sender \(frame.sender.numberText)")
                }
                afl = layer
                offset += layer.length
            }
        } catch let error as MBusTelegramError {
            throw error
        } catch let error as ByteFormatError {
            throw MBusTelegramError(.malformed, "link layers: \(error)")
        } catch {
            throw MBusTelegramError(.malformed, "link layers: \(error)")
        }
        guard offset < bytes.count else { throw MBusTelegramError(.malformed, "no transport layer after the link layers") }
        let ci = bytes[offset]
        guard MBusTransportHeader.isTransportCI(ci) else {
            let what = ci == 0x79 ? "compact frame (CI 0x79)" : (0xA0...0xB7).contains(ci) ? "manufacturer-specific CI 0x\(Hex.encode([ci]))"
                : "CI 0x\(Hex.encode([ci]))"
            throw MBusTelegramError(.unsupported, "\(what) from sender \(frame.sender.numberText)")
        }
        var meter = frame.sender
        if ci == MBusCI.responseLongHeader {
            var r = ByteReader(bytes, from: offset + 1)
            guard let identity = try? MBusTransportHeader.identityField(&r) else {
                throw MBusTelegramError(.malformed, "long transport header truncated")
            }
            meter = identity
        }
        return WirelessTelegramLayers(frame: frame, ell: ell, afl: afl, transportOffset: offset, meter: meter)
    }

    /// Decodes the transport and application layers of peeled `layers`.
    /// `alreadyDecrypted`: see `MBusApplicationLayer.decode` (profile test vectors only).
    public static func decode(_ layers: WirelessTelegramLayers, key: MeterKey?, cipher: (any OMSCipher)?,
                              alreadyDecrypted: Bool = false) throws(MBusTelegramError) -> WirelessTelegram {
        let application = try MBusApplicationLayer.decode(layers.frame.bytes, ciOffset: layers.transportOffset,
                                                          linkIdentity: layers.frame.sender, authentication: layers.afl?.fields,
                                                          key: key, cipher: cipher, alreadyDecrypted: alreadyDecrypted)
        return WirelessTelegram(layers: layers, application: application)
    }
}
