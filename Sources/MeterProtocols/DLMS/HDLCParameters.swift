import ConcentratorCore

/// The HDLC parameters negotiated by SNRM and UA (IEC 62056-46 §6.4.4.4.3.2): the largest
/// information field and the window size, each per direction, seen from the sender of the frame.
///
/// Encoded as format identifier 0x81, group identifier 0x80, group length, then parameters
/// 05 (maximum information field length, transmit), 06 (… receive), 07 (window size, transmit),
/// 08 (… receive), each with a 1-, 2- or 4-byte big-endian value. Missing parameters take the
/// defaults 128 and 1.
public struct HDLCParameters: Hashable, Sendable {
    public var maxInfoTransmit: Int
    public var maxInfoReceive: Int
    public var windowTransmit: Int
    public var windowReceive: Int

    /// The values the standard assumes when a frame carries no parameters.
    public static let defaults = HDLCParameters(maxInfoTransmit: 128, maxInfoReceive: 128, windowTransmit: 1, windowReceive: 1)

    /// The limits of the standard: information field 32–2030 bytes, window 1–7.
    public static let infoRange = 32...2030
    public static let windowRange = 1...7

    public init(maxInfoTransmit: Int, maxInfoReceive: Int, windowTransmit: Int, windowReceive: Int) {
        self.maxInfoTransmit = maxInfoTransmit
        self.maxInfoReceive = maxInfoReceive
        self.windowTransmit = windowTransmit
        self.windowReceive = windowReceive
    }

    /// The information field of an SNRM or UA carrying these values (lengths as 1 or 2 bytes,
    /// windows as 4 bytes, as the Green Book's example does).
    public var encoded: [UInt8] {
        var items: [UInt8] = []
        func add(_ id: UInt8, _ value: Int, width: Int) {
            let w = width == 4 ? 4 : (value > 0xFF ? 2 : 1)
            items.append(id)
            items.append(UInt8(w))
            for i in (0..<w).reversed() { items.append(UInt8(truncatingIfNeeded: value >> (8 * i))) }
        }
        add(0x05, maxInfoTransmit, width: 1)
        add(0x06, maxInfoReceive, width: 1)
        add(0x07, windowTransmit, width: 4)
        add(0x08, windowReceive, width: 4)
        return [0x81, 0x80, UInt8(items.count)] + items
    }

    /// Decodes the information field of an SNRM or UA; an empty field gives the defaults.
    /// Unknown parameters are skipped; values outside the standard's limits are malformed.
    public static func decode(_ bytes: [UInt8]) throws(ByteFormatError) -> HDLCParameters {
        var p = defaults
        guard !bytes.isEmpty else { return p }
        var r = ByteReader(bytes)
        guard try r.u8("format identifier") == 0x81 else { throw ByteFormatError("format identifier (expected 81)", at: 0) }
        guard try r.u8("group identifier") == 0x80 else { throw ByteFormatError("group identifier (expected 80)", at: 1) }
        let groupLength = Int(try r.u8("group length"))
        guard groupLength <= r.remaining else { throw r.error("truncated: group length \(groupLength)") }
        var g = ByteReader(bytes, from: r.offset, to: r.offset + groupLength)
        while !g.isAtEnd {
            let at = g.offset
            let id = try g.u8("parameter identifier")
            let width = Int(try g.u8("parameter length"))
            let raw = try g.raw(width, "parameter value")
            guard width <= 4 else { continue }
            let value = raw.reduce(0) { $0 << 8 | Int($1) }
            switch id {
            case 0x05, 0x06:
                guard (1...2030).contains(value) else {
                    throw ByteFormatError("maximum information field length \(value) (expected 1–2030)", at: at)
                }
                if id == 0x05 { p.maxInfoTransmit = value } else { p.maxInfoReceive = value }
            case 0x07, 0x08:
                guard windowRange.contains(value) else { throw ByteFormatError("window size \(value) (expected 1–7)", at: at) }
                if id == 0x07 { p.windowTransmit = value } else { p.windowReceive = value }
            default:
                continue
            }
        }
        return p
    }

    /// What a client that proposed `proposal` (its own view) may use after the server answered
    /// `answer` in its UA (the server's view): each direction takes the smaller of the two sides.
    public static func negotiated(proposal: HDLCParameters, answer: HDLCParameters) -> HDLCParameters {
        HDLCParameters(maxInfoTransmit: min(proposal.maxInfoTransmit, answer.maxInfoReceive),
                       maxInfoReceive: min(proposal.maxInfoReceive, answer.maxInfoTransmit),
                       windowTransmit: min(proposal.windowTransmit, answer.windowReceive),
                       windowReceive: min(proposal.windowReceive, answer.windowTransmit))
    }

    /// The server's side of the same negotiation: given the client's SNRM proposal (client view)
    /// and the server's own limits (server view), the values the server uses and puts in its UA.
    public static func serverAnswer(to proposal: HDLCParameters, limits: HDLCParameters) -> HDLCParameters {
        HDLCParameters(maxInfoTransmit: min(limits.maxInfoTransmit, proposal.maxInfoReceive),
                       maxInfoReceive: min(limits.maxInfoReceive, proposal.maxInfoTransmit),
                       windowTransmit: min(limits.windowTransmit, proposal.windowReceive),
                       windowReceive: min(limits.windowReceive, proposal.windowTransmit))
    }
}
