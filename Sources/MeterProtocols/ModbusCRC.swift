/// The Modbus RTU CRC-16 (polynomial 0xA001 reflected, initial value 0xFFFF), as defined in
/// "Modbus over Serial Line Specification and Implementation Guide V1.02", §6.2.2.
/// On the wire the low byte goes first.
public enum ModbusCRC {
    private static let table: [UInt16] = (0..<256).map { i -> UInt16 in
        var crc = UInt16(i)
        for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xA001 : crc >> 1 }
        return crc
    }

    public static func compute<C: Collection>(_ bytes: C) -> UInt16 where C.Element == UInt8 {
        var crc: UInt16 = 0xFFFF
        for b in bytes { crc = (crc >> 8) ^ table[Int((crc ^ UInt16(b)) & 0xFF)] }
        return crc
    }

    /// `bytes` followed by its CRC, low byte first.
    public static func appending(to bytes: [UInt8]) -> [UInt8] {
        let crc = compute(bytes)
        return bytes + [UInt8(crc & 0xFF), UInt8(crc >> 8)]
    }

    /// Whether the last two bytes of `frame` are the CRC of the rest.
    public static func isValid(_ frame: [UInt8]) -> Bool {
        guard frame.count >= 3 else { return false }
        let crc = compute(frame[0..<(frame.count - 2)])
        return frame[frame.count - 2] == UInt8(crc & 0xFF) && frame[frame.count - 1] == UInt8(crc >> 8)
    }
}
