import ConcentratorCore

/// One complete IEC 62056-21 message as cut from the byte stream.
public enum IECFrame: Hashable, Sendable {
    /// A `/ … CR LF` message without its CR LF: a request (`/?…!`) or an identification (`/ISK5…`).
    case line([UInt8])
    /// `ACK V Z Y` (the CR LF dropped): the acknowledgement/option select message.
    case optionSelect([UInt8])
    /// A lone ACK.
    case acknowledge
    /// A NAK: the repeat-request message.
    case repeatRequest
    /// An SOH or STX block with a correct block check character.
    case block(IECBlock)
}

/// A block `SOH|STX … ETX|EOT BCC` whose BCC checked out.
public struct IECBlock: Hashable, Sendable {
    /// `IECCharacter.soh` (programming command) or `IECCharacter.stx` (data message).
    public let header: UInt8
    /// Everything between the header and the closing ETX/EOT (for a command: `C D STX data`).
    public let body: [UInt8]
    /// Closed by EOT: one of several partial blocks.
    public let isPartial: Bool

    public init(header: UInt8, body: [UInt8], isPartial: Bool = false) {
        self.header = header
        self.body = body
        self.isPartial = isPartial
    }

    /// The block as sent: header, body, ETX or EOT, BCC.
    public var encoded: [UInt8] {
        let end = isPartial ? IECCharacter.eot : IECCharacter.etx
        return [header] + body + [end, IECBlockCheck.compute(body + [end])]
    }

    /// The body as text (7-bit ASCII).
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// Why the byte stream does not cut into IEC 62056-21 messages. The assembler drops the offending
/// bytes, so a caller that wants to go on can call `next()` again.
public enum IECFrameError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The block check character does not match the block.
    case badBlockCheck(expected: UInt8, received: UInt8, blockLength: Int)
    /// A readout data block went on after its closing `! CR LF` without the ETX.
    case missingETX(blockLength: Int)
    /// A message ran past the length limit without its end character.
    case tooLong(limit: Int)
    /// A byte that starts no message here.
    case unexpectedByte(UInt8)
    /// A byte with bit 7 set: the parity bit was not stripped, or the line carries 8-bit data.
    case notSevenBit(UInt8)
    /// A `/` message whose LF is not preceded by CR.
    case lineWithoutCarriageReturn

    public var description: String {
        switch self {
        case .badBlockCheck(let e, let r, let n):
            return "block check character 0x\(Hex.encode([r])) does not match the \(n)-byte block (computed 0x\(Hex.encode([e])))"
        case .missingETX(let n): return "data block of \(n) bytes ended with ! CR LF but no ETX followed"
        case .tooLong(let limit): return "message longer than \(limit) bytes without its end character"
        case .unexpectedByte(let b): return "unexpected byte 0x\(Hex.encode([b])) where a message should start"
        case .notSevenBit(let b): return "byte 0x\(Hex.encode([b])) has bit 7 set (parity not stripped, or not a 7-bit line)"
        case .lineWithoutCarriageReturn: return "a / message ended with LF but no CR before it"
        }
    }

    /// The session error class: a bad BCC is a failed check, the rest is a malformed answer.
    public var sessionError: MeterSessionError {
        if case .badBlockCheck = self { return MeterSessionError(.badCheck, description) }
        return MeterSessionError(.malformed, description)
    }
}

/// Cuts a 7-bit byte stream into IEC 62056-21 messages, incrementally: bytes may arrive in any
/// split, a message is returned once complete and checked. Pure, no clock.
///
///     var assembler = IECFrameAssembler(role: .client)
///     assembler.append(bytesFromThePort)
///     while let frame = try assembler.next() { … }
public struct IECFrameAssembler: Sendable {
    /// Which side reads: the client (HHU) gets identifications, data blocks, ACK and NAK; the
    /// tariff device gets requests, option selects, commands, ACK and NAK.
    public enum Role: Hashable, Sendable { case client, device }

    /// How far the message in progress got (for the error after a timeout).
    public enum Progress: Hashable, Sendable {
        case nothing
        case line(bytes: Int)
        /// `afterReadoutEnd`: the block already had its `! CR LF` and only lacks ETX and BCC.
        case block(bytes: Int, afterReadoutEnd: Bool)
        case optionSelect(bytes: Int)
    }

    /// The longest `/` message: `/` + 3 + Z + 32-character address or identification with escapes + CR LF.
    public static let lineLimit = 128

    public let role: Role
    public let blockLimit: Int
    /// Device role: an ACK followed by a digit starts an option select (set while one is awaited;
    /// otherwise a lone ACK is returned at once).
    public var expectsOptionSelect = false

    public private(set) var buffer: [UInt8] = []
    /// Scan state of the block at the start of `buffer` (so a long block is scanned once).
    private var scanned = 0
    private var runningCheck: UInt8 = 0
    private var lineStart = true
    private var readoutEnd = 0

    public init(role: Role, blockLimit: Int = 65_536) {
        self.role = role
        self.blockLimit = blockLimit
    }

    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 { buffer.append(contentsOf: bytes) }

    /// Drops everything buffered (after a failure or a line switch).
    public mutating func reset() {
        buffer = []
        resetScan()
    }

    private mutating func resetScan() {
        scanned = 0
        runningCheck = 0
        lineStart = true
        readoutEnd = 0
    }

    private mutating func consume(_ count: Int) {
        buffer.removeFirst(min(count, buffer.count))
        resetScan()
    }

    public var progress: Progress {
        guard let first = buffer.first else { return .nothing }
        switch first {
        case IECCharacter.slash: return .line(bytes: buffer.count)
        case IECCharacter.stx, IECCharacter.soh: return .block(bytes: buffer.count, afterReadoutEnd: readoutEnd == 5)
        case IECCharacter.ack where buffer.count > 1: return .optionSelect(bytes: buffer.count)
        default: return .nothing
        }
    }

    /// The next complete message, nil when more bytes are needed. Throws for bytes that cannot be a
    /// message; the offending bytes are dropped.
    public mutating func next() throws(IECFrameError) -> IECFrame? {
        guard let first = buffer.first else { return nil }
        if first & 0x80 != 0 {
            consume(1)
            throw .notSevenBit(first)
        }
        switch first {
        case IECCharacter.slash: return try nextLine()
        case IECCharacter.stx, IECCharacter.soh: return try nextBlock()
        case IECCharacter.nak:
            consume(1)
            return .repeatRequest
        case IECCharacter.ack:
            return try nextAcknowledgement()
        default:
            consume(1)
            throw .unexpectedByte(first)
        }
    }

    private mutating func nextLine() throws(IECFrameError) -> IECFrame? {
        let limit = min(buffer.count, Self.lineLimit)
        var i = max(scanned, 1)
        while i < limit {
            let b = buffer[i]
            if b & 0x80 != 0 {
                consume(i + 1)
                throw .notSevenBit(b)
            }
            if b == IECCharacter.lf {
                guard buffer[i - 1] == IECCharacter.cr else {
                    consume(i + 1)
                    throw .lineWithoutCarriageReturn
                }
                let line = Array(buffer[0..<(i - 1)])
                consume(i + 1)
                return .line(line)
            }
            i += 1
        }
        scanned = i
        if buffer.count >= Self.lineLimit {
            consume(buffer.count)
            throw .tooLong(limit: Self.lineLimit)
        }
        return nil
    }

    private mutating func nextAcknowledgement() throws(IECFrameError) -> IECFrame? {
        guard role == .device, expectsOptionSelect else {
            consume(1)
            return .acknowledge
        }
        guard buffer.count >= 2 else { return nil }
        guard (0x30...0x39).contains(buffer[1]) else {
            consume(1)
            return .acknowledge
        }
        guard buffer.count >= 6 else {
            for b in buffer.dropFirst() where b & 0x80 != 0 || b == IECCharacter.lf {
                let n = buffer.count
                consume(n)
                throw b & 0x80 != 0 ? .notSevenBit(b) : .lineWithoutCarriageReturn
            }
            return nil
        }
        let message = Array(buffer[0..<4])
        let ends = buffer[4] == IECCharacter.cr && buffer[5] == IECCharacter.lf
        consume(6)
        guard ends else { throw .lineWithoutCarriageReturn }
        return .optionSelect(message)
    }

    private mutating func nextBlock() throws(IECFrameError) -> IECFrame? {
        let isReadout = buffer[0] == IECCharacter.stx
        var i = max(scanned, 1)
        while i < buffer.count {
            let b = buffer[i]
            if b & 0x80 != 0 {
                consume(i + 1)
                throw .notSevenBit(b)
            }
            if b == IECCharacter.etx || b == IECCharacter.eot {
                guard i + 1 < buffer.count else { break } // the BCC has not arrived yet
                let expected = runningCheck ^ b
                let received = buffer[i + 1]
                let block = IECBlock(header: buffer[0], body: Array(buffer[1..<i]), isPartial: b == IECCharacter.eot)
                consume(i + 2)
                guard expected == received else {
                    throw .badBlockCheck(expected: expected, received: received, blockLength: i + 2)
                }
                return .block(block)
            }
            if isReadout && readoutEnd == 5 {
                consume(i)
                throw .missingETX(blockLength: i)
            }
            runningCheck ^= b
            readoutEnd = Self.advanceReadoutEnd(readoutEnd, b, lineStart: lineStart)
            lineStart = b == IECCharacter.lf
            i += 1
            if i > blockLimit {
                consume(buffer.count)
                throw .tooLong(limit: blockLimit)
            }
        }
        scanned = i
        return nil
    }

    /// Tracks `CR LF ! CR LF` (or `! CR LF` right after STX): 5 = the readout data has ended.
    private static func advanceReadoutEnd(_ state: Int, _ b: UInt8, lineStart: Bool) -> Int {
        switch (state, b) {
        case (_, IECCharacter.exclamation) where lineStart: return 3
        case (3, IECCharacter.cr): return 4
        case (4, IECCharacter.lf): return 5
        default: return 0
        }
    }
}
