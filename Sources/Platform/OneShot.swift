#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one one-shot result: a value that one side sets once and others wait for, from a dedicated
/// thread (with or without a timeout) or from async code. Later `set`s are ignored, so "whichever
/// comes first" (a result or a timeout, a thread's exit or a deadline) needs no extra flag.
public final class OneShot<Value>: @unchecked Sendable {
    private let lock = ConditionLock()
    private var stored: Value?
    /// Async waiters, resumed once the value is set (they read it then).
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init() {}

    /// Sets the value, unless it is set already. Returns whether this call set it.
    @discardableResult
    public func set(_ value: Value) -> Bool {
        let waiting: [CheckedContinuation<Void, Never>]? = lock.withLock {
            guard stored == nil else { return nil }
            stored = value
            defer { waiters = [] }
            return waiters
        }
        guard let waiting else { return false }
        lock.broadcast()
        for c in waiting { c.resume() }
        return true
    }

    /// The value, if it is set (never waits).
    public var current: Value? { lock.withLock { stored } }

    /// Waits for the value. Blocks the calling thread: never from async code.
    @available(*, noasync, message: "blocks its thread; await value() instead")
    public func wait() -> Value {
        lock.lock()
        defer { lock.unlock() }
        while stored == nil { lock.wait() }
        return stored!
    }

    /// Waits at most `timeout` for the value; nil when it was not set in time. Blocks the calling
    /// thread: never from async code.
    @available(*, noasync, message: "blocks its thread; await value() instead")
    public func wait(timeout: Duration) -> Value? {
        let deadline = ContinuousClock.now + timeout
        lock.lock()
        defer { lock.unlock() }
        while stored == nil {
            let left = deadline - ContinuousClock.now
            if left <= .zero { return nil }
            lock.wait(for: left)
        }
        return stored
    }
}

extension OneShot where Value: Sendable {
    /// Suspends until the value is set.
    public func value() async -> Value {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let ready = lock.withLock { () -> Bool in
                if stored != nil { return true }
                waiters.append(c)
                return false
            }
            if ready { c.resume() }
        }
        return lock.withLock { stored! }
    }
}
