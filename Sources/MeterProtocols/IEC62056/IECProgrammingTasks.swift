import ConcentratorCore

/// A programming-mode session whose transcript is turned into a typed outcome (or a failure) at the
/// end. The building block of the load-profile, clock-read and clock-set sessions.
public struct IECProgrammingTask<Outcome>: MeterSession {
    private var base: IECProgrammingSession
    /// A reason to fail before anything is sent.
    private let refusal: MeterSessionError?
    private let interpret: (IECProgrammingTranscript) -> Result<Outcome, MeterSessionError>

    init(base: IECProgrammingSession, refusal: MeterSessionError? = nil,
         interpret: @escaping (IECProgrammingTranscript) -> Result<Outcome, MeterSessionError>) {
        self.base = base
        self.refusal = refusal
        self.interpret = interpret
    }

    public mutating func start() -> MeterSessionStep<Outcome> {
        if let refusal { return .failed(refusal) }
        return map(base.start())
    }
    public mutating func received(_ bytes: [UInt8]) -> MeterSessionStep<Outcome> { map(base.received(bytes)) }
    public mutating func timedOut() -> MeterSessionStep<Outcome> { map(base.timedOut()) }

    private func map(_ step: MeterSessionStep<IECProgrammingTranscript>) -> MeterSessionStep<Outcome> {
        switch step {
        case .transmit(let bytes, let line, let wait): return .transmit(bytes: bytes, line: line, wait: wait)
        case .awaitMore: return .awaitMore
        case .receive(let line, let wait): return .receive(line: line, wait: wait)
        case .pause(let d, let line): return .pause(d, line: line)
        case .failed(let e): return .failed(e)
        case .finished(let transcript):
            switch interpret(transcript) {
            case .success(let outcome): return .finished(outcome)
            case .failure(let error): return .failed(error)
            }
        }
    }
}

/// The sessions the bus owner runs in programming mode, built from a meter's profile.
public enum IECSessions {
    /// Reads the P.01 load profile from `from` to `to` (nil: to the newest entry) with
    /// `R5 P.01(from;to)` (or the profile's command and range format).
    public static func loadProfile(link: IECLinkOptions, password: [UInt8]?, spec: IECLoadProfileSpec,
                                   from: IECMeterTime, to: IECMeterTime?) -> IECProgrammingTask<IECLoadProfile> {
        let range = IECTimeText.formatRangeBound(from, spec.rangeFormat) + ";" + (to.map { IECTimeText.formatRangeBound($0, spec.rangeFormat) } ?? "")
        let command = IECCommandMessage(spec.readCommand, data: spec.obis + "(" + range + ")")
        let code = (try? OBISCode.parse(spec.obis)) ?? OBISCode(c: 99, d: 1)
        let session = IECProgrammingSession(link: link, password: password, commands: [command])
        return IECProgrammingTask(base: session) { transcript in
            guard case .data(let block)? = transcript.answers.first else {
                return .failure(MeterSessionError(.malformed, "no data message for \(command.description)"))
            }
            do { return .success(try IECLoadProfile.decode(block, code: code)) } catch {
                return .failure(MeterSessionError(.malformed, "load profile answer: \(error)"))
            }
        }
    }

    /// Reads the clock with two reads (date, then time, as the LEM EM4TII+ manual §4.2.9 shows) in
    /// programming mode: `R5 0.9.2()`, `R5 0.9.1()`.
    public static func readClock(link: IECLinkOptions, password: [UInt8]?, clock: IECClockSpec,
                                 command: IECCommandType = .r5) -> IECProgrammingTask<IECMeterTime> {
        let commands = [IECCommandMessage(command, data: clock.dateOBIS + "()"), IECCommandMessage(command, data: clock.timeOBIS + "()")]
        let session = IECProgrammingSession(link: link, password: password, commands: commands)
        return IECProgrammingTask(base: session) { transcript in
            guard transcript.answers.count == 2, case .data(let d) = transcript.answers[0], case .data(let t) = transcript.answers[1],
                  let time = t.sets.first?.values.first?.text, let date = d.sets.first?.values.first?.text else {
                return .failure(MeterSessionError(.malformed, "the clock reads did not each return one value"))
            }
            guard let reading = IECTimeText.meterTime(time: time, clock.timeFormat, date: date, clock.dateFormat) else {
                return .failure(MeterSessionError(.malformed, "the meter's clock \"\(date) \(time)\" is not \(clock.dateFormat.rawValue) \(clock.timeFormat.rawValue)"))
            }
            return .success(reading)
        }
    }

    /// Sets the clock to `time` with two writes (time first, then date: the date is then written
    /// at the new time of day), e.g. `W1 0.9.1(hhmmss)`, `W1 0.9.2(YYMMDD)`. Fails at once for a
    /// time in the last 10 s of a day (the meter could roll the date between the two writes), for a
    /// profile without a clock write, or without a password.
    public static func setClock(link: IECLinkOptions, password: [UInt8]?, clock: IECClockSpec,
                                to time: IECMeterTime) -> IECProgrammingTask<IECMeterTime> {
        let write = clock.writeCommand ?? .w1
        let commands = [IECCommandMessage(write, data: clock.timeOBIS + "(" + IECTimeText.formatTime(time, clock.timeFormat) + ")"),
                        IECCommandMessage(write, data: clock.dateOBIS + "(" + IECTimeText.formatDate(time, clock.dateFormat) + ")")]
        let refusal: MeterSessionError? = if clock.writeCommand == nil {
            MeterSessionError(.refused, "the profile has no clock write for this meter")
        } else if password == nil {
            MeterSessionError(.security, "setting the clock needs the programming password, and none is configured")
        } else if time.civil.hour == 23 && time.civil.minute == 59 && time.civil.second >= 50 {
            MeterSessionError(.refused, "the clock is not set in the last 10 s of a day (\(time)); retry after midnight")
        } else { nil }
        let session = IECProgrammingSession(link: link, password: password, commands: commands)
        return IECProgrammingTask(base: session, refusal: refusal) { transcript in
            guard transcript.answers == [.acknowledged, .acknowledged] else {
                return .failure(MeterSessionError(.malformed, "the clock writes were not both acknowledged"))
            }
            return .success(time)
        }
    }
}
