import ConcentratorCore
import MeterProtocols
import Platform

/// A `MeterSession` that reports its inner session's progress after every answer or timeout (the
/// secondary search is one long session; the console draws its bar from these reports).
struct ProgressReportingSession<Inner: MeterSession>: MeterSession {
    typealias Outcome = Inner.Outcome
    var inner: Inner
    let report: (Inner) -> Void

    mutating func start() -> MeterSessionStep<Outcome> { inner.start() }

    mutating func received(_ bytes: [UInt8]) -> MeterSessionStep<Outcome> {
        let step = inner.received(bytes)
        report(inner)
        return step
    }

    mutating func timedOut() -> MeterSessionStep<Outcome> {
        let step = inner.timedOut()
        report(inner)
        return step
    }
}

/// The wired M-Bus secondary-address search (EN 13757-3 §11.5 wildcard tree, every hex digit) on
/// the bus owner's port, as one scan task: each find is named by the installed M-Bus profile whose
/// manufacturer, version and medium fit; two slaves that still collide with everything given are
/// reported as garbled for the installer.
final class MBusScanTask: BusTask {
    let priority = BusTaskPriority.scan
    private let profiles: [MeterProfile]
    private let progress: @Sendable (ScanProgress) -> Void
    private let cancellation: ActionCancellation
    let pending = PendingResult<[ScanHit]>()

    init(profiles: [MeterProfile], cancellation: ActionCancellation, progress: @escaping @Sendable (ScanProgress) -> Void) {
        self.profiles = profiles.filter { $0.protocolKind == .mbus && $0.mbus != nil }
        self.cancellation = cancellation
        self.progress = progress
    }

    func step(_ bus: BusOwner) -> Bool {
        guard pending.markStarted() else { return true }
        if let error = bus.line.ensureOpen(retryNow: true) {
            pending.finish(.failure(.portUnavailable(bus.name, error.description)))
            return true
        }
        let progress = self.progress
        var session = ProgressReportingSession(inner: MBusSecondaryScanSession(options: MBusSessionOptions(line: bus.settings.line))) { s in
            let p = s.progress
            progress(ScanProgress(address: 0, done: Int((p.fractionDone * 1000).rounded(.down)), total: 1000, found: p.found))
        }
        let run = MeterSessionRunner(line: bus.line).run(&session)
        if let failure = run.portFailure {
            pending.finish(.failure(.portUnavailable(bus.name, failure)))
            return true
        }
        switch run.result {
        case .success(let result):
            var hits = result.found.map { identity -> ScanHit in
                let profile = profiles.first { $0.mbus!.matches(identity) }
                return ScanHit(address: 0, profile: profile?.id, detail: "M-Bus \(identity)",
                               verdict: profile.map { ScanTask.modelName($0.name) } ?? "unknown model (\(identity))",
                               protocolKind: .mbus, deviceAddress: MBusSecondaryAddress(exactly: identity).description)
            }
            hits += result.unresolved.map {
                ScanHit(address: 0, detail: "several slaves answer to \($0) with the same id, version and medium",
                        verdict: "garbled: collision", garbled: true, protocolKind: .mbus, deviceAddress: $0.description)
            }
            progress(ScanProgress(address: 0, done: 1000, total: 1000, found: result.found.count))
            pending.finish(.success(hits))
        case .failure(let e):
            pending.finish(.failure(.transaction(MeterID("mbus-scan"), MeterErrorCode(e))))
        }
        return true
    }

    func abandon(_ error: BusError) { pending.finish(.failure(error)) }
}

extension BusOwner {
    /// Searches the wired M-Bus loop for secondary addresses and names each find's model from
    /// `profiles`. Blocking; `progress` reports the share of the address space searched (of 1000).
    public func scanMBusSecondary(profiles: [MeterProfile], cancellation: ActionCancellation = ActionCancellation(),
                                  progress: @escaping @Sendable (ScanProgress) -> Void = { _ in }) -> Result<[ScanHit], BusError> {
        let task = MBusScanTask(profiles: profiles, cancellation: cancellation, progress: progress)
        enqueue(task)
        return task.pending.wait(startDeadline: .seconds(3600), bus: name)
    }
}
