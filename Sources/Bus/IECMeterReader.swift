import ConcentratorCore
import MeterProtocols
import Platform

/// Reads an IEC 62056-21 meter through the bus owner's port: a data readout (sign-on at the
/// profile's rate, 7E1, then the switched rate in mode C), values by the profile's registers, the
/// clock from the readout's clock lines. A clock beyond the configured threshold is set in
/// programming mode (W1, with the P1 password from the meter's key file). A wrong BCC, a missing
/// ETX or a stalled line is a typed error for this meter; the rest of the bus goes on.
enum IECMeterReader {
    /// The outcome of one session on the bus, with its statistics.
    struct SessionRun<Outcome> {
        var result: Result<Outcome, MeterSessionError>
        var transactions: Int
        var wireMilliseconds: Double
        var portFailure: String?
    }

    /// Runs one IEC session for `meter`, learning its reaction time.
    static func run<S: MeterSession>(_ session: inout S, meter: PolledMeter, bus: BusOwner) -> SessionRun<S.Outcome> {
        let limit = Duration.milliseconds(Int64(meter.timer.responseTimeoutMilliseconds(requestWireMilliseconds: 0).rounded(.up)))
        let runner = MeterSessionRunner(line: bus.line, reactionLimit: limit) { meter.timer.observe(turnaroundMilliseconds: $0) }
        let r = runner.run(&session)
        bus.noteSession(transactions: r.transactions, wireMilliseconds: r.wireMilliseconds)
        return SessionRun(result: r.result, transactions: r.transactions, wireMilliseconds: r.wireMilliseconds, portFailure: r.portFailure)
    }

    /// With `readStatus`, the profile's error-code line becomes the poll's status (alarm rules' flags).
    static func poll(_ meter: PolledMeter, link: IECMeterLink, scope: MeterReadScope, bus: BusOwner, readStatus: Bool = false) -> MeterPoll {
        let wanted = meter.quantities(scope)
        let registers = link.profile.registers.filter { wanted?.contains($0.quantity) ?? true }
        var session = IECReadoutSession(link: link.options)
        let run = run(&session, meter: meter, bus: bus)
        var poll: MeterPoll
        switch run.result {
        case .success(let readout):
            poll = MeterPoll(values: IECValueMapping.values(readout.data, registers: registers))
            if let error = poll.values.lazy.compactMap(\.error).first { poll.valueError = error }
            if readStatus, let spec = link.profile.errorCode { poll.status = IECValueMapping.errorCode(readout.data, spec: spec) }
            if let clock = link.profile.clock, let time = IECValueMapping.meterClock(readout.data, clock: clock) {
                let meterTime = link.zone.timestamp(of: time)
                poll.meterTime = meterTime
                let reading = MeterClockReading(meterTime: meterTime, gatewayTime: bus.clock.now())
                if let threshold = bus.schedule.meterClockThreshold, bus.clockSynchronised(),
                   case .success(let outcome) = setClockIfDrifted(meter, link: link, before: reading, threshold: threshold, bus: bus),
                   let setTo = outcome.setTo {
                    poll.clockSet = MeterClockSetRecord(bus: bus.name, meter: meter.id, before: reading, setTo: setTo,
                                                        after: outcome.after, reason: "threshold", keyIDs: link.profile.passwordID.map { [$0] } ?? [])
                }
            }
        case .failure(let error):
            let code = run.portFailure != nil ? MeterErrorCode.ioError : MeterErrorCode(error)
            poll = MeterPoll(failed: code, quantities: registers.map(\.quantity), detail: run.portFailure ?? error.description)
        }
        poll.transactions += run.transactions
        poll.wireMilliseconds += run.wireMilliseconds
        return poll
    }

    /// The profile's clock lines and the P1 password from the key file (programming mode needs both).
    private static func clockAndPassword(_ meter: PolledMeter, link: IECMeterLink,
                                         bus: BusOwner) -> Result<(IECClockSpec, [UInt8]?), MeterSessionError> {
        guard let clock = link.profile.clock else {
            return .failure(MeterSessionError(.refused, "the profile \(meter.profile.id) declares no clock"))
        }
        return link.password(bus.services).map { (clock, $0) }
    }

    /// Reads the clock in programming mode and sets it (W1) beyond `threshold`; reads it back.
    static func synchroniseClock(_ meter: PolledMeter, link: IECMeterLink, threshold: Duration,
                                 bus: BusOwner) -> Result<DLMSMeterReader.ClockOutcome, MeterSessionError> {
        let clock: IECClockSpec, password: [UInt8]?
        switch clockAndPassword(meter, link: link, bus: bus) {
        case .success(let c): (clock, password) = c
        case .failure(let e): return .failure(e)
        }
        var read = IECSessions.readClock(link: link.options, password: password, clock: clock)
        let time: IECMeterTime
        switch run(&read, meter: meter, bus: bus).result {
        case .success(let t): time = t
        case .failure(let e): return .failure(e)
        }
        let before = MeterClockReading(meterTime: link.zone.timestamp(of: time), gatewayTime: bus.clock.now())
        return setClockIfDrifted(meter, link: link, before: before, threshold: threshold, bus: bus)
    }

    /// Sets the clock (time, then date, with W1) when `before` drifts beyond `threshold`.
    static func setClockIfDrifted(_ meter: PolledMeter, link: IECMeterLink, before: MeterClockReading, threshold: Duration,
                                  bus: BusOwner) -> Result<DLMSMeterReader.ClockOutcome, MeterSessionError> {
        guard abs(before.driftMilliseconds) > max(Int64(threshold.inMilliseconds), 999) else {
            return .success(DLMSMeterReader.ClockOutcome(before: before))
        }
        let clock: IECClockSpec, password: [UInt8]?
        switch clockAndPassword(meter, link: link, bus: bus) {
        case .success(let c): (clock, password) = c
        case .failure(let e): return .failure(e)
        }
        // The time is written after the sign-on and the password exchange (seconds at 300 baud): the
        // session sends the time it is given, so the target is now plus that estimate (about 40
        // characters at the sign-on rate and four reaction times), rounded to the second.
        let reaction = meter.timer.smoothedMilliseconds ?? IECTiming.minimumReaction.inMilliseconds
        let ahead = IECTiming.wireTime(characters: 40, on: link.options.signOnLine).inMilliseconds + 4 * reaction
        let target = Timestamp(seconds: (bus.clock.now().milliseconds + Int64(ahead) + 500) / 1000)
        var set = IECSessions.setClock(link: link.options, password: password, clock: clock, to: link.zone.meterTime(at: target))
        switch run(&set, meter: meter, bus: bus).result {
        case .success: break
        case .failure(let e): return .failure(e)
        }
        var read = IECSessions.readClock(link: link.options, password: password, clock: clock)
        let after = (try? run(&read, meter: meter, bus: bus).result.get()).map {
            MeterClockReading(meterTime: link.zone.timestamp(of: $0), gatewayTime: bus.clock.now())
        }
        return .success(DLMSMeterReader.ClockOutcome(before: before, setTo: target, after: after))
    }
}
