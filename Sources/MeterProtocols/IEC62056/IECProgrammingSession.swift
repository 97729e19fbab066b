import ConcentratorCore

/// What the meter answered to one programming command.
public enum IECProgrammingAnswer: Hashable, Sendable {
    /// ACK (a write that was taken).
    case acknowledged
    /// A data message (a read), partial blocks joined.
    case data(IECDataBlock)
}

/// The answers of one programming-mode conversation, in command order.
public struct IECProgrammingTranscript: Hashable, Sendable {
    public var identification: IECIdentification
    public var baud: Int
    public var answers: [IECProgrammingAnswer]

    public init(identification: IECIdentification, baud: Int, answers: [IECProgrammingAnswer]) {
        self.identification = identification
        self.baud = baud
        self.answers = answers
    }
}

/// A programming-mode conversation (IEC 62056-21 mode C) as a `MeterSession`: sign-on, `ACK 0 Z 1`,
/// the switch, the meter's password request `SOH P0 STX (…) ETX`, the password `SOH P1 STX (pw) ETX`
/// answered by ACK, then each command in turn (a read answered by a data message, a write by ACK),
/// and the break `SOH B0 ETX` at the end, also after a failure once programming mode was reached.
///
/// - A NAK makes the session send the same message again, up to `IECTiming.repeatLimit` times.
/// - A data message with a wrong BCC is answered with NAK (a repeat request), as often.
/// - Partial blocks (EOT) are acknowledged and joined.
/// - Without a password (nil) the session skips P1 and sends the commands right after P0 (models
///   that let reads through unauthenticated).
/// The password never appears in an error or the transcript; it is in the bytes of the P1
/// `.transmit` step only, so a bus owner that logs raw traffic must leave that step out.
public struct IECProgrammingSession: MeterSession {
    public typealias Outcome = IECProgrammingTranscript

    /// The longest data message accepted (a month of 15-minute profile lines fits).
    public static let blockLimit = 4 * 1024 * 1024

    private var signOn: IECSignOn
    private let password: [UInt8]?
    private let commands: [IECCommandMessage]
    private var phase = Phase.signOn
    private var answers: [IECProgrammingAnswer] = []
    private var partial: [UInt8] = []
    private var repeats = 0
    private var index = 0

    fileprivate enum Phase {
        case signOn
        /// Waiting the reaction time, then sending `message` and going to `next`.
        case beforeSending(message: [UInt8], next: Awaiting)
        case awaiting(Awaiting)
        case breaking(MeterSessionError?)
        /// The break was handed to the port: its wire time and the meter's reaction time pass
        /// before the session ends, so the next sign-on at another rate does not cut it.
        case afterBreak(MeterSessionError?)
        case finished
    }

    fileprivate enum Awaiting { case passwordRequest, passwordAck, answer }

    public init(link: IECLinkOptions, password: [UInt8]?, commands: [IECCommandMessage]) {
        signOn = IECSignOn(options: link, modeControl: IECOptionSelect.programming, blockLimit: Self.blockLimit)
        self.password = password
        self.commands = commands
    }

    public mutating func start() -> MeterSessionStep<IECProgrammingTranscript> {
        phase = .signOn
        answers = []
        partial = []
        repeats = 0
        index = 0
        if let password, password.count > 32 || password.contains(where: { $0 < 0x20 || $0 > 0x7E || $0 == 0x28 || $0 == 0x29 }) {
            return .failed(MeterSessionError(.security, "the programming password for \(signOn.meterName) has characters or a length the P1 message cannot carry"))
        }
        return map(signOn.start())
    }

    public mutating func received(_ bytes: [UInt8]) -> MeterSessionStep<IECProgrammingTranscript> {
        switch phase {
        case .signOn:
            return map(signOn.received(bytes))
        case .beforeSending(let message, let next):
            phase = .awaiting(next)
            return .transmit(bytes: message, line: nil, wait: IECTiming.answerWait(afterSending: message.count, on: signOn.dataLine))
        case .breaking(let error):
            phase = .afterBreak(error)
            let breakLength = IECCommandMessage.exit.encoded.count
            return .pause(IECTiming.wireTime(characters: breakLength + 1, on: signOn.dataLine) + IECTiming.minimumReaction, line: nil)
        case .afterBreak(let error):
            phase = .finished
            if let error { return .failed(error) }
            return .finished(IECProgrammingTranscript(identification: signOn.identification!, baud: signOn.dataLine.baud, answers: answers))
        case .finished:
            return .failed(MeterSessionError(.malformed, "internal: session already finished"))
        case .awaiting:
            signOn.assembler.append(bytes)
            return nextFrame()
        }
    }

    public mutating func timedOut() -> MeterSessionStep<IECProgrammingTranscript> {
        let name = signOn.meterName
        switch phase {
        case .signOn:
            return map(signOn.timedOut())
        case .awaiting(.passwordRequest):
            return breakThenFail(MeterSessionError(.timeout, "no password request from \(name) after the programming-mode option select"))
        case .awaiting(.passwordAck):
            return breakThenFail(MeterSessionError(.security, "no answer from \(name) to the password (a wrong password, or the line went silent)"))
        case .awaiting:
            if case .nothing = signOn.assembler.progress {
                return breakThenFail(MeterSessionError(.timeout, "no answer from \(name) to \(currentCommandName)"))
            }
            return breakThenFail(MeterSessionError(.timeout, "the line stalled after \(signOn.assembler.buffer.count) bytes of the answer to \(currentCommandName)"))
        case .beforeSending, .breaking, .afterBreak, .finished:
            return .failed(MeterSessionError(.timeout, "internal: timeout outside a wait"))
        }
    }

    private var currentCommandName: String { index < commands.count ? commands[index].description : "the break" }

    private mutating func map(_ action: IECLinkAction) -> MeterSessionStep<IECProgrammingTranscript> {
        switch action {
        case .step(let step): return MeterSessionStep(step)
        case .fail(let error): return .failed(error)
        case .ready:
            phase = .awaiting(.passwordRequest)
            return .receive(line: nil, wait: IECTiming.followingAnswerWait)
        }
    }

    /// Sends `message` after the meter's minimum reaction time.
    private mutating func send(_ message: [UInt8], then next: Awaiting) -> MeterSessionStep<IECProgrammingTranscript> {
        phase = .beforeSending(message: message, next: next)
        return .pause(signOn.identification?.minimumReaction ?? IECTiming.minimumReaction, line: nil)
    }

    private mutating func breakThenFail(_ error: MeterSessionError?) -> MeterSessionStep<IECProgrammingTranscript> {
        signOn.assembler.reset()
        phase = .breaking(error)
        return .transmit(bytes: IECCommandMessage.exit.encoded, line: nil, wait: nil)
    }

    private mutating func nextCommand() -> MeterSessionStep<IECProgrammingTranscript> {
        repeats = 0
        partial = []
        guard index < commands.count else { return breakThenFail(nil) }
        return send(commands[index].encoded, then: .answer)
    }

    private mutating func nextFrame() -> MeterSessionStep<IECProgrammingTranscript> {
        let frame: IECFrame?
        do {
            frame = try signOn.assembler.next()
        } catch .badBlockCheck(let expected, let received, let length) {
            signOn.assembler.reset()
            repeats += 1
            guard repeats <= IECTiming.repeatLimit, case .awaiting(let current) = phase else {
                return breakThenFail(IECFrameError.badBlockCheck(expected: expected, received: received, blockLength: length).sessionError)
            }
            return send([IECCharacter.nak], then: current)
        } catch {
            return breakThenFail(error.sessionError)
        }
        guard let frame else { return .awaitMore }
        let name = signOn.meterName
        if case .block(let b) = frame, b.header == IECCharacter.soh, let command = try? IECCommandMessage.decode(b), command.command == .exit {
            return .failed(MeterSessionError(phase.isPasswordAck ? .security : .aborted,
                                             phase.isPasswordAck ? "\(name) refused the password and ended programming mode"
                                                 : "\(name) ended programming mode (break) during \(currentCommandName)"))
        }
        switch phase {
        case .awaiting(.passwordRequest):
            guard case .block(let b) = frame, b.header == IECCharacter.soh, let command = try? IECCommandMessage.decode(b),
                  command.command == .password else {
                return breakThenFail(MeterSessionError(.malformed, "\(name) sent \(IECSignOn.describe(frame)) instead of its password request"))
            }
            guard command.type == UInt8(ascii: "0") else {
                return breakThenFail(MeterSessionError(.refused, "\(name) asks for password type P\(String(decoding: [command.type], as: UTF8.self)); only P0/P1 is supported"))
            }
            guard let password else { return nextCommand() }
            return send(IECCommandMessage.password(password).encoded, then: .passwordAck)
        case .awaiting(.passwordAck):
            switch frame {
            case .acknowledge:
                return nextCommand()
            case .repeatRequest:
                return repeatLast(IECCommandMessage.password(password ?? []).encoded, then: .passwordAck, what: "the password")
            case .block(let b) where b.header == IECCharacter.stx:
                return breakThenFail(MeterSessionError(.security, "\(name) refused the password: \(Self.errorText(b))"))
            default:
                return breakThenFail(MeterSessionError(.malformed, "\(name) answered the password with \(IECSignOn.describe(frame))"))
            }
        case .awaiting(.answer):
            return answer(frame)
        default:
            return .failed(MeterSessionError(.malformed, "internal: frame outside a wait"))
        }
    }

    private mutating func repeatLast(_ message: [UInt8], then next: Awaiting, what: String) -> MeterSessionStep<IECProgrammingTranscript> {
        repeats += 1
        guard repeats <= IECTiming.repeatLimit else {
            return breakThenFail(MeterSessionError(.refused, "\(signOn.meterName) answered \(what) with NAK \(repeats) times"))
        }
        return send(message, then: next)
    }

    private mutating func answer(_ frame: IECFrame) -> MeterSessionStep<IECProgrammingTranscript> {
        let name = signOn.meterName
        let command = commands[index]
        let isWrite = command.command == .write
        switch frame {
        case .acknowledge where isWrite:
            answers.append(.acknowledged)
            index += 1
            return nextCommand()
        case .repeatRequest:
            return repeatLast(command.encoded, then: .answer, what: command.description)
        case .block(let b) where b.header == IECCharacter.stx:
            if isWrite || Self.isErrorMessage(b) {
                return breakThenFail(MeterSessionError(.refused, "\(name) answered \(command.description) with \(Self.errorText(b))"))
            }
            partial += b.body
            if b.isPartial {
                repeats = 0
                return send([IECCharacter.ack], then: .answer)
            }
            do {
                answers.append(.data(try IECDataBlock.parse(body: partial, readout: false)))
            } catch {
                return breakThenFail(MeterSessionError(.malformed, "answer of \(name) to \(command.description): \(error)"))
            }
            index += 1
            return nextCommand()
        default:
            return breakThenFail(MeterSessionError(.malformed, "\(name) answered \(command.description) with \(IECSignOn.describe(frame))"))
        }
    }

    /// `STX (ERROR) ETX`: one data set with one value, no unit, its text starting with ER (`ERROR`,
    /// `ER04`); the error message's content is manufacturer specific (IEC 62056-21, 6.3, the error message).
    static func isErrorMessage(_ b: IECBlock) -> Bool {
        guard let line = try? IECDataLine.parse(Array(b.body.prefix { $0 != IECCharacter.cr })), line.sets.count == 1,
              line.sets[0].values.count == 1 else { return false }
        let value = line.sets[0].values[0]
        return value.unit == nil && value.text.uppercased().hasPrefix("ER")
    }

    /// The printable text of an error message, at most 40 characters (never a secret: it is the
    /// meter's own text).
    static func errorText(_ b: IECBlock) -> String {
        let text = String(decoding: b.body.filter { (0x20...0x7E).contains($0) }.prefix(40), as: UTF8.self)
        return text.isEmpty ? "an empty message" : "\"\(text)\""
    }
}

private extension IECProgrammingSession.Phase {
    var isPasswordAck: Bool { if case .awaiting(.passwordAck) = self { return true } else { return false } }
}
