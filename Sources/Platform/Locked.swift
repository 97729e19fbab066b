import Synchronization

/// A value shared by reference between threads and closures, behind the project's one lock
/// (`Synchronization.Mutex`; a `Mutex` cannot itself be captured by an escaping closure). Use a
/// `Mutex` directly as a stored property; use this where closures share the value. Waiting for a
/// value is `OneShot`'s job, waiting for work a `ConditionLock`'s.
public final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    public init(_ value: Value) { mutex = Mutex(value) }

    /// Runs `body` with the value, exclusively.
    public func withLock<Result: Sendable>(_ body: (inout Value) -> Result) -> Result {
        mutex.withLock { value in body(&value) }
    }

    /// The value now (a copy).
    public var value: Value {
        get { mutex.withLock { $0 } }
        set { mutex.withLock { $0 = newValue } }
    }
}
