import ConcentratorCore
import MeterProtocols

/// One message a simulated meter sends: when (its reaction time after the request ended), at which
/// rate, the 7-bit characters, and how many of them go out before the line stalls.
public struct IECReply: Hashable, Sendable {
    public var characters: [UInt8]
    public var reactionMilliseconds: Int
    /// The rate this message is sent at.
    public var baud: Int
    /// Send only this many characters, then fall silent (the `stall` fault).
    public var stallAfter: Int?
    /// What the reply served, for the served log.
    public var record: ServedRecord?
}

/// The IEC 62056-21 side of a simulated line: every IEC meter on it and the one conversation in
/// progress. Pure, bytes in and replies out (the line thread paces them on the PTY; tests call it
/// directly): an addressed sign-on wakes only the meter with that address; the option select picks
/// readout or programming mode and the rate; programming mode takes the password, reads (registers,
/// clock, P.01), clock writes and the break.
public struct IECLineServer: Sendable {
    public private(set) var meters: [String: IECSimulatedMeter] = [:]
    public var faults: [String: IECMeterFault] = [:]
    /// The rate the server expects the next message at (the sign-on rate when idle).
    public private(set) var listeningBaud: Int
    public let signOnBaud: Int
    private var assembler = IECFrameAssembler(role: .device, blockLimit: 4096)
    private var state = State.idle
    private var lastReply: IECReply?

    private enum State {
        case idle
        case awaitingOptionSelect(String)
        case programming(String, baud: Int, authorized: Bool)
    }

    /// Every meter must use the same sign-on rate (one line, one sign-on).
    public init(meters: [IECSimulatedMeter]) throws(SimulatorError) {
        signOnBaud = meters.first?.iec.signOnBaud ?? 300
        listeningBaud = signOnBaud
        for meter in meters {
            guard self.meters[meter.deviceAddress] == nil else {
                throw .invalidSetup("IEC device address \"\(meter.deviceAddress)\" is given twice")
            }
            guard meter.iec.signOnBaud == signOnBaud else {
                throw .invalidSetup("IEC meters on one line must share the sign-on rate (\(signOnBaud) and \(meter.iec.signOnBaud))")
            }
            self.meters[meter.deviceAddress] = meter
        }
    }

    /// No conversation is in progress.
    public var isIdle: Bool { if case .idle = state { return true } else { return false } }

    /// How long the server waits for the next message before giving the conversation up.
    public var patience: Duration {
        switch state {
        case .idle: return .zero
        case .awaitingOptionSelect: return IECTiming.maximumReaction * 2
        case .programming: return IECTiming.programmingInactivity
        }
    }

    /// Drops the conversation and anything half received (inactivity, a collision, a vanished port).
    public mutating func reset() {
        endConversation()
        assembler.reset()
    }

    /// Back to idle at the sign-on rate, keeping what follows in the buffer (a break and the next
    /// sign-on may arrive in one read).
    private mutating func endConversation() {
        state = .idle
        assembler.expectsOptionSelect = false
        listeningBaud = signOnBaud
        lastReply = nil
    }

    public mutating func setFault(_ fault: IECMeterFault, for address: String) throws(SimulatorError) {
        guard meters[address] != nil else { throw .invalidSetup("no IEC meter \"\(address)\" on this line") }
        faults[address] = fault == .none ? nil : fault
    }

    public mutating func setErrorCode(address: String, raw: UInt32) throws(SimulatorError) {
        guard var meter = meters[address] else { throw .invalidSetup("no IEC meter \"\(address)\" on this line") }
        meter.errorCode = raw
        meters[address] = meter
    }

    public mutating func setClockOffset(address: String, seconds: Int64) throws(SimulatorError) {
        guard var meter = meters[address] else { throw .invalidSetup("no IEC meter \"\(address)\" on this line") }
        meter.setClockOffset(seconds: seconds)
        meters[address] = meter
    }

    /// Whether `characters` (7-bit) open an IEC exchange: a request message starts `/?`.
    public static func startsSignOn(_ characters: [UInt8]) -> Bool {
        guard characters.first == IECCharacter.slash else { return false }
        return characters.count == 1 || characters[1] == IECCharacter.question
    }

    /// Characters from the master (parity already stripped) at simulator time `time`; the replies
    /// in order.
    public mutating func receive(_ characters: [UInt8], at time: Timestamp) -> [IECReply] {
        assembler.append(characters)
        var replies: [IECReply] = []
        while true {
            let frame: IECFrame?
            do {
                frame = try assembler.next()
            } catch .badBlockCheck {
                if case .programming(_, let baud, _) = state { replies.append(IECReply(characters: [IECCharacter.nak], reactionMilliseconds: reaction, baud: baud)) }
                continue
            } catch {
                continue // noise on the line: a meter ignores what it cannot frame
            }
            guard let frame else { break }
            replies += handle(frame, at: time)
        }
        if let last = replies.last { lastReply = last }
        return replies
    }

    private var reaction: Int {
        switch state {
        case .awaitingOptionSelect(let a), .programming(let a, _, _): return meters[a]?.reactionMilliseconds ?? 200
        case .idle: return 200
        }
    }

    private mutating func handle(_ frame: IECFrame, at time: Timestamp) -> [IECReply] {
        if case .line(let line) = frame { return signOn(line, at: time) }
        switch state {
        case .idle:
            return []
        case .awaitingOptionSelect(let address):
            guard case .optionSelect(let bytes) = frame, let option = try? IECOptionSelect.decode(bytes), let meter = meters[address] else {
                return []
            }
            assembler.expectsOptionSelect = false
            let baud = IECBaudCharacter.baud(of: option.baudCharacter) ?? signOnBaud
            switch option.modeControl {
            case IECOptionSelect.readout:
                endConversation()
                return [dataMessage(meter, baud: baud, at: time)]
            case IECOptionSelect.programming:
                state = .programming(address, baud: baud, authorized: !meter.needsPassword)
                listeningBaud = baud
                let p0 = IECCommandMessage(.password, type: UInt8(ascii: "0"), data: Array("()".utf8))
                return [reply(p0.encoded, meter, baud: baud)]
            default:
                endConversation()
                return []
            }
        case .programming(let address, let baud, let authorized):
            guard var meter = meters[address] else { endConversation(); return [] }
            switch frame {
            case .repeatRequest:
                return lastReply.map { [$0] } ?? []
            case .block(let b) where b.header == IECCharacter.soh:
                guard let command = try? IECCommandMessage.decode(b) else { return [error(meter, baud: baud)] }
                switch command.command {
                case .exit:
                    endConversation()
                    return []
                case .password:
                    let given = command.dataSet?.values.first.map { Array($0.text.utf8) }
                    guard meter.accepts(password: given) else {
                        endConversation()
                        return [reply(IECCommandMessage.exit.encoded, meter, baud: baud)]
                    }
                    state = .programming(address, baud: baud, authorized: true)
                    return [reply([IECCharacter.ack], meter, baud: baud)]
                case .read:
                    guard authorized, let set = command.dataSet,
                          let body = meter.read(set, withAddress: command.type != UInt8(ascii: "1"), at: time) else {
                        return [error(meter, baud: baud)]
                    }
                    return [programmingData(meter, body: body, baud: baud)]
                case .write:
                    guard authorized, let set = command.dataSet, meter.write(set, at: time) else { return [error(meter, baud: baud)] }
                    meters[address] = meter
                    return [reply([IECCharacter.ack], meter, baud: baud)]
                case .execute:
                    return [error(meter, baud: baud)]
                }
            default:
                return []
            }
        }
    }

    /// A request line: the addressed meter (or the only one, for an empty address) identifies.
    private mutating func signOn(_ line: [UInt8], at time: Timestamp) -> [IECReply] {
        endConversation()
        guard let request = try? IECRequestMessage.decode(line: line) else { return [] }
        let address = request.deviceAddress
        let meter: IECSimulatedMeter? = if address.isEmpty {
            meters.count == 1 ? meters.values.first : nil
        } else {
            meters[address] ?? (meters.count == 1 ? meters.values.first.flatMap { $0.iec.deviceAddress.answersAnyAddress ? $0 : nil } : nil)
        }
        guard let meter, faults[meter.deviceAddress] != .silence else { return [] }
        let ident = reply(meter.identification.encoded, meter, baud: signOnBaud)
        switch meter.iec.mode {
        case .c:
            state = .awaitingOptionSelect(meter.deviceAddress)
            assembler.expectsOptionSelect = true
            return [ident]
        case .b:
            return [ident, dataMessage(meter, baud: meter.proposedBaud, at: time)]
        case .a:
            return [ident, dataMessage(meter, baud: signOnBaud, at: time)]
        }
    }

    private func reply(_ characters: [UInt8], _ meter: IECSimulatedMeter, baud: Int) -> IECReply {
        var extra = 0
        if case .slow(let ms)? = faults[meter.deviceAddress] { extra = ms }
        return IECReply(characters: characters, reactionMilliseconds: meter.reactionMilliseconds + extra, baud: baud)
    }

    private func error(_ meter: IECSimulatedMeter, baud: Int) -> IECReply {
        reply(IECBlock(header: IECCharacter.stx, body: Array("(ERROR)".utf8)).encoded, meter, baud: baud)
    }

    /// The readout data message, shaped by the meter's fault.
    private func dataMessage(_ meter: IECSimulatedMeter, baud: Int, at time: Timestamp) -> IECReply {
        let readout = meter.readout(at: time)
        let fault = faults[meter.deviceAddress] ?? .none
        var record = ServedRecord(time: time, slave: 0, function: 0, values: fault == .none || fault.isSlow ? readout.served : nil)
        record.device = meter.deviceAddress
        if fault != .none { record.fault = fault.description }
        var r = shaped(IECBlock(header: IECCharacter.stx, body: readout.body), meter, baud: baud, readout: true)
        r.record = record
        return r
    }

    private func programmingData(_ meter: IECSimulatedMeter, body: [UInt8], baud: Int) -> IECReply {
        shaped(IECBlock(header: IECCharacter.stx, body: body), meter, baud: baud, readout: false)
    }

    private func shaped(_ block: IECBlock, _ meter: IECSimulatedMeter, baud: Int, readout: Bool) -> IECReply {
        var characters = block.encoded
        var r = reply(characters, meter, baud: baud)
        switch faults[meter.deviceAddress] ?? .none {
        case .badBCC:
            characters[characters.count - 1] ^= 0x01
            r.characters = characters
        case .missingETX where readout:
            r.characters = Array(characters.dropLast(2))
        case .stall:
            r.stallAfter = characters.count / 2
        default:
            break
        }
        return r
    }
}

extension IECMeterFault {
    var isSlow: Bool { if case .slow = self { return true } else { return false } }
}
