import ConcentratorCore

/// Control field values of EN 13757-2 (§5.4, table 4). Master to slave: bit 6 set, FCB (bit 5)
/// and FCV (bit 4); slave to master: bit 6 clear, ACD (bit 5) and DFC (bit 4).
public enum MBusControl {
    /// SND_NKE: link reset; the slave answers E5 and expects FCB = 1 next.
    public static let sndNKE: UInt8 = 0x40
    /// SND_UD: send user data (selection, application reset, …), FCV set.
    public static let sndUD: UInt8 = 0x53
    /// REQ_UD2: request class 2 data, FCV set.
    public static let reqUD2: UInt8 = 0x5B
    /// REQ_UD1: request class 1 (alarm) data, FCV set.
    public static let reqUD1: UInt8 = 0x5A
    /// RSP_UD: the slave's answer with user data (ACD and DFC bits may be set).
    public static let rspUD: UInt8 = 0x08
    /// The frame count bit of a master request.
    public static let fcb: UInt8 = 0x20
    /// The frame count valid bit: FCB is meaningful.
    public static let fcv: UInt8 = 0x10

    /// Whether `c` is a RSP_UD (whatever ACD and DFC say).
    public static func isResponseWithData(_ c: UInt8) -> Bool { c & 0xCF == rspUD }
}

/// Special addresses of EN 13757-2 §5.5.
public enum MBusLinkAddress {
    /// A slave that has not been given a primary address yet.
    public static let unconfigured: UInt8 = 0
    /// Network layer: the slave selected by secondary address answers.
    public static let network: UInt8 = 0xFD
    /// Broadcast with replies (a single slave on a test bench).
    public static let broadcastWithReply: UInt8 = 0xFE
    /// Broadcast without replies.
    public static let broadcast: UInt8 = 0xFF
    public static let primaryRange: ClosedRange<UInt8> = 1...250
}

/// CI values the wired link carries (EN 13757-3 §5, table 2).
public enum MBusCI {
    /// Select a slave by secondary address (SND_UD to 0xFD).
    public static let selectSecondary: UInt8 = 0x52
    /// Application reset (SND_UD).
    public static let applicationReset: UInt8 = 0x50
    /// Response with a long (12-byte) header, data least significant byte first.
    public static let responseLongHeader: UInt8 = 0x72
    /// Response with a long header, data most significant byte first (EN 1434-3 legacy).
    public static let responseLongHeaderMSBFirst: UInt8 = 0x76
    /// Response with a short (4-byte) header.
    public static let responseShortHeader: UInt8 = 0x7A
    /// Response without a header.
    public static let responseNoHeader: UInt8 = 0x78
    /// Application error from the slave (one status byte follows).
    public static let applicationError: UInt8 = 0x70
    /// Alarm status from the slave.
    public static let alarm: UInt8 = 0x71
}

/// One EN 13757-2 link-layer frame (FT 1.2 format class).
public enum MBusFrame: Hashable, Sendable {
    /// The single character E5: acknowledgement.
    case acknowledgement
    /// `10 C A CS 16`.
    case short(control: UInt8, address: UInt8)
    /// `68 03 03 68 C A CI CS 16`: a long frame without data.
    case control(control: UInt8, address: UInt8, ci: UInt8)
    /// `68 L L 68 C A CI data CS 16` with L = 3 + data count (at most 252 data bytes).
    case long(control: UInt8, address: UInt8, ci: UInt8, data: [UInt8])

    public static let singleCharacter: UInt8 = 0xE5
    public static let shortStart: UInt8 = 0x10
    public static let longStart: UInt8 = 0x68
    public static let stop: UInt8 = 0x16
    /// The longest user data a long frame carries (L ≤ 255).
    public static let maximumData = 252

    /// The arithmetic sum of `bytes` modulo 256 (the checksum over C, A, CI and data).
    public static func checksum<C: Collection>(_ bytes: C) -> UInt8 where C.Element == UInt8 {
        bytes.reduce(UInt8(0)) { $0 &+ $1 }
    }

    public var control: UInt8? {
        switch self {
        case .acknowledgement: return nil
        case .short(let c, _), .control(let c, _, _), .long(let c, _, _, _): return c
        }
    }

    public var address: UInt8? {
        switch self {
        case .acknowledgement: return nil
        case .short(_, let a), .control(_, let a, _), .long(_, let a, _, _): return a
        }
    }

    /// The bytes on the wire.
    public func encode() -> [UInt8] {
        switch self {
        case .acknowledgement:
            return [Self.singleCharacter]
        case .short(let c, let a):
            return [Self.shortStart, c, a, Self.checksum([c, a]), Self.stop]
        case .control(let c, let a, let ci):
            return Self.encodeLong(c, a, ci, [])
        case .long(let c, let a, let ci, let data):
            precondition(data.count <= Self.maximumData, "M-Bus long frame data is at most 252 bytes")
            return Self.encodeLong(c, a, ci, data)
        }
    }

    private static func encodeLong(_ c: UInt8, _ a: UInt8, _ ci: UInt8, _ data: [UInt8]) -> [UInt8] {
        let l = UInt8(3 + data.count)
        var out: [UInt8] = [longStart, l, l, longStart, c, a, ci]
        out += data
        out.append(checksum(out[4...]))
        out.append(stop)
        return out
    }

    /// Decodes exactly one frame; `bytes` must hold nothing else.
    public static func decode(_ bytes: [UInt8]) throws(MBusFrameError) -> MBusFrame {
        guard let first = bytes.first else { throw .truncated(expected: 1, got: 0) }
        switch first {
        case singleCharacter:
            guard bytes.count == 1 else { throw .trailingBytes(bytes.count - 1) }
            return .acknowledgement
        case shortStart:
            guard bytes.count >= 5 else { throw .truncated(expected: 5, got: bytes.count) }
            guard bytes.count == 5 else { throw .trailingBytes(bytes.count - 5) }
            guard bytes[4] == stop else { throw .badStopByte(bytes[4]) }
            guard checksum(bytes[1...2]) == bytes[3] else { throw .badChecksum(expected: checksum(bytes[1...2]), got: bytes[3]) }
            return .short(control: bytes[1], address: bytes[2])
        case longStart:
            guard bytes.count >= 4 else { throw .truncated(expected: 4, got: bytes.count) }
            guard bytes[1] == bytes[2], bytes[3] == longStart else { throw .badLongHeader }
            let l = Int(bytes[1])
            guard l >= 3 else { throw .lengthTooShort(l) }
            let total = l + 6
            guard bytes.count >= total else { throw .truncated(expected: total, got: bytes.count) }
            guard bytes.count == total else { throw .trailingBytes(bytes.count - total) }
            guard bytes[total - 1] == stop else { throw .badStopByte(bytes[total - 1]) }
            let sum = checksum(bytes[4..<(total - 2)])
            guard sum == bytes[total - 2] else { throw .badChecksum(expected: sum, got: bytes[total - 2]) }
            let data = Array(bytes[7..<(total - 2)])
            return l == 3 ? .control(control: bytes[4], address: bytes[5], ci: bytes[6])
                : .long(control: bytes[4], address: bytes[5], ci: bytes[6], data: data)
        default:
            throw .badStartByte(first)
        }
    }
}

/// Why bytes are not an EN 13757-2 frame.
public enum MBusFrameError: Error, Hashable, Sendable, CustomStringConvertible {
    case truncated(expected: Int, got: Int)
    case trailingBytes(Int)
    case badStartByte(UInt8)
    /// `68 L L 68` with the two L differing or the second start byte missing.
    case badLongHeader
    case lengthTooShort(Int)
    case badStopByte(UInt8)
    case badChecksum(expected: UInt8, got: UInt8)

    public var description: String {
        switch self {
        case .truncated(let e, let g): return "frame truncated: \(g) of \(e) bytes"
        case .trailingBytes(let n): return "\(n) bytes after the end of the frame"
        case .badStartByte(let b): return "0x\(Hex.encode([b])) is not a frame start (E5, 10 or 68)"
        case .badLongHeader: return "long frame header is not 68 L L 68"
        case .lengthTooShort(let l): return "long frame length \(l) is below 3"
        case .badStopByte(let b): return "stop byte is 0x\(Hex.encode([b])), not 0x16"
        case .badChecksum(let e, let g): return "checksum 0x\(Hex.encode([g])) does not match 0x\(Hex.encode([e]))"
        }
    }
}
