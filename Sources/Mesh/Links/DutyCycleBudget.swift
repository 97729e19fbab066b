import ConcentratorCore

/// Whether a transmission may start now.
public enum DutyCycleAdmission: Hashable, Sendable {
    case allowed
    /// Not before this instant (older transmissions must leave the window first).
    case deferred(until: Timestamp)
    /// Never: the transmission alone exceeds what its priority may use of the budget.
    case tooLong
}

/// The duty-cycle ledger of one radio: transmissions (start, airtime) over a rolling window (an hour
/// in EU868), a limit (1 % of the window in 868.0–868.6 MHz), and reserves that keep the last part
/// of the budget for the more important traffic: backlog may only use the first half, the newest
/// interval the first 75 %, acks and commands the first 90 %, events all of it. Pure: instants are
/// passed in (use a monotonic source, so a wall-clock step cannot reopen the budget).
public struct DutyCycleBudget: Hashable, Sendable {
    struct Transmission: Hashable, Sendable {
        var start: Timestamp
        var airtimeMicroseconds: Int64
    }

    public let windowMilliseconds: Int64
    public let limitMicroseconds: Int64
    private var ledger: [Transmission] = []
    private var usedInLedger: Int64 = 0
    /// Transmissions refused per priority (deferred or too long).
    public private(set) var refusals: [MeshPriority: Int] = [:]
    /// Airtime of every transmission recorded since the start, in microseconds.
    public private(set) var totalAirtimeMicroseconds: Int64 = 0

    /// `dutyCycle` of `windowMilliseconds` (default: 1 % of an hour, 36 s of airtime).
    public init(dutyCycle: Double = 0.01, windowMilliseconds: Int64 = 3_600_000) {
        self.windowMilliseconds = windowMilliseconds
        limitMicroseconds = Int64(Double(windowMilliseconds) * 1000 * min(max(dutyCycle, 0), 1))
    }

    /// The share of the limit that must stay free after a transmission of `priority`.
    public static func reserve(for priority: MeshPriority) -> Double {
        switch priority {
        case .event: return 0
        case .control: return 0.10
        case .newestInterval: return 0.25
        case .backlog: return 0.50
        }
    }

    /// Airtime used within the window ending at `now`, in microseconds.
    public mutating func used(at now: Timestamp) -> Int64 {
        prune(now)
        return usedInLedger
    }

    /// Whether `airtimeMicroseconds` of `priority` may go at `now`, and if not, from when.
    public mutating func admission(airtimeMicroseconds: Int64, priority: MeshPriority, at now: Timestamp) -> DutyCycleAdmission {
        prune(now)
        let allowance = limitMicroseconds - Int64(Double(limitMicroseconds) * Self.reserve(for: priority))
        guard airtimeMicroseconds <= allowance else {
            refusals[priority, default: 0] += 1
            return .tooLong
        }
        var used = usedInLedger
        if used + airtimeMicroseconds <= allowance { return .allowed }
        refusals[priority, default: 0] += 1
        for t in ledger {
            used -= t.airtimeMicroseconds
            if used + airtimeMicroseconds <= allowance { return .deferred(until: t.start.adding(milliseconds: windowMilliseconds)) }
        }
        return .deferred(until: now.adding(milliseconds: windowMilliseconds))
    }

    /// Records a transmission that started at `start`.
    public mutating func record(airtimeMicroseconds: Int64, at start: Timestamp) {
        prune(start)
        ledger.append(Transmission(start: start, airtimeMicroseconds: airtimeMicroseconds))
        usedInLedger += airtimeMicroseconds
        totalAirtimeMicroseconds += airtimeMicroseconds
    }

    /// The ledger for status: window, limit, used, what is left.
    public mutating func status(at now: Timestamp) -> DutyCycleStatus {
        prune(now)
        return DutyCycleStatus(windowMilliseconds: windowMilliseconds, limitMicroseconds: limitMicroseconds,
                               usedMicroseconds: usedInLedger, refusals: refusals)
    }

    private mutating func prune(_ now: Timestamp) {
        let horizon = now.milliseconds - windowMilliseconds
        var drop = 0
        while drop < ledger.count, ledger[drop].start.milliseconds <= horizon {
            usedInLedger -= ledger[drop].airtimeMicroseconds
            drop += 1
        }
        if drop > 0 { ledger.removeFirst(drop) }
    }
}

/// The duty-cycle state for `concentrator status`, the console and the simulator.
public struct DutyCycleStatus: Hashable, Sendable {
    public var windowMilliseconds: Int64
    public var limitMicroseconds: Int64
    public var usedMicroseconds: Int64
    public var refusals: [MeshPriority: Int]

    public var remainingMicroseconds: Int64 { max(0, limitMicroseconds - usedMicroseconds) }
    /// Used share of the limit, 0…1.
    public var usedFraction: Double { limitMicroseconds == 0 ? 1 : Double(usedMicroseconds) / Double(limitMicroseconds) }
}
