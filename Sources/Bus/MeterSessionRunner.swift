import ConcentratorCore
import MeterProtocols
import Platform

/// What running one `MeterSession` on the bus gave.
struct MeterSessionRun<Outcome> {
    var result: Result<Outcome, MeterSessionError>
    /// Requests written.
    var transactions = 0
    /// The emulated wire time of every byte written and read, in milliseconds.
    var wireMilliseconds = 0.0
    /// Set when the port failed (it is closed and reopened by the next transaction).
    var portFailure: String?

    init(result: Result<Outcome, MeterSessionError>) { self.result = result }
}

/// Runs any `MeterSession` (IEC 62056-21, DLMS/COSEM over HDLC, …) on the bus owner's port, on the
/// bus thread (DESIGN rule 1): it switches the line when a step names one (through
/// `SerialPort.apply`, with 7E1 carried as 8N1 plus software parity where the port refuses it),
/// writes without draining (the sessions account for the wire time), reads under the step's
/// first-byte and inter-character deadlines, pauses, and feeds back what happened. libmodbus keeps
/// working on the same descriptor: `BusLine.modbusMaster()` puts the bus's own line back.
struct MeterSessionRunner {
    let line: BusLine
    /// Whether a step's first-byte wait leaves out the request's own wire time (DLMS: the runner
    /// adds it) or includes it (IEC 62056-21's waits are computed from what was sent).
    var waitExcludesRequest = false
    /// The meter's learned reaction limit: no first-byte wait is longer than the request's wire
    /// time plus this (a dead meter costs its learned timeout, not the protocol's maximum).
    var reactionLimit: Duration?
    /// Called with each measured turnaround in milliseconds (request end to the answer's first byte).
    var observe: (Double) -> Void = { _ in }

    init(line: BusLine, waitExcludesRequest: Bool = false, reactionLimit: Duration? = nil,
         observe: @escaping (Double) -> Void = { _ in }) {
        self.line = line
        self.waitExcludesRequest = waitExcludesRequest
        self.reactionLimit = reactionLimit
        self.observe = observe
    }

    func run<S: MeterSession>(_ session: inout S) -> MeterSessionRun<S.Outcome> {
        if let error = line.ensureOpen() {
            var run = MeterSessionRun<S.Outcome>(result: .failure(MeterSessionError(.aborted, "the port is unavailable")))
            run.portFailure = error.description
            return run
        }
        var stats = MeterSessionRun<S.Outcome>(result: .failure(MeterSessionError(.aborted, "not run")))
        line.waitForSilence()
        var step = session.start()
        var gap = Duration.seconds(1)
        while true {
            guard let port = line.port else {
                stats.result = .failure(MeterSessionError(.aborted, "the port failed"))
                stats.portFailure = stats.portFailure ?? "the port closed"
                return stats
            }
            switch step {
            case .transmit(let bytes, let settings, let wait):
                if let settings, let failure = switchLine(port, to: settings, &stats) { return failure }
                let requestWire = Duration.microseconds(Int64(port.line.wireMicroseconds(characters: bytes.count).rounded(.up)))
                let written = ContinuousClock.now
                if let code = port.writeAll(port.wireBytes(for: bytes)) { return portFailed(code, "write", &stats) }
                stats.transactions += 1
                stats.wireMilliseconds += requestWire.inMilliseconds
                guard let wait else {
                    step = session.received([])
                    continue
                }
                gap = wait.interCharacterGap
                step = answer(&session, port: port, firstByteWithin: firstByteDeadline(wait, requestWire: requestWire),
                              measuredFrom: written, requestWire: requestWire, stats: &stats)
            case .receive(let settings, let wait):
                if let settings, let failure = switchLine(port, to: settings, &stats) { return failure }
                gap = wait.interCharacterGap
                step = answer(&session, port: port, firstByteWithin: firstByteDeadline(wait, requestWire: .zero),
                              measuredFrom: nil, requestWire: .zero, stats: &stats)
            case .awaitMore:
                step = read(&session, port: port, within: gap, stats: &stats)
            case .pause(let duration, let settings):
                sleepThread(duration)
                if let settings, let failure = switchLine(port, to: settings, &stats) { return failure }
                step = session.received([])
            case .finished(let outcome):
                line.markFrameEnd()
                stats.result = .success(outcome)
                return stats
            case .failed(let error):
                if stats.portFailure == nil { line.flushInput() }
                line.markFrameEnd()
                stats.result = .failure(error)
                return stats
            }
        }
    }

    private func firstByteDeadline(_ wait: AnswerWait, requestWire: Duration) -> Duration {
        let asked = waitExcludesRequest ? requestWire + wait.firstByteWithin : wait.firstByteWithin
        guard let reactionLimit else { return asked }
        return min(asked, requestWire + reactionLimit)
    }

    /// Reads the first part of an answer and, after a request, measures the meter's turnaround.
    private func answer<S: MeterSession>(_ session: inout S, port: SerialPort, firstByteWithin: Duration,
                                         measuredFrom written: ContinuousClock.Instant?, requestWire: Duration,
                                         stats: inout MeterSessionRun<S.Outcome>) -> MeterSessionStep<S.Outcome> {
        let result = port.readAvailable(within: firstByteWithin)
        if case .bytes = result, let written {
            // The first byte has been on the wire for one character time when it is readable.
            let elapsed = (ContinuousClock.now - written).inMilliseconds
            observe(elapsed - requestWire.inMilliseconds - port.line.characterMicroseconds / 1000)
        }
        return deliver(result, &session, port: port, stats: &stats)
    }

    private func read<S: MeterSession>(_ session: inout S, port: SerialPort, within limit: Duration,
                                       stats: inout MeterSessionRun<S.Outcome>) -> MeterSessionStep<S.Outcome> {
        deliver(port.readAvailable(within: limit), &session, port: port, stats: &stats)
    }

    private func deliver<S: MeterSession>(_ result: SerialReadResult, _ session: inout S, port: SerialPort,
                                          stats: inout MeterSessionRun<S.Outcome>) -> MeterSessionStep<S.Outcome> {
        switch result {
        case .timedOut:
            line.markFrameEnd()
            return session.timedOut()
        case .failed(let code):
            _ = portFailed(code, "read", &stats)
            return .failed(MeterSessionError(.aborted, "the port failed while reading"))
        case .bytes(let raw):
            stats.wireMilliseconds += port.line.wireMicroseconds(characters: raw.count) / 1000
            line.markFrameEnd()
            do {
                return session.received(try port.characters(fromWire: raw))
            } catch {
                return .failed(MeterSessionError(error))
            }
        }
    }

    private func switchLine<Outcome>(_ port: SerialPort, to settings: LineSettings,
                                     _ stats: inout MeterSessionRun<Outcome>) -> MeterSessionRun<Outcome>? {
        guard port.line != settings else { return nil }
        do {
            try port.apply(settings)
            return nil
        } catch {
            stats.result = .failure(MeterSessionError(.malformed, "the port refused \(settings.summary): \(error.detail)"))
            line.markFrameEnd()
            return stats
        }
    }

    private func portFailed<Outcome>(_ code: Int32, _ operation: String, _ stats: inout MeterSessionRun<Outcome>) -> MeterSessionRun<Outcome> {
        let reason = "\(operation): \(SerialPortError.fromErrno(code, path: line.settings.device, operation: operation).detail)"
        line.portFailed(reason)
        stats.portFailure = reason
        stats.result = .failure(MeterSessionError(.aborted, "the port failed (\(reason))"))
        return stats
    }
}
