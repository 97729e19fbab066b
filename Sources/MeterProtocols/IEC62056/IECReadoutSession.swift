import ConcentratorCore

/// What a data readout gave: who answered, in which mode and at which rate, and the data block.
public struct IECReadout: Hashable, Sendable {
    public var identification: IECIdentification
    public var mode: IECProtocolMode
    /// The rate the data message came at.
    public var baud: Int
    public var data: IECDataBlock

    public init(identification: IECIdentification, mode: IECProtocolMode, baud: Int, data: IECDataBlock) {
        self.identification = identification
        self.mode = mode
        self.baud = baud
        self.data = data
    }
}

/// The data readout of one meter as a `MeterSession` (IEC 62056-21 modes A, B and C):
///
/// 1. `/?ADDR! CR LF` at the sign-on line (300 7E1), answer within `tr` ≤ 1.5 s;
/// 2. the identification `/XXXZ… CR LF`; its `Z` tells the mode:
///    - C: wait the meter's minimum reaction time, send `ACK 0 Z 0 CR LF` (Z: the proposed rate or
///      the profile's limit), pause while it leaves at the old rate, switch;
///    - B: switch to the identified rate at once, send nothing;
///    - A: stay, send nothing;
/// 3. the data message `STX … ! CR LF ETX BCC`, checked and parsed into lines.
///
/// Errors (a `MeterSessionError` for this meter only): no answer or a stalled line (`timeout`), a
/// wrong BCC (`badCheck`), a missing ETX or anything off-protocol (`malformed`).
public struct IECReadoutSession: MeterSession {
    public typealias Outcome = IECReadout

    /// The longest data message accepted.
    public static let blockLimit = 256 * 1024

    private var signOn: IECSignOn
    private var receiving = false

    public init(link: IECLinkOptions) {
        signOn = IECSignOn(options: link, modeControl: IECOptionSelect.readout, blockLimit: Self.blockLimit)
    }

    public mutating func start() -> MeterSessionStep<IECReadout> {
        receiving = false
        return map(signOn.start())
    }

    public mutating func received(_ bytes: [UInt8]) -> MeterSessionStep<IECReadout> {
        guard receiving else { return map(signOn.received(bytes)) }
        signOn.assembler.append(bytes)
        return nextData()
    }

    public mutating func timedOut() -> MeterSessionStep<IECReadout> {
        guard receiving else { return map(signOn.timedOut()) }
        let name = signOn.meterName
        switch signOn.assembler.progress {
        case .nothing:
            return .failed(MeterSessionError(.timeout, "no data message from \(name) at \(signOn.dataLine.summary)"))
        case .block(let n, true):
            return .failed(MeterSessionError(.malformed, "the data message from \(name) ended with ! CR LF after \(n) bytes but no ETX followed"))
        case .block(let n, false), .line(let n), .optionSelect(let n):
            return .failed(MeterSessionError(.timeout, "the line stalled after \(n) bytes of the data message from \(name)"))
        }
    }

    private mutating func map(_ action: IECLinkAction) -> MeterSessionStep<IECReadout> {
        switch action {
        case .step(let step): return MeterSessionStep(step)
        case .fail(let error): return .failed(error)
        case .ready(let switchTo):
            receiving = true
            if !signOn.assembler.buffer.isEmpty {
                let step = nextData()
                if case .awaitMore = step {} else { return step }
            }
            return .receive(line: switchTo, wait: IECTiming.followingAnswerWait)
        }
    }

    private mutating func nextData() -> MeterSessionStep<IECReadout> {
        let frame: IECFrame?
        do { frame = try signOn.assembler.next() } catch { return .failed(error.sessionError) }
        guard let frame else { return .awaitMore }
        guard case .block(let block) = frame, block.header == IECCharacter.stx, !block.isPartial else {
            return .failed(MeterSessionError(.malformed, "\(signOn.meterName) sent \(IECSignOn.describe(frame)) where the data message belongs"))
        }
        do {
            let data = try IECDataBlock.parse(body: block.body, readout: true)
            return .finished(IECReadout(identification: signOn.identification!, mode: signOn.mode!, baud: signOn.dataLine.baud, data: data))
        } catch {
            return .failed(MeterSessionError(.malformed, "data message from \(signOn.meterName): \(error)"))
        }
    }
}
