/// Learns a meter's turnaround (request end to answer start) and derives the response timeout, the
/// way TCP derives its retransmission timeout (RFC 6298 §2): smoothed mean plus four deviations,
/// clamped to the bus's configured bounds. A meter never heard from gets the upper bound.
public struct ResponseTimer: Hashable, Sendable {
    public let minimumMilliseconds: Double
    public let maximumMilliseconds: Double
    public private(set) var smoothedMilliseconds: Double?
    public private(set) var deviationMilliseconds: Double = 0
    /// Slack for scheduling jitter on the gateway (thread wake-ups, USB adapter latency).
    public static let slackMilliseconds = 15.0

    public init(bounds: ClosedRange<Int>) {
        minimumMilliseconds = Double(bounds.lowerBound)
        maximumMilliseconds = Double(bounds.upperBound)
    }

    /// Records one observed turnaround.
    public mutating func observe(turnaroundMilliseconds sample: Double) {
        let r = max(0, sample)
        if let srtt = smoothedMilliseconds {
            deviationMilliseconds = 0.75 * deviationMilliseconds + 0.25 * abs(srtt - r)
            smoothedMilliseconds = 0.875 * srtt + 0.125 * r
        } else {
            smoothedMilliseconds = r
            deviationMilliseconds = r / 2
        }
    }

    /// The time to wait for the first byte of an answer, given how long the request itself takes on
    /// the wire (a UART's write returns before the bytes are sent).
    public func responseTimeoutMilliseconds(requestWireMilliseconds: Double) -> Double {
        guard let srtt = smoothedMilliseconds else { return maximumMilliseconds }
        let budget = requestWireMilliseconds + srtt + max(10, 4 * deviationMilliseconds) + Self.slackMilliseconds
        return min(max(budget, minimumMilliseconds), maximumMilliseconds)
    }
}
