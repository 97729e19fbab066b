/// The HDLC frame check sequence of IEC 62056-46 (and ISO/IEC 13239): CRC-16/X.25, polynomial
/// x^16 + x^12 + x^5 + 1 processed bit-reversed (0x8408), initial value 0xFFFF, result inverted.
/// On the wire the low byte goes first. Used for both the header check (HCS) and the frame check
/// (FCS). Not the Modbus CRC (`ModbusCRC`: polynomial 0xA001, not inverted).
public enum HDLCCheck {
    private static let table: [UInt16] = (0..<256).map { i -> UInt16 in
        var crc = UInt16(i)
        for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x8408 : crc >> 1 }
        return crc
    }

    /// The check sequence of `bytes` (already inverted, ready to append low byte first).
    public static func compute<C: Collection>(_ bytes: C) -> UInt16 where C.Element == UInt8 {
        var crc: UInt16 = 0xFFFF
        for b in bytes { crc = (crc >> 8) ^ table[Int((crc ^ UInt16(b)) & 0xFF)] }
        return ~crc
    }

    /// `bytes` followed by their check sequence, low byte first.
    public static func appending(to bytes: [UInt8]) -> [UInt8] {
        let check = compute(bytes)
        return bytes + [UInt8(check & 0xFF), UInt8(check >> 8)]
    }

    /// Whether the two bytes at `range.upperBound` are the check sequence of `bytes[range]`.
    public static func matches(_ bytes: [UInt8], covering range: Range<Int>) -> Bool {
        guard range.lowerBound >= 0, range.upperBound + 2 <= bytes.count else { return false }
        let check = compute(bytes[range])
        return bytes[range.upperBound] == UInt8(check & 0xFF) && bytes[range.upperBound + 1] == UInt8(check >> 8)
    }
}
