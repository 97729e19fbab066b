#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CPlatform

/// A mutex with a condition variable, for dedicated threads that wait for work.
/// Blocking waits belong on dedicated threads only, never on Swift's cooperative pool.
public final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    public init() {
        pthread_mutex_init(mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        #if os(Linux)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        #endif
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        cond.deallocate()
    }

    public func lock() { pthread_mutex_lock(mutex) }
    public func unlock() { pthread_mutex_unlock(mutex) }

    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Wakes every waiter. Call with or without the lock held.
    public func broadcast() { pthread_cond_broadcast(cond) }
    public func signal() { pthread_cond_signal(cond) }

    /// Waits (lock held) until signalled. Spurious wake-ups happen: re-check the predicate.
    public func wait() { pthread_cond_wait(cond, mutex) }

    /// Waits (lock held) at most `duration`. Returns false on timeout.
    @discardableResult
    public func wait(for duration: Duration) -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let (secs, attos) = duration.components
        let extraNanos = Int(attos / 1_000_000_000)
        var deadline = timespec(tv_sec: now.tv_sec + Int(max(0, secs)), tv_nsec: now.tv_nsec + max(0, extraNanos))
        if deadline.tv_nsec >= 1_000_000_000 {
            deadline.tv_sec += 1
            deadline.tv_nsec -= 1_000_000_000
        }
        return pthread_cond_timedwait(cond, mutex, &deadline) == 0
    }
}

/// Starts an operating-system thread that runs one closure. Used for each bus owner, the archive
/// writer and other loops that make blocking calls.
public enum DedicatedThread {
    private final class Box {
        let name: String
        let body: () -> Void
        init(name: String, body: @escaping () -> Void) {
            self.name = name
            self.body = body
        }
    }

    /// Starts `body` on a new detached thread named `name` (the first 15 bytes show in `top -H`).
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) {
        let tag = ThreadLedger.currentTag
        if let tag { ThreadLedger.count(tag, +1) }
        var tagged = body
        if let tag {
            tagged = {
                ThreadLedger.currentTag = tag
                body()
                ThreadLedger.count(tag, -1)
            }
        }
        let box = Unmanaged.passRetained(Box(name: name, body: tagged)).toOpaque()
        var thread = pthread_t()
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        // 512 KiB is plenty for our loops and keeps the footprint small with many buses.
        pthread_attr_setstacksize(&attr, 512 * 1024)
        let rc = pthread_create(&thread, &attr, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            cplatform_set_thread_name(box.name)
            box.body()
            return nil
        }, box)
        pthread_attr_destroy(&attr)
        precondition(rc == 0, "pthread_create failed with \(rc)")
    }

    /// Runs blocking `body` on a new thread named `name` and awaits its result: how async code does
    /// blocking work (a query, a file) without holding a thread of the cooperative pool.
    public static func run<T: Sendable>(name: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            start(name: name) { continuation.resume(with: Result { try body() }) }
        }
    }
}

/// A dedicated thread that runs submitted jobs one at a time, in order. Async callers await the
/// result without blocking the cooperative pool. The archive's single writer is one of these.
public final class SerialWorker: @unchecked Sendable {
    private let lock = ConditionLock()
    private var jobs: [() -> Void] = []
    private var stopped = false
    public let name: String

    public init(name: String) {
        self.name = name
        DedicatedThread.start(name: name) { [self] in run() }
    }

    private func run() {
        while true {
            lock.lock()
            while jobs.isEmpty && !stopped { lock.wait() }
            if jobs.isEmpty && stopped {
                lock.unlock()
                return
            }
            let job = jobs.removeFirst()
            lock.unlock()
            job()
        }
    }

    /// Queues `job` without waiting for it.
    public func enqueue(_ job: @escaping @Sendable () -> Void) {
        lock.withLock {
            jobs.append(job)
        }
        lock.signal()
    }

    /// Runs `job` on the worker thread and returns its result.
    public func run<T: Sendable>(_ job: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            enqueue {
                do { continuation.resume(returning: try job()) } catch { continuation.resume(throwing: error) }
            }
        }
    }

    /// Runs `job` on the worker thread and blocks the calling (dedicated) thread until it is done.
    @available(*, noasync, message: "blocks its thread; await run(_:) instead")
    public func runBlocking<T>(_ job: @escaping () throws -> T) throws -> T {
        let slot = OneShot<Result<T, any Error>>()
        nonisolated(unsafe) let unsafeJob = job
        enqueue { slot.set(Result { try unsafeJob() }) }
        return try slot.wait().get()
    }

    /// Lets queued jobs finish, then ends the thread.
    public func stop() {
        lock.withLock { stopped = true }
        lock.broadcast()
    }
}

/// Runs async work and blocks the calling dedicated thread until it is done. Never call it from
/// async code or the cooperative pool (it would hold a pool thread while the work needs one): the
/// compiler refuses it there.
@available(*, noasync, message: "blocks its thread; await the work instead")
public func waitForAsync<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
    let slot = OneShot<T>()
    Task { slot.set(await body()) }
    return slot.wait()
}

/// Counts the dedicated threads started under a tag, and by the threads those started: how a test
/// checks that a component leaves no thread behind while other tests run threads of the same names.
/// Untagged threads (production) cost one thread-local read at start.
public enum ThreadLedger {
    private static let counts = Locked<[String: Int]>([:])
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, { raw in if let raw { Unmanaged<NSStringBox>.fromOpaque(raw).release() } })
        return key
    }()

    private final class NSStringBox {
        let value: String
        init(_ value: String) { self.value = value }
    }

    /// The calling thread's tag.
    static var currentTag: String? {
        get { pthread_getspecific(key).map { Unmanaged<NSStringBox>.fromOpaque($0).takeUnretainedValue().value } }
        set {
            if let old = pthread_getspecific(key) { Unmanaged<NSStringBox>.fromOpaque(old).release() }
            pthread_setspecific(key, newValue.map { Unmanaged.passRetained(NSStringBox($0)).toOpaque() })
        }
    }

    static func count(_ tag: String, _ delta: Int) { counts.withLock { $0[tag, default: 0] += delta } }

    /// Runs `body` on the calling thread with `tag`: every dedicated thread it starts (directly or
    /// through the threads it starts) is counted under `tag` while it lives.
    public static func tagging<T>(_ tag: String, _ body: () throws -> T) rethrows -> T {
        let previous = currentTag
        currentTag = tag
        defer { currentTag = previous }
        return try body()
    }

    /// Dedicated threads started under `tag` that are still running.
    public static func live(_ tag: String) -> Int { counts.withLock { $0[tag] ?? 0 } }
}
