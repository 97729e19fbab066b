import ConcentratorCore

/// The length encoding shared by A-XDR (IEC 61334-6) and BER (the ACSE APDUs): below 128 one byte;
/// otherwise 0x80 + n followed by the length in n big-endian bytes.
public enum AXDRLength {
    /// The encoded form of `length`.
    public static func encode(_ length: Int) -> [UInt8] {
        if length < 0x80 { return [UInt8(length)] }
        var digits: [UInt8] = []
        var v = length
        while v > 0 {
            digits.insert(UInt8(v & 0xFF), at: 0)
            v >>= 8
        }
        return [0x80 | UInt8(digits.count)] + digits
    }

    public static func write(_ length: Int, to w: inout ByteWriter) { w.raw(encode(length)) }

    /// Reads a length and checks that that many bytes remain (so a hostile length never allocates).
    public static func read(_ r: inout ByteReader, _ what: String, checkRemaining: Bool = true) throws(ByteFormatError) -> Int {
        let start = r.offset
        let first = try r.u8("\(what) length")
        var length = Int(first)
        if first & 0x80 != 0 {
            let count = Int(first & 0x7F)
            guard (1...4).contains(count) else { throw ByteFormatError("\(what) length in \(count) bytes (allowed 1–4)", at: start) }
            length = 0
            for _ in 0..<count { length = length << 8 | Int(try r.u8("\(what) length")) }
        }
        guard !checkRemaining || length <= r.remaining else {
            throw ByteFormatError("truncated: \(what) of \(length) bytes, \(r.remaining) remain", at: start)
        }
        return length
    }

}
