#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CPlatform
import ConcentratorCore
import Synchronization

/// The operating system's real-time clock.
public struct SystemClock: WallClock {
    public init() {}

    public func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(milliseconds: Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000)
    }

    public func realDuration(ofMilliseconds milliseconds: Int64) -> Duration { .milliseconds(milliseconds) }
}

/// A clock that starts at `origin` and runs `rate` times faster than real time. Tests and the demo
/// use it to reach interval boundaries in seconds (`concentrator run --clock-origin … --clock-rate …`).
public struct AcceleratedClock: WallClock {
    public let origin: Timestamp
    public let rate: Double
    private let realStart: ContinuousClock.Instant

    public init(origin: Timestamp, rate: Double) {
        precondition(rate > 0, "clock rate must be positive")
        self.origin = origin
        self.rate = rate
        realStart = ContinuousClock.now
    }

    public func now() -> Timestamp {
        let elapsed = ContinuousClock.now - realStart
        let (s, atto) = elapsed.components
        let realMs = Double(s) * 1000 + Double(atto) / 1e15
        return origin.adding(milliseconds: Int64(realMs * rate))
    }

    public func realDuration(ofMilliseconds milliseconds: Int64) -> Duration {
        .microseconds(Int64(Double(milliseconds) * 1000 / rate))
    }
}

/// A wall clock that can be stepped while it runs, as a bad RTC or a wrong NTP answer would: the
/// agent's clock under `CONCENTRATOR_TEST_HOOKS=1`, stepped by the control operation `test.clock-step`.
public final class SteppableClock: WallClock, Sendable {
    public let base: any WallClock
    private let offset = Atomic<Int64>(0)

    public init(base: any WallClock) { self.base = base }

    public func now() -> Timestamp { base.now().adding(milliseconds: offset.load(ordering: .relaxed)) }
    public func realDuration(ofMilliseconds milliseconds: Int64) -> Duration { base.realDuration(ofMilliseconds: milliseconds) }

    /// Moves the clock by `milliseconds` (negative: back).
    public func step(milliseconds: Int64) { offset.add(milliseconds, ordering: .relaxed) }
}

/// A manually advanced clock for unit tests.
public final class ManualClock: WallClock, Sendable {
    private let current: Mutex<Timestamp>

    public init(_ start: Timestamp) { current = Mutex(start) }

    public func now() -> Timestamp { current.withLock { $0 } }
    public func set(_ t: Timestamp) { current.withLock { $0 = t } }
    public func advance(milliseconds: Int64) { current.withLock { $0 = $0.adding(milliseconds: milliseconds) } }
    public func realDuration(ofMilliseconds milliseconds: Int64) -> Duration { .zero }
}

extension Duration {
    /// The duration in (fractional) seconds.
    public var inSeconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }

    /// The duration in (fractional) milliseconds.
    public var inMilliseconds: Double { inSeconds * 1000 }
}

/// Sleeps the calling dedicated thread. Never call this from async code.
public func sleepThread(_ duration: Duration) {
    guard duration > .zero else { return }
    let (s, atto) = duration.components
    var req = timespec(tv_sec: Int(s), tv_nsec: Int(atto / 1_000_000_000))
    var rem = timespec()
    while nanosleep(&req, &rem) != 0 && errno == EINTR { req = rem }
}

/// Whether the system clock is synchronised (NTP/PTP/GNSS), as the kernel reports it. Readings
/// taken while it is not carry the clock-unsynced quality flag.
public enum ClockSynchronisation {
    /// True when synchronised; also true when the kernel cannot tell (containers).
    public static func isSynchronised() -> Bool { cplatform_clock_synchronized() != 0 }

    /// The kernel's NTP state: synchronised or not, or nil when it cannot tell.
    public static func kernelState() -> Bool? {
        switch cplatform_clock_synchronized() {
        case 1: return true
        case 0: return false
        default: return nil
        }
    }
}
