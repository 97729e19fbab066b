import ConcentratorCore
import Platform

/// Order in which the bus owner serves its work. Lower runs first; equal priorities run in order
/// of arrival. Work is done in steps (one meter, one scan address), so an urgent read waits at
/// most one step.
public enum BusTaskPriority: Int, Comparable, Sendable {
    /// On-demand work from the CLI, console or head-end: it jumps the queue.
    case urgent = 0
    /// Scheduled interval snapshots.
    case snapshot = 1
    /// Bus scans.
    case scan = 2
    /// The fast live cadence.
    case live = 3

    public static func < (a: BusTaskPriority, b: BusTaskPriority) -> Bool { a.rawValue < b.rawValue }
}

/// One piece of work for the bus owner, run one step at a time on the bus thread.
protocol BusTask: AnyObject {
    var priority: BusTaskPriority { get }
    /// Runs one step. Returns true when the task is finished.
    func step(_ bus: BusOwner) -> Bool
    /// Called instead of further steps when the task is abandoned (shutdown, deadline).
    func abandon(_ error: BusError)
}

/// A result handed from the bus thread to a waiting caller, with a start deadline: work that has
/// not started by then is abandoned with `busBusy`.
final class PendingResult<T>: @unchecked Sendable {
    private let lock = ConditionLock()
    private var result: Result<T, BusError>?
    private var started = false

    func markStarted() -> Bool {
        lock.withLock {
            if result != nil { return false }
            started = true
            return true
        }
    }

    func finish(_ r: Result<T, BusError>) {
        lock.withLock { if result == nil { result = r } }
        lock.broadcast()
    }

    /// Waits for the result. If the work has not started within `startDeadline`, gives up.
    func wait(startDeadline: Duration, bus: BusName) -> Result<T, BusError> {
        let begin = ContinuousClock.now
        lock.lock()
        defer { lock.unlock() }
        while result == nil {
            if !started {
                let waited = ContinuousClock.now - begin
                if waited >= startDeadline {
                    result = .failure(.busBusy(bus, waitedMilliseconds: Int(waited.inMilliseconds)))
                    break
                }
                lock.wait(for: startDeadline - waited)
            } else {
                lock.wait()
            }
        }
        return result!
    }
}
