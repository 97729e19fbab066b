import ConcentratorCore

/// The protocol modes of IEC 62056-21 a client can meet after a sign-on. The tariff device tells its
/// mode by the baud rate character of its identification message (and mode E by `\2`).
public enum IECProtocolMode: String, Hashable, Sendable, CaseIterable {
    /// No baud rate switch: the data message follows the identification at the sign-on rate.
    case a = "A"
    /// Both sides switch to the identified rate right after the identification; no option select.
    case b = "B"
    /// The HHU answers the identification with the acknowledgement/option select message, then both
    /// switch to the agreed rate. Readout and programming mode.
    case c = "C"
}

/// The baud rate characters of IEC 62056-21 (the `Z` of the identification and option select).
public enum IECBaudCharacter {
    /// Mode C (and E): `0`…`6` = 300, 600, 1200, 2400, 4800, 9600, 19200 baud; `7`–`9` reserved.
    static let modeC: [Int] = [300, 600, 1200, 2400, 4800, 9600, 19_200]
    /// Mode B: `A`…`F` = 600, 1200, 2400, 4800, 9600, 19200 baud; `G`–`I` reserved.
    static let modeB: [Int] = [600, 1200, 2400, 4800, 9600, 19_200]

    /// The protocol mode a baud rate character announces: digits mode C, `A`–`I` mode B, any other
    /// printable character mode A.
    public static func mode(of character: UInt8) -> IECProtocolMode {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return .c
        case UInt8(ascii: "A")...UInt8(ascii: "I"): return .b
        default: return .a
        }
    }

    /// The rate a mode B or C character stands for; nil for a reserved character or mode A.
    public static func baud(of character: UInt8) -> Int? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "6"): return modeC[Int(character - UInt8(ascii: "0"))]
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return modeB[Int(character - UInt8(ascii: "A"))]
        default: return nil
        }
    }

    /// The mode C character for `baud`, or nil when the rate has none.
    public static func modeCCharacter(for baud: Int) -> UInt8? {
        modeC.firstIndex(of: baud).map { UInt8(ascii: "0") + UInt8($0) }
    }

    /// The mode B character for `baud`, or nil when the rate has none.
    public static func modeBCharacter(for baud: Int) -> UInt8? {
        modeB.firstIndex(of: baud).map { UInt8(ascii: "A") + UInt8($0) }
    }

    /// The highest mode C rate that is at most `baud` (300 when `baud` is below every rate).
    public static func modeCRate(atMost baud: Int) -> Int { modeC.last { $0 <= baud } ?? 300 }
}

/// The request message `/ ? Device address ! CR LF` (IEC 62056-21, 6.3.1). The device address has
/// at most 32 characters; empty asks whichever device listens (point to point only).
public struct IECRequestMessage: Hashable, Sendable {
    public static let maximumAddressLength = 32
    public let deviceAddress: String

    /// Rejects an address that is too long or holds a character the message cannot carry.
    public init(deviceAddress: String = "") throws(ByteFormatError) {
        let bytes = Array(deviceAddress.utf8)
        guard bytes.count <= Self.maximumAddressLength else {
            throw ByteFormatError("device address longer than \(Self.maximumAddressLength) characters", at: 2)
        }
        for (i, b) in bytes.enumerated() where !Self.isAddressCharacter(b) {
            throw ByteFormatError("device address character 0x\(Hex.encode([b])) is not printable or is '/', '?' or '!'", at: 2 + i)
        }
        self.deviceAddress = deviceAddress
    }

    static func isAddressCharacter(_ b: UInt8) -> Bool {
        (0x20...0x7E).contains(b) && b != IECCharacter.slash && b != IECCharacter.question && b != IECCharacter.exclamation
    }

    public var encoded: [UInt8] { [IECCharacter.slash, IECCharacter.question] + Array(deviceAddress.utf8) + [IECCharacter.exclamation, IECCharacter.cr, IECCharacter.lf] }

    /// Decodes a request line as `IECFrameAssembler` delivers it (`/` through `!`, no CR LF).
    public static func decode(line: [UInt8]) throws(ByteFormatError) -> IECRequestMessage {
        guard line.count >= 3, line[0] == IECCharacter.slash, line[1] == IECCharacter.question else {
            throw ByteFormatError("a request message starts with /?", at: 0)
        }
        guard line.last == IECCharacter.exclamation else {
            throw ByteFormatError("a request message ends with ! before CR LF", at: line.count - 1)
        }
        let address = line[2..<(line.count - 1)]
        return try IECRequestMessage(deviceAddress: String(decoding: address, as: UTF8.self))
    }
}

/// The identification message `/ X X X Z Ident CR LF` (IEC 62056-21, 6.3.2): manufacturer, baud
/// rate character (which also tells the protocol mode), enhanced identification characters (`\W`,
/// e.g. `\2` for mode E capable, `\@` as EMH uses it) and the identification proper.
public struct IECIdentification: Hashable, Sendable, CustomStringConvertible {
    public static let maximumIdentLength = 32
    /// Three printable characters (the FLAG-registered code, e.g. `ISK`, `EMH`, `LGZ`).
    public let manufacturer: String
    /// The `Z` character.
    public let baudCharacter: UInt8
    /// The characters that followed each `\` at the start of the identification.
    public let enhancedCharacters: [UInt8]
    /// The rest: model and version, up to 16 characters by the standard (32 accepted).
    public let ident: String

    public init(manufacturer: String, baudCharacter: UInt8, enhancedCharacters: [UInt8] = [], ident: String) {
        self.manufacturer = manufacturer
        self.baudCharacter = baudCharacter
        self.enhancedCharacters = enhancedCharacters
        self.ident = ident
    }

    public var mode: IECProtocolMode { IECBaudCharacter.mode(of: baudCharacter) }
    /// The rate the device proposes (modes B and C), nil for mode A or a reserved character.
    public var proposedBaud: Int? { mode == .a ? nil : IECBaudCharacter.baud(of: baudCharacter) }
    /// Lower-case third manufacturer letter: the device answers after 20 ms instead of 200 ms.
    public var minimumReaction: Duration {
        manufacturer.utf8.count == 3 && (0x61...0x7A).contains(Array(manufacturer.utf8)[2])
            ? IECTiming.shortMinimumReaction : IECTiming.minimumReaction
    }

    /// `/ISK5ME162-0033` (as sent, without CR LF).
    public var description: String {
        "/" + manufacturer + String(decoding: [baudCharacter], as: UTF8.self)
            + enhancedCharacters.map { "\\" + String(decoding: [$0], as: UTF8.self) }.joined() + ident
    }

    public var encoded: [UInt8] { Array(description.utf8) + [IECCharacter.cr, IECCharacter.lf] }

    /// Decodes an identification line as `IECFrameAssembler` delivers it (from `/`, no CR LF).
    public static func decode(line: [UInt8]) throws(ByteFormatError) -> IECIdentification {
        var r = ByteReader(line)
        guard try r.u8("start character") == IECCharacter.slash else { throw ByteFormatError("an identification starts with /", at: 0) }
        let manufacturer = try r.raw(3, "manufacturer identification")
        for (i, b) in manufacturer.enumerated() where !isIdentCharacter(b) {
            throw ByteFormatError("manufacturer character 0x\(Hex.encode([b])) is not printable", at: 1 + i)
        }
        let z = try r.u8("baud rate character")
        guard isIdentCharacter(z) else { throw ByteFormatError("baud rate character 0x\(Hex.encode([z])) is not printable", at: 4) }
        var enhanced: [UInt8] = []
        while r.peek() == IECCharacter.backslash {
            try r.skip(1, "escape")
            let w = try r.u8("enhanced identification character")
            guard isIdentCharacter(w) else { throw ByteFormatError("enhanced identification character is not printable", at: r.offset - 1) }
            enhanced.append(w)
        }
        let identStart = r.offset
        let ident = r.rest()
        guard ident.count <= maximumIdentLength else {
            throw ByteFormatError("identification longer than \(maximumIdentLength) characters", at: identStart)
        }
        for (i, b) in ident.enumerated() where !isIdentCharacter(b) {
            throw ByteFormatError("identification character 0x\(Hex.encode([b])) is not printable or is '/' or '!'", at: identStart + i)
        }
        return IECIdentification(manufacturer: String(decoding: manufacturer, as: UTF8.self), baudCharacter: z,
                                 enhancedCharacters: enhanced, ident: String(decoding: ident, as: UTF8.self))
    }

    static func isIdentCharacter(_ b: UInt8) -> Bool {
        (0x20...0x7E).contains(b) && b != IECCharacter.slash && b != IECCharacter.exclamation
    }
}

/// The acknowledgement/option select message `ACK V Z Y CR LF` (IEC 62056-21, 6.3.3).
public struct IECOptionSelect: Hashable, Sendable {
    /// `V`: `0` normal protocol procedure, `1` secondary, `2` HDLC.
    public let protocolControl: UInt8
    /// `Z`: the rate both sides switch to (a mode C character).
    public let baudCharacter: UInt8
    /// `Y`: `0` data readout, `1` programming mode, `2` binary mode (HDLC), `6`–`9` manufacturer.
    public let modeControl: UInt8

    public static let readout = UInt8(ascii: "0")
    public static let programming = UInt8(ascii: "1")

    public init(protocolControl: UInt8 = UInt8(ascii: "0"), baudCharacter: UInt8, modeControl: UInt8) {
        self.protocolControl = protocolControl
        self.baudCharacter = baudCharacter
        self.modeControl = modeControl
    }

    public var encoded: [UInt8] { [IECCharacter.ack, protocolControl, baudCharacter, modeControl, IECCharacter.cr, IECCharacter.lf] }

    /// Decodes `ACK V Z Y` (the frame assembler drops the CR LF).
    public static func decode(_ bytes: [UInt8]) throws(ByteFormatError) -> IECOptionSelect {
        guard bytes.count == 4, bytes[0] == IECCharacter.ack else {
            throw ByteFormatError("an option select message is ACK and three characters", at: 0)
        }
        for i in 1...3 where !(0x30...0x39).contains(bytes[i]) {
            throw ByteFormatError("option select character 0x\(Hex.encode([bytes[i]])) is not a digit", at: i)
        }
        return IECOptionSelect(protocolControl: bytes[1], baudCharacter: bytes[2], modeControl: bytes[3])
    }
}
