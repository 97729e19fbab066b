/// Why on-demand bus work failed.
public enum BusError: Error, Hashable, Sendable, CustomStringConvertible {
    case unknownMeter(MeterID)
    case busBusy(BusName, waitedMilliseconds: Int)
    case stopping(BusName)
    case cancelled
    case unsupported(String)
    case transaction(MeterID, MeterErrorCode)
    /// The bus's port cannot be opened (or failed during the work); nothing was learned on it.
    case portUnavailable(BusName, String)

    public var description: String {
        switch self {
        case .unknownMeter(let m): return "unknown meter \(m)"
        case .busBusy(let b, let ms): return "bus \(b) stayed busy for \(ms) ms; try again later"
        case .stopping(let b): return "bus \(b) is stopping"
        case .cancelled: return "cancelled"
        case .unsupported(let what): return "not supported: \(what)"
        case .transaction(let m, let e): return "meter \(m): \(e)"
        case .portUnavailable(let b, let why): return "bus \(b): the port is down: \(why)"
        }
    }
}

/// One reading of a meter's clock: what the meter said, and the gateway's time when it answered.
public struct MeterClockReading: Hashable, Sendable {
    public var meterTime: Timestamp
    public var gatewayTime: Timestamp

    public init(meterTime: Timestamp, gatewayTime: Timestamp) {
        self.meterTime = meterTime
        self.gatewayTime = gatewayTime
    }

    /// How far the meter's clock is ahead of the gateway's (negative: behind).
    public var driftMilliseconds: Int64 { meterTime.milliseconds - gatewayTime.milliseconds }
}

/// What `BusOwner.synchroniseClock` found and did.
public struct MeterClockSync: Hashable, Sendable {
    public var before: MeterClockReading
    /// The read-back after setting; nil when the clock was within the threshold and left alone.
    public var after: MeterClockReading?

    public init(before: MeterClockReading, after: MeterClockReading?) {
        self.before = before
        self.after = after
    }
}
