import ConcentratorCore

/// CRC-16/EN-13757: polynomial 0x3D65, initial value 0, not reflected, final XOR 0xFFFF; sent most
/// significant byte first. Check value: CRC of ASCII "123456789" is 0xC2B7.
public enum WirelessMBusCRC {
    private static let table: [UInt16] = (0..<256).map { n in
        var c = UInt16(n) << 8
        for _ in 0..<8 { c = c & 0x8000 != 0 ? (c << 1) ^ 0x3D65 : c << 1 }
        return c
    }

    public static func checksum<C: Collection>(_ bytes: C) -> UInt16 where C.Element == UInt8 {
        var crc: UInt16 = 0
        for b in bytes { crc = (crc << 8) ^ table[Int(UInt8(crc >> 8) ^ b)] }
        return crc ^ 0xFFFF
    }
}

/// The two frame formats of EN 13757-4 §9 (how the data-link CRCs are laid out).
public enum WirelessFrameFormat: String, Hashable, Sendable {
    /// A first block of 10 bytes (L to A), then blocks of 16 bytes, each followed by its CRC; L counts
    /// the bytes after L without the CRCs. Modes T1, S1, C1.
    case a = "A"
    /// A first block of 10 bytes and a second of up to 116 bytes with one CRC over both, then an
    /// optional third block with its own CRC; L counts the CRC bytes too. Mode C1.
    case b = "B"
}

/// Whether and how the bytes of a received frame carry their CRCs.
public enum WirelessFrameCRC: Hashable, Sendable {
    /// The receiver checked and removed them (iM871A, AMB8465): L gives the length.
    case absent
    case present(WirelessFrameFormat)
    /// Try format A, then format B, then no CRCs, by which one the length and CRCs fit.
    case detect
}

/// Why bytes are not a wireless M-Bus frame.
public struct WirelessFrameError: Error, Hashable, Sendable, CustomStringConvertible {
    public var detail: String
    public init(_ detail: String) { self.detail = detail }
    public var description: String { detail }
}

/// A wireless M-Bus frame with its data-link CRCs removed: L C M A CI … with L the count of bytes
/// after L. The link layer's M and A fields are the sender's identity (the meter, or its radio
/// module or repeater). EN 13757-4 §9.
public struct WirelessLinkFrame: Hashable, Sendable {
    /// The frame without CRCs, L normalised to the CRC-less count.
    public var bytes: [UInt8]
    /// The format the CRCs followed, when they were present.
    public var format: WirelessFrameFormat?

    public var control: UInt8 { bytes[1] }
    /// M (2 bytes), id (4), version, device type: the link layer address.
    public var sender: MBusIdentity {
        var r = ByteReader(bytes, from: 2)
        return (try? Self.readAddress(&r))!
    }

    /// A link-layer address as the frame carries it: M (manufacturer, 2 bytes) first, then A
    /// (identification number 4 bytes, version, device type). The ELL's receiver address too.
    static func readAddress(_ r: inout ByteReader) throws(ByteFormatError) -> MBusIdentity {
        try MBusTransportHeader.identityField(&r, manufacturerFirst: true)
    }

    /// The M and A fields for `identity`, in link-layer order (simulators build frames with it).
    public static func address(_ identity: MBusIdentity) -> [UInt8] { MBusTransportHeader.encode(identity, manufacturerFirst: true) }
    /// The CI of the first layer after the link layer (offset 10).
    public var ci: UInt8 { bytes[10] }

    /// The shortest frame: L C M(2) A(6) CI.
    public static let minimumLength = 11

    init(validated bytes: [UInt8], format: WirelessFrameFormat?) {
        self.bytes = bytes
        self.format = format
    }

    /// Checks and strips the CRCs. `raw` may carry trailing bytes (a receiver's padding); they are
    /// ignored.
    public static func decode(_ raw: [UInt8], crc: WirelessFrameCRC) throws(WirelessFrameError) -> WirelessLinkFrame {
        guard let l = raw.first else { throw WirelessFrameError("empty frame") }
        switch crc {
        case .absent:
            let total = Int(l) + 1
            guard total >= minimumLength else { throw WirelessFrameError("L field \(l) is shorter than a link header and CI") }
            guard raw.count >= total else { throw WirelessFrameError("frame truncated: \(raw.count) of \(total) bytes") }
            return WirelessLinkFrame(validated: Array(raw[0..<total]), format: nil)
        case .present(.a):
            return try decodeA(raw)
        case .present(.b):
            return try decodeB(raw)
        case .detect:
            if let a = try? decodeA(raw) { return a }
            if let b = try? decodeB(raw) { return b }
            if raw.count == Int(l) + 1 { return try decode(raw, crc: .absent) }
            throw WirelessFrameError("neither format A nor format B CRCs match, and the length \(raw.count) does not fit L = \(l)")
        }
    }

    /// Bytes on the air (after L) in format A for `payloadCount` CRC-less bytes after L.
    static func formatALength(afterL payloadCount: Int) -> Int {
        let rest = payloadCount - 9
        return 1 + 9 + 2 + rest + 2 * ((rest + 15) / 16)
    }

    private static func decodeA(_ raw: [UInt8]) throws(WirelessFrameError) -> WirelessLinkFrame {
        let l = Int(raw[0])
        guard l + 1 >= minimumLength else { throw WirelessFrameError("L field \(l) is shorter than a link header and CI") }
        let total = formatALength(afterL: l)
        guard raw.count >= total else { throw WirelessFrameError("format A frame truncated: \(raw.count) of \(total) bytes") }
        var out: [UInt8] = []
        out.reserveCapacity(l + 1)
        var position = 0
        var blockIndex = 0
        while out.count < l + 1 {
            let size = blockIndex == 0 ? 10 : min(16, l + 1 - out.count)
            let block = raw[position..<(position + size)]
            let sent = UInt16(raw[position + size]) << 8 | UInt16(raw[position + size + 1])
            guard WirelessMBusCRC.checksum(block) == sent else {
                throw WirelessFrameError("format A CRC of block \(blockIndex + 1) does not match")
            }
            out += block
            position += size + 2
            blockIndex += 1
        }
        return WirelessLinkFrame(validated: out, format: .a)
    }

    private static func decodeB(_ raw: [UInt8]) throws(WirelessFrameError) -> WirelessLinkFrame {
        let l = Int(raw[0])
        let total = l + 1
        guard total >= minimumLength + 2 else { throw WirelessFrameError("format B L field \(l) is too short") }
        guard raw.count >= total else { throw WirelessFrameError("format B frame truncated: \(raw.count) of \(total) bytes") }
        var out: [UInt8]
        if total <= 128 {
            let body = raw[0..<(total - 2)]
            guard WirelessMBusCRC.checksum(body) == UInt16(raw[total - 2]) << 8 | UInt16(raw[total - 1]) else {
                throw WirelessFrameError("format B CRC does not match")
            }
            out = Array(body)
        } else {
            let first = raw[0..<126]
            guard WirelessMBusCRC.checksum(first) == UInt16(raw[126]) << 8 | UInt16(raw[127]) else {
                throw WirelessFrameError("format B CRC of blocks 1 and 2 does not match")
            }
            guard total >= 131 else { throw WirelessFrameError("format B third block is empty") }
            let third = raw[128..<(total - 2)]
            guard WirelessMBusCRC.checksum(third) == UInt16(raw[total - 2]) << 8 | UInt16(raw[total - 1]) else {
                throw WirelessFrameError("format B CRC of block 3 does not match")
            }
            out = Array(first) + third
        }
        out[0] = UInt8(out.count - 1)
        return WirelessLinkFrame(validated: out, format: .b)
    }

    /// Adds the CRCs of `format` to a CRC-less frame (L = bytes after L). For simulators and tests.
    public static func encode(_ frame: [UInt8], format: WirelessFrameFormat) -> [UInt8] {
        func crc(_ block: ArraySlice<UInt8>) -> [UInt8] {
            let c = WirelessMBusCRC.checksum(block)
            return [UInt8(c >> 8), UInt8(c & 0xFF)]
        }
        switch format {
        case .a:
            var out = Array(frame[0..<10]) + crc(frame[0..<10])
            var position = 10
            while position < frame.count {
                let end = min(frame.count, position + 16)
                out += frame[position..<end] + crc(frame[position..<end])
                position = end
            }
            return out
        case .b:
            var body = frame
            let withCRCs = frame.count + (frame.count > 126 ? 4 : 2)
            body[0] = UInt8(withCRCs - 1)
            if body.count <= 126 { return body + crc(body[...]) }
            return Array(body[0..<126]) + crc(body[0..<126]) + body[126...] + crc(body[126...])
        }
    }
}
