import ConcentratorCore
import MeterProtocols

/// Runs a `MeterSession` as the bus owner would, against a function that plays the line: every
/// write returns the bytes the line sends back. The answer is fed in chunks of `chunk` bytes; when
/// the session still waits after the last chunk, its wait runs out (`timedOut`). Bytes a session
/// did not take before finishing a step stay on the line and arrive before the next answer.
public enum MeterSessionDriver {
    public struct Run<Outcome> {
        public var result: Result<Outcome, MeterSessionError>
        /// Every write, in order.
        public var written: [[UInt8]]
        /// Line settings the session asked for, in order.
        public var lineSwitches: [LineSettings]
        public var timeouts: Int
    }

    public static func run<S: MeterSession>(_ session: inout S, chunk: Int = Int.max, maxSteps: Int = 200_000,
                                            respond: ([UInt8]) -> [UInt8]) -> Run<S.Outcome> {
        var written: [[UInt8]] = []
        var lines: [LineSettings] = []
        var timeouts = 0
        var pending: [UInt8] = []
        var step = session.start()
        for _ in 0..<maxSteps {
            var answer: [UInt8]
            switch step {
            case .finished(let outcome):
                return Run(result: .success(outcome), written: written, lineSwitches: lines, timeouts: timeouts)
            case .failed(let error):
                return Run(result: .failure(error), written: written, lineSwitches: lines, timeouts: timeouts)
            case .transmit(let bytes, let line, let wait):
                if let line { lines.append(line) }
                written.append(bytes)
                answer = pending + respond(bytes)
                pending = []
                if wait == nil {
                    pending = answer
                    step = session.received([])
                    continue
                }
            case .receive(let line, _):
                if let line { lines.append(line) }
                answer = pending
                pending = []
            case .pause(_, let line):
                if let line { lines.append(line) }
                step = session.received([])
                continue
            case .awaitMore:
                answer = []
            }
            var next: MeterSessionStep<S.Outcome>?
            var position = 0
            while position < answer.count {
                let end = min(answer.count, position + max(1, chunk))
                let s = session.received(Array(answer[position..<end]))
                position = end
                if case .awaitMore = s { continue }
                next = s
                break
            }
            if position < answer.count { pending = Array(answer[position...]) }
            if let next {
                step = next
            } else {
                timeouts += 1
                step = session.timedOut()
            }
        }
        return Run(result: .failure(MeterSessionError(.aborted, "the session did not finish in \(maxSteps) steps")),
                   written: written, lineSwitches: lines, timeouts: timeouts)
    }
}
