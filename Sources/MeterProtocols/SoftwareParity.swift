import ConcentratorCore

/// A 7-bit character framing (7E1, 7O1) carried in an 8N1 frame, with the parity bit computed in
/// software in the eighth bit. 7E1 and 8N1 have the same 10-bit frame on the wire (start, 8 bits,
/// stop), so a port that refuses 7 data bits with parity (Linux pseudo-terminals answer EINVAL)
/// still talks to a 7E1 device: the sender sets bit 7 to the parity of bits 0–6, the receiver checks
/// and clears it. Pure: bytes in, bytes or a typed error out.
public struct SoftwareParity: Hashable, Sendable {
    /// Even (the IEC 62056-21 framing, ISO/IEC 1177 character security) or odd parity.
    public let parity: Parity

    /// `parity` must be `.even` or `.odd`; `.none` leaves every byte as it is.
    public init(_ parity: Parity) { self.parity = parity }

    /// Whether bits 0–6 of `byte` hold an odd number of ones.
    @inline(__always)
    static func lowSevenBitsOdd(_ byte: UInt8) -> Bool { (byte & 0x7F).nonzeroBitCount & 1 == 1 }

    /// `byte` (bits 0–6) with bit 7 set so that the eight bits carry the wanted parity.
    public func adding(to byte: UInt8) -> UInt8 {
        let data = byte & 0x7F
        switch parity {
        case .none: return byte
        case .even: return Self.lowSevenBitsOdd(data) ? data | 0x80 : data
        case .odd: return Self.lowSevenBitsOdd(data) ? data : data | 0x80
        }
    }

    /// Every byte of `bytes` with its parity bit (what goes to an 8N1 port).
    public func adding(to bytes: [UInt8]) -> [UInt8] { bytes.map { adding(to: $0) } }

    /// Whether the eight bits of `byte` carry the wanted parity.
    public func isValid(_ byte: UInt8) -> Bool {
        switch parity {
        case .none: return true
        case .even: return byte.nonzeroBitCount & 1 == 0
        case .odd: return byte.nonzeroBitCount & 1 == 1
        }
    }

    /// Checks every byte read from an 8N1 port and returns the 7-bit characters. The first byte with
    /// the wrong parity throws, with its offset (a garbled character, or a peer that is not 7E1).
    public func stripping(_ bytes: [UInt8]) throws(SoftwareParityError) -> [UInt8] {
        guard parity != .none else { return bytes }
        var out = [UInt8]()
        out.reserveCapacity(bytes.count)
        for (offset, byte) in bytes.enumerated() {
            guard isValid(byte) else { throw SoftwareParityError(parity: parity, offset: offset, byte: byte) }
            out.append(byte & 0x7F)
        }
        return out
    }
}

/// A character arrived with the wrong parity bit: where in the chunk, and the byte as read.
public struct SoftwareParityError: Error, Hashable, Sendable, CustomStringConvertible {
    public let parity: Parity
    /// Offset of the bad byte in the chunk that was checked.
    public let offset: Int
    public let byte: UInt8

    public init(parity: Parity, offset: Int, byte: UInt8) {
        self.parity = parity
        self.offset = offset
        self.byte = byte
    }

    public var description: String {
        "\(parity.rawValue) parity error in byte \(offset) (0x\(Hex.encode([byte]))): a garbled character, or the peer does not use 7\(parity == .even ? "E" : "O")1"
    }
}

extension MeterSessionError {
    /// A parity error on the line, as a session failure for the meter being read.
    public init(_ error: SoftwareParityError) {
        self.init(.badCheck, error.description)
    }
}
