import ConcentratorCore

/// How a session reaches one IEC 62056-21 meter on the bus.
public struct IECLinkOptions: Hashable, Sendable {
    /// The device address of the request message (empty: any meter; point to point only).
    public var deviceAddress: String
    /// The line of the sign-on (300 7E1 by the standard).
    public var signOnLine: LineSettings
    /// Modes the meter may identify with, the expected one first.
    public var acceptedModes: [IECProtocolMode]
    /// The highest rate to switch to in mode C.
    public var maximumBaud: Int

    public init(deviceAddress: String, signOnLine: LineSettings = IECTiming.signOnLine, acceptedModes: [IECProtocolMode] = [.c],
                maximumBaud: Int = 19_200) {
        self.deviceAddress = deviceAddress
        self.signOnLine = signOnLine
        self.acceptedModes = acceptedModes
        self.maximumBaud = maximumBaud
    }

    /// The options a profile's `iec` section gives for the meter at `deviceAddress`.
    public init(deviceAddress: String, profile: IECProfile) {
        var line = IECTiming.signOnLine
        line.baud = profile.signOnBaud
        self.init(deviceAddress: deviceAddress, signOnLine: line,
                  acceptedModes: profile.acceptedModes.map { IECProtocolMode(rawValue: $0.rawValue)! },
                  maximumBaud: profile.maximumBaud)
    }

    /// The sign-on framing at another rate.
    func line(baud: Int) -> LineSettings {
        var l = signOnLine
        l.baud = baud
        return l
    }
}

/// What the sign-on asks of the session that drives it.
enum IECLinkAction {
    case step(MeterSessionStep<Never>)
    /// The meter is ready to send (readout) or to be addressed (programming); `switchTo` is the line
    /// to receive on when the session's next step must switch (mode B).
    case ready(switchTo: LineSettings?)
    case fail(MeterSessionError)
}

extension MeterSessionStep {
    /// A step that never finishes, recast for a session with another outcome.
    init(_ step: MeterSessionStep<Never>) {
        switch step {
        case .transmit(let bytes, let line, let wait): self = .transmit(bytes: bytes, line: line, wait: wait)
        case .awaitMore: self = .awaitMore
        case .receive(let line, let wait): self = .receive(line: line, wait: wait)
        case .pause(let d, let line): self = .pause(d, line: line)
        case .failed(let e): self = .failed(e)
        case .finished(let never): switch never {}
        }
    }
}

/// The opening every IEC 62056-21 session shares: request message at the sign-on line, the
/// identification, then by the mode it announces: mode C, the option select, a pause for it to
/// leave at the old rate, and the switch; mode B, the switch right away; mode A, nothing.
struct IECSignOn {
    let options: IECLinkOptions
    /// `IECOptionSelect.readout` or `.programming`.
    let modeControl: UInt8
    var assembler: IECFrameAssembler
    private(set) var identification: IECIdentification?
    private(set) var mode: IECProtocolMode?
    /// The line the data phase runs on.
    private(set) var dataLine: LineSettings
    private var phase = Phase.idle

    private enum Phase { case idle, identification, reactionBeforeAck(IECOptionSelect), ackSent, switching, done }

    init(options: IECLinkOptions, modeControl: UInt8, blockLimit: Int) {
        self.options = options
        self.modeControl = modeControl
        assembler = IECFrameAssembler(role: .client, blockLimit: blockLimit)
        dataLine = options.signOnLine
    }

    var isDone: Bool { if case .done = phase { return true } else { return false } }

    var meterName: String { options.deviceAddress.isEmpty ? "the meter" : "meter \"\(options.deviceAddress)\"" }

    mutating func start() -> IECLinkAction {
        assembler.reset()
        identification = nil
        mode = nil
        dataLine = options.signOnLine
        let request: IECRequestMessage
        do { request = try IECRequestMessage(deviceAddress: options.deviceAddress) } catch {
            return .fail(MeterSessionError(.malformed, "device address cannot be sent: \(error)"))
        }
        phase = .identification
        let bytes = request.encoded
        return .step(.transmit(bytes: bytes, line: options.signOnLine, wait: IECTiming.answerWait(afterSending: bytes.count, on: options.signOnLine)))
    }

    mutating func received(_ bytes: [UInt8]) -> IECLinkAction {
        switch phase {
        case .identification:
            assembler.append(bytes)
            let frame: IECFrame?
            do { frame = try assembler.next() } catch { return .fail(error.sessionError) }
            guard let frame else { return .step(.awaitMore) }
            guard case .line(let line) = frame else {
                return .fail(MeterSessionError(.malformed, "\(meterName) answered the request with \(Self.describe(frame)) instead of an identification"))
            }
            return identified(line)
        case .reactionBeforeAck(let ack):
            phase = .ackSent
            return .step(.transmit(bytes: ack.encoded, line: nil, wait: nil))
        case .ackSent:
            phase = .switching
            return .step(.pause(IECTiming.optionSelectSwitchDelay(on: options.signOnLine), line: dataLine == options.signOnLine ? nil : dataLine))
        case .switching:
            phase = .done
            return .ready(switchTo: nil)
        case .idle, .done:
            return .fail(MeterSessionError(.malformed, "internal: sign-on step out of order"))
        }
    }

    private mutating func identified(_ line: [UInt8]) -> IECLinkAction {
        let ident: IECIdentification
        do { ident = try IECIdentification.decode(line: line) } catch {
            return .fail(MeterSessionError(.malformed, "identification from \(meterName) does not parse: \(error)"))
        }
        identification = ident
        mode = ident.mode
        guard options.acceptedModes.contains(ident.mode) else {
            let accepted = options.acceptedModes.map(\.rawValue).joined(separator: ", ")
            return .fail(MeterSessionError(.malformed, "\(meterName) identifies as \(ident) (mode \(ident.mode.rawValue)); the profile accepts mode \(accepted)"))
        }
        if modeControl != IECOptionSelect.readout && ident.mode != .c {
            return .fail(MeterSessionError(.refused, "\(meterName) speaks mode \(ident.mode.rawValue); programming mode needs mode C"))
        }
        switch ident.mode {
        case .a:
            phase = .done
            return .ready(switchTo: nil)
        case .b:
            guard let baud = ident.proposedBaud else {
                return .fail(MeterSessionError(.malformed, "\(meterName) sent the reserved baud rate character \(Self.character(ident.baudCharacter))"))
            }
            assembler.reset() // anything after the identification was at the old rate
            dataLine = options.line(baud: baud)
            phase = .done
            return .ready(switchTo: dataLine)
        case .c:
            guard let proposed = ident.proposedBaud else {
                return .fail(MeterSessionError(.malformed, "\(meterName) sent the reserved baud rate character \(Self.character(ident.baudCharacter))"))
            }
            let baud = IECBaudCharacter.modeCRate(atMost: min(proposed, options.maximumBaud))
            guard let z = IECBaudCharacter.modeCCharacter(for: baud) else {
                return .fail(MeterSessionError(.malformed, "no mode C character for \(baud) baud"))
            }
            if !assembler.buffer.isEmpty {
                return .fail(MeterSessionError(.malformed, "\(meterName) kept sending after its identification in mode C"))
            }
            dataLine = options.line(baud: baud)
            phase = .reactionBeforeAck(IECOptionSelect(baudCharacter: z, modeControl: modeControl))
            return .step(.pause(ident.minimumReaction, line: nil))
        }
    }

    mutating func timedOut() -> IECLinkAction {
        switch assembler.progress {
        case .nothing:
            return .fail(MeterSessionError(.timeout, "no identification from \(meterName) at \(options.signOnLine.summary)"))
        default:
            return .fail(MeterSessionError(.timeout, "identification from \(meterName) stalled after \(assembler.buffer.count) bytes"))
        }
    }

    static func character(_ b: UInt8) -> String { (0x20...0x7E).contains(b) ? "'\(String(decoding: [b], as: UTF8.self))'" : "0x\(Hex.encode([b]))" }

    static func describe(_ frame: IECFrame) -> String {
        switch frame {
        case .line: return "a / message"
        case .optionSelect: return "an option select"
        case .acknowledge: return "ACK"
        case .repeatRequest: return "NAK"
        case .block(let b): return b.header == IECCharacter.soh ? "a command message" : "a data message"
        }
    }
}
