import ConcentratorCore
import Platform
import Synchronization

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
    /// Intervals missing in the archive, read back from meters' own load profiles (one block or
    /// one day per step).
    case backfill = 3
    /// The fast live cadence.
    case live = 4

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
final class PendingResult<T>: Sendable {
    private let result = OneShot<Result<T, BusError>>()
    /// Whether the bus thread began the work; decided against the deadline under this lock.
    private let started = Mutex(false)

    /// Called by the bus thread before it starts; false when the caller already gave up.
    func markStarted() -> Bool {
        started.withLock { started in
            if result.current != nil { return false }
            started = true
            return true
        }
    }

    func finish(_ r: Result<T, BusError>) { result.set(r) }

    /// Waits for the result. If the work has not started within `startDeadline`, gives up.
    func wait(startDeadline: Duration, bus: BusName) -> Result<T, BusError> {
        let begin = ContinuousClock.now
        if let r = result.wait(timeout: startDeadline) { return r }
        started.withLock { started in
            guard !started else { return }
            result.set(.failure(.busBusy(bus, waitedMilliseconds: Int((ContinuousClock.now - begin).inMilliseconds))))
        }
        return result.wait()
    }
}
