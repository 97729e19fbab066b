import ConcentratorCore

/// An HDLC address as IEC 62056-46 §6.4.2.2 encodes it: one, two or four bytes, the least
/// significant bit of each byte set only on the last one.
///
/// A client address is one byte. A server address has an upper part (the logical device, 1 for
/// the management logical device) and, on a multidrop line, a lower part (the physical device
/// address): one byte carries the upper part alone; two bytes carry 7 bits of each; four bytes
/// carry 14 bits of each.
public struct HDLCAddress: Hashable, Sendable, CustomStringConvertible {
    /// The logical device (server) or the client address.
    public var upper: UInt16
    /// The physical device address; nil when the address has one byte.
    public var lower: UInt16?
    /// 1, 2 or 4.
    public var size: Int

    /// A one-byte client address (16 is the public client, 32 a reading client, 1 a management client).
    public static func client(_ address: UInt8) -> HDLCAddress { HDLCAddress(upper: UInt16(address & 0x7F), lower: nil, size: 1) }

    /// A server address: `logical` device and `physical` address in the smallest form that holds
    /// both (1 byte without a physical address, 2 bytes up to 127, 4 bytes up to 16383), unless
    /// `size` asks for a larger one.
    public static func server(logical: UInt16, physical: UInt16?, size: Int? = nil) -> HDLCAddress {
        guard let physical else { return HDLCAddress(upper: logical, lower: nil, size: 1) }
        let needed = logical <= 0x7F && physical <= 0x7F ? 2 : 4
        return HDLCAddress(upper: logical, lower: physical, size: max(needed, size ?? needed))
    }

    public init(upper: UInt16, lower: UInt16?, size: Int) {
        self.upper = upper
        self.lower = lower
        self.size = size
    }

    /// The address bytes, extension bit included. Values too large for the size are truncated.
    public var encoded: [UInt8] {
        switch size {
        case 1:
            return [UInt8(truncatingIfNeeded: (upper & 0x7F) << 1) | 1]
        case 2:
            return [UInt8(truncatingIfNeeded: (upper & 0x7F) << 1), UInt8(truncatingIfNeeded: ((lower ?? 0) & 0x7F) << 1) | 1]
        default:
            let l = lower ?? 0
            return [UInt8(truncatingIfNeeded: ((upper >> 7) & 0x7F) << 1), UInt8(truncatingIfNeeded: (upper & 0x7F) << 1),
                    UInt8(truncatingIfNeeded: ((l >> 7) & 0x7F) << 1), UInt8(truncatingIfNeeded: (l & 0x7F) << 1) | 1]
        }
    }

    /// Reads an address of 1, 2 or 4 bytes (3 bytes or more than 4 is malformed).
    public static func read(_ r: inout ByteReader, _ what: String) throws(ByteFormatError) -> HDLCAddress {
        let start = r.offset
        var bytes: [UInt8] = []
        while true {
            let b = try r.u8(what)
            bytes.append(b)
            if b & 1 == 1 { break }
            if bytes.count == 4 { throw ByteFormatError("\(what) longer than 4 bytes", at: start) }
        }
        let v = bytes.map { UInt16($0 >> 1) }
        switch bytes.count {
        case 1: return HDLCAddress(upper: v[0], lower: nil, size: 1)
        case 2: return HDLCAddress(upper: v[0], lower: v[1], size: 2)
        case 4: return HDLCAddress(upper: v[0] << 7 | v[1], lower: v[2] << 7 | v[3], size: 4)
        default: throw ByteFormatError("\(what) of 3 bytes (allowed: 1, 2 or 4)", at: start)
        }
    }

    public var description: String { lower.map { "\(upper)/\($0)" } ?? "\(upper)" }
}

/// The control field of an HDLC frame (IEC 62056-46 §6.4.3): the frame kind, its poll/final bit and,
/// for I and supervisory frames, the sequence numbers N(S) and N(R) (modulo 8).
public enum HDLCControl: Hashable, Sendable, CustomStringConvertible {
    case information(send: UInt8, receive: UInt8, final: Bool)
    case receiveReady(receive: UInt8, final: Bool)
    case receiveNotReady(receive: UInt8, final: Bool)
    case setNormalResponseMode
    case disconnect
    case unnumberedAcknowledge
    case disconnectedMode
    case frameReject
    case unnumberedInformation(final: Bool)

    public var byte: UInt8 {
        switch self {
        case .information(let s, let r, let f): return (r & 7) << 5 | (f ? 0x10 : 0) | (s & 7) << 1
        case .receiveReady(let r, let f): return (r & 7) << 5 | (f ? 0x10 : 0) | 0x01
        case .receiveNotReady(let r, let f): return (r & 7) << 5 | (f ? 0x10 : 0) | 0x05
        case .setNormalResponseMode: return 0x93
        case .disconnect: return 0x53
        case .unnumberedAcknowledge: return 0x73
        case .disconnectedMode: return 0x1F
        case .frameReject: return 0x97
        case .unnumberedInformation(let f): return 0x03 | (f ? 0x10 : 0)
        }
    }

    /// Decodes a control byte; nil for a kind DLMS does not use (REJ, SREJ, …).
    public init?(byte b: UInt8) {
        let final = b & 0x10 != 0
        if b & 1 == 0 {
            self = .information(send: (b >> 1) & 7, receive: b >> 5, final: final)
            return
        }
        switch b & 0x0F {
        case 0x01: self = .receiveReady(receive: b >> 5, final: final); return
        case 0x05: self = .receiveNotReady(receive: b >> 5, final: final); return
        default: break
        }
        switch b & 0xEF {
        case 0x83: self = .setNormalResponseMode
        case 0x43: self = .disconnect
        case 0x63: self = .unnumberedAcknowledge
        case 0x0F: self = .disconnectedMode
        case 0x87: self = .frameReject
        case 0x03: self = .unnumberedInformation(final: final)
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .information(let s, let r, _): return "I(ns=\(s),nr=\(r))"
        case .receiveReady(let r, _): return "RR(nr=\(r))"
        case .receiveNotReady(let r, _): return "RNR(nr=\(r))"
        case .setNormalResponseMode: return "SNRM"
        case .disconnect: return "DISC"
        case .unnumberedAcknowledge: return "UA"
        case .disconnectedMode: return "DM"
        case .frameReject: return "FRMR"
        case .unnumberedInformation: return "UI"
        }
    }
}

/// Why bytes between two flags are not a usable HDLC frame.
public enum HDLCFrameError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The header check sequence is wrong.
    case badHeaderCheck
    /// The frame check sequence is wrong.
    case badFrameCheck
    /// The frame does not follow the frame format (type, length, flags, addresses, control).
    case malformed(ByteFormatError)

    public var description: String {
        switch self {
        case .badHeaderCheck: return "HDLC header check (HCS) does not match"
        case .badFrameCheck: return "HDLC frame check (FCS) does not match"
        case .malformed(let e): return "malformed HDLC frame: \(e)"
        }
    }
}

/// One HDLC frame of frame format type 3 (IEC 62056-46 §6.4.1):
///
///     7E | A S LLLLLLLLLLL | destination | source | control | [HCS | information] | FCS | 7E
///
/// The format field holds type 0xA, the segmentation bit S and an 11-bit length counting every
/// byte between the flags. The header check sequence is present only when there is an information
/// field. There is no byte stuffing: frames are delimited by their length.
public struct HDLCFrame: Hashable, Sendable {
    public var destination: HDLCAddress
    public var source: HDLCAddress
    public var control: HDLCControl
    /// More segments of the same APDU follow (the S bit).
    public var segmented: Bool
    public var information: [UInt8]

    /// The largest length the 11-bit length field can express.
    public static let maximumLength = 0x7FF

    public init(destination: HDLCAddress, source: HDLCAddress, control: HDLCControl, segmented: Bool = false,
                information: [UInt8] = []) {
        self.destination = destination
        self.source = source
        self.control = control
        self.segmented = segmented
        self.information = information
    }

    /// The frame with both flags.
    public func encoded() -> [UInt8] {
        let header = destination.encoded + source.encoded + [control.byte]
        let length = 2 + header.count + 2 + (information.isEmpty ? 0 : information.count + 2)
        var body: [UInt8] = [0xA0 | (segmented ? 0x08 : 0) | UInt8((length >> 8) & 0x07), UInt8(length & 0xFF)] + header
        if !information.isEmpty {
            body = HDLCCheck.appending(to: body) + information
        }
        return [0x7E] + HDLCCheck.appending(to: body) + [0x7E]
    }

    /// Decodes one frame, flags included (as `HDLCFrameSplitter` delivers it).
    public static func decode(_ bytes: [UInt8]) throws(HDLCFrameError) -> HDLCFrame {
        do {
            var r = ByteReader(bytes)
            guard try r.u8("opening flag") == 0x7E else { throw r.error("no opening flag 7E") }
            let format = try r.bigEndian(UInt16.self, "frame format")
            guard format >> 12 == 0xA else { throw ByteFormatError("frame format type \(format >> 12) (expected 0xA, type 3)", at: 1) }
            let length = Int(format & 0x7FF)
            guard length + 2 == bytes.count else {
                throw ByteFormatError("frame length \(length) does not match the \(bytes.count - 2) bytes between the flags", at: 1)
            }
            guard bytes[bytes.count - 1] == 0x7E else { throw ByteFormatError("no closing flag 7E", at: bytes.count - 1) }
            let destination = try HDLCAddress.read(&r, "destination address")
            let source = try HDLCAddress.read(&r, "source address")
            let controlAt = r.offset
            let controlByte = try r.u8("control field")
            guard let control = HDLCControl(byte: controlByte) else {
                throw ByteFormatError("control field \(Hex.encode([controlByte])) is not a frame kind DLMS uses", at: controlAt)
            }
            let fcsAt = bytes.count - 3
            guard r.offset <= fcsAt else { throw r.error("truncated: expected the frame check sequence") }
            var information: [UInt8] = []
            if r.offset < fcsAt {
                let hcsAt = r.offset
                guard hcsAt + 2 <= fcsAt else { throw r.error("truncated: expected the header check sequence") }
                guard HDLCCheck.matches(bytes, covering: 1..<hcsAt) else { throw HDLCFrameError.badHeaderCheck }
                information = Array(bytes[(hcsAt + 2)..<fcsAt])
            }
            guard HDLCCheck.matches(bytes, covering: 1..<fcsAt) else { throw HDLCFrameError.badFrameCheck }
            return HDLCFrame(destination: destination, source: source, control: control, segmented: format & 0x0800 != 0,
                             information: information)
        } catch let e as HDLCFrameError {
            throw e
        } catch let e as ByteFormatError {
            throw .malformed(e)
        } catch {
            throw .malformed(ByteFormatError("\(error)", at: 0))
        }
    }
}
