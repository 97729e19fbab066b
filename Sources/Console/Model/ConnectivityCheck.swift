import Platform

/// The result of one step of the uplink connectivity test.
public enum StepOutcome: Hashable, Sendable {
    case passed(String)
    /// What happened and what to check.
    case failed(String, check: String)
    /// Not applicable with these settings (TLS off).
    case skipped(String)
    /// This build or this situation cannot run the step (said plainly, never counted as passed).
    case unavailable(String)
}

/// One step: a name and the work, which may be cancelled with Ctrl-C.
public struct ConnectivityStep: Sendable {
    public let name: String
    public let run: @Sendable (ActionCancellation) -> StepOutcome

    public init(name: String, run: @escaping @Sendable (ActionCancellation) -> StepOutcome) {
        self.name = name
        self.run = run
    }
}

/// Runs connectivity steps in order. The first failure stops the test: later steps cannot mean
/// anything without it, and are reported as not run.
public enum ConnectivityCheck {
    /// One step's name and outcome.
    public struct Result: Hashable, Sendable {
        public var name: String
        /// nil: not run.
        public var outcome: StepOutcome?
    }

    public static func run(_ steps: [ConnectivityStep], cancellation: ActionCancellation,
                           report: (Int, String, StepOutcome?) -> Void = { _, _, _ in }) -> [Result] {
        var results: [Result] = []
        var stopped = false
        for (index, step) in steps.enumerated() {
            if stopped || cancellation.isCancelled {
                results.append(Result(name: step.name, outcome: nil))
                report(index, step.name, nil)
                continue
            }
            let outcome = step.run(cancellation)
            results.append(Result(name: step.name, outcome: outcome))
            report(index, step.name, outcome)
            if case .failed = outcome { stopped = true }
        }
        return results
    }

    /// The lines for one step: `[ ok ] 1 name resolution  broker.example -> 192.0.2.7`, then for
    /// a failure the problem and `check: ...` indented below.
    public static func lines(index: Int, name: String, outcome: StepOutcome?) -> [String] {
        let head = "\(index + 1) \(name)"
        switch outcome {
        case .passed(let detail): return ["[ ok ] \(head): \(detail)"]
        case .failed(let detail, let check): return ["[FAIL] \(head): \(detail)", "       check: \(check)"]
        case .skipped(let why): return ["[skip] \(head): \(why)"]
        case .unavailable(let why): return ["[ -- ] \(head): \(why)"]
        case nil: return ["[ -- ] \(head): not run"]
        }
    }
}
