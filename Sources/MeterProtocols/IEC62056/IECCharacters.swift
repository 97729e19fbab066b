/// The control characters of IEC 62056-21 (ISO/IEC 646 codes) and the block check character.
public enum IECCharacter {
    /// Start of header: opens a programming command message.
    public static let soh: UInt8 = 0x01
    /// Start of text: opens a data message; the block check starts after it.
    public static let stx: UInt8 = 0x02
    /// End of text: closes a block; the block check character follows.
    public static let etx: UInt8 = 0x03
    /// End of transmission: closes a partial block (optional partial blocks).
    public static let eot: UInt8 = 0x04
    /// Acknowledge (also the first character of the acknowledgement/option select message).
    public static let ack: UInt8 = 0x06
    /// Negative acknowledge: the repeat-request message.
    public static let nak: UInt8 = 0x15
    public static let cr: UInt8 = 0x0D
    public static let lf: UInt8 = 0x0A
    /// `/`: start character of the request and identification messages.
    public static let slash: UInt8 = 0x2F
    /// `?`: transmission request command.
    public static let question: UInt8 = 0x3F
    /// `!`: end character of the request message and of a readout data block.
    public static let exclamation: UInt8 = 0x21
    /// `\`: escape of the enhanced identification characters (`\W`).
    public static let backslash: UInt8 = 0x5C
    public static let openParenthesis: UInt8 = 0x28
    public static let closeParenthesis: UInt8 = 0x29
    /// `*`: separates a value from its unit, and the F group of an OBIS code.
    public static let star: UInt8 = 0x2A
}

/// The block check character (BCC) of IEC 62056-21: the exclusive or of every character after the
/// first SOH or STX, up to and including the ETX (or EOT) that ends the block.
/// Vectors: `SOH B0 ETX` → `q`, `SOH P1 STX (00000000) ETX` → `a` (LEM EM4TII+ manual §4.2.9).
public enum IECBlockCheck {
    /// The XOR of `bytes` (pass the bytes after SOH/STX through ETX/EOT).
    public static func compute<C: Collection>(_ bytes: C) -> UInt8 where C.Element == UInt8 {
        var bcc: UInt8 = 0
        for b in bytes { bcc ^= b }
        return bcc
    }
}
