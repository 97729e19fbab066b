import ConcentratorCore

/// A programming command message `SOH C D STX data set ETX BCC` (IEC 62056-21, 6.3, message
/// definitions), or without a data set `SOH C D ETX BCC` (the break `SOH B0 ETX q`).
///
/// Vectors (LEM EM4TII+ manual §4.2.9): `SOH P1 STX (00000000) ETX a`, `SOH R5 STX 0.9.2() ETX \`,
/// `SOH B0 ETX q`; the tariff device's password request `SOH P0 STX () ETX` + BCC `` ` ``.
public struct IECCommandMessage: Hashable, Sendable, CustomStringConvertible {
    /// `C`: the command message identifier.
    public enum Command: UInt8, Hashable, Sendable {
        case password = 0x50 // P
        case write = 0x57 // W
        case read = 0x52 // R
        case execute = 0x45 // E
        case exit = 0x42 // B
    }

    public let command: Command
    /// `D`: the command type, a digit (`P0` operand, `P1` password, `R1`/`R5` read, `W1`/`W5` write,
    /// `B0` break).
    public let type: UInt8
    /// The data set, nil for a message without one.
    public let data: [UInt8]?

    public init(_ command: Command, type: UInt8, data: [UInt8]?) {
        self.command = command
        self.type = type
        self.data = data
    }

    /// `R5 0.9.2()` style: the command and type from a profile's command name (`R5`) and a data set text.
    public init(_ name: IECCommandType, data: String) {
        let bytes = Array(name.rawValue.utf8)
        self.init(Command(rawValue: bytes[0])!, type: bytes[1], data: Array(data.utf8))
    }

    /// The break message that ends programming mode.
    public static let exit = IECCommandMessage(.exit, type: UInt8(ascii: "0"), data: nil)

    /// The password command P1 carrying `password` in parentheses.
    public static func password(_ password: [UInt8]) -> IECCommandMessage {
        IECCommandMessage(.password, type: UInt8(ascii: "1"), data: [IECCharacter.openParenthesis] + password + [IECCharacter.closeParenthesis])
    }

    /// The block as `IECFrameAssembler` returns it (`SOH` header, body `C D [STX data]`).
    public var block: IECBlock {
        var body: [UInt8] = [command.rawValue, type]
        if let data { body += [IECCharacter.stx] + data }
        return IECBlock(header: IECCharacter.soh, body: body)
    }

    public var encoded: [UInt8] { block.encoded }

    /// `R5 0.9.2()`; a password command's data never appears (`P1 (…)`).
    public var description: String {
        let name = String(decoding: [command.rawValue, type], as: UTF8.self)
        guard let data else { return name }
        if command == .password && type != UInt8(ascii: "0") { return name + " (…)" }
        return name + " " + String(decoding: data, as: UTF8.self)
    }

    /// Decodes an SOH block: a command letter, a type digit, then nothing or STX and the data set.
    public static func decode(_ block: IECBlock) throws(ByteFormatError) -> IECCommandMessage {
        guard block.header == IECCharacter.soh else { throw ByteFormatError("a command message starts with SOH", at: 0) }
        var r = ByteReader(block.body)
        let c = try r.u8("command message identifier")
        guard let command = Command(rawValue: c) else {
            throw ByteFormatError("unknown command message identifier 0x\(Hex.encode([c])) (expected P, W, R, E or B)", at: 1)
        }
        let type = try r.u8("command type identifier")
        guard (0x30...0x39).contains(type) else { throw ByteFormatError("command type 0x\(Hex.encode([type])) is not a digit", at: 2) }
        guard !r.isAtEnd else { return IECCommandMessage(command, type: type, data: nil) }
        guard try r.u8("STX") == IECCharacter.stx else { throw ByteFormatError("expected STX before the data set", at: 3) }
        let data = r.rest()
        for (i, b) in data.enumerated() where b < 0x20 || b > 0x7E {
            throw ByteFormatError("control character 0x\(Hex.encode([b])) inside the data set", at: 4 + i)
        }
        return IECCommandMessage(command, type: type, data: data)
    }

    /// The one data set in the message's data (`0.9.2()`, `P.01(…;…)`, `(00000000)`).
    public var dataSet: IECDataSet? {
        guard let data, let line = try? IECDataLine.parse(data), line.sets.count == 1 else { return nil }
        return line.sets[0]
    }
}
