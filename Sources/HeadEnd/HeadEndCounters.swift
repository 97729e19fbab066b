import ConcentratorCore
import Platform

/// What a running head-end worker has done since it started, for logs, tests and a metrics endpoint
/// (a Prometheus `/metrics` page reads `snapshot` and renders counters and the ack-latency histogram).
/// Thread-safe; updated by the ingest and ack tasks.
public final class HeadEndCounters: @unchecked Sendable {
    /// The counts at one moment.
    public struct Snapshot: Hashable, Sendable {
        /// Messages received on the subscribed topics.
        public var messages = 0
        /// Payload bytes received.
        public var payloadBytes = 0
        /// Batches stored (committed) and acknowledged `accepted`.
        public var stored = 0
        /// Values (numbers and error codes) and events in stored batches.
        public var valuesStored = 0
        public var eventsStored = 0
        /// Batches already stored, acknowledged again as `duplicate`.
        public var duplicates = 0
        /// Refused messages by reason: the batch reasons (`malformed`, `unknownDevice`, `badSignature`,
        /// `bodyTooLarge`, … `IngestRejection.name`) and `malformedStatus`, `unknownDeviceStatus` for
        /// status documents.
        public var rejectedByReason: [String: Int] = [:]
        /// Messages not acknowledged because the database failed (the device sends them again).
        public var storageFailures = 0
        public var statusDocuments = 0
        /// Verified enrolment requests (kept pending, or already registered, or refused as too many).
        public var enrolments = 0
        /// Messages outside the topics the head-end handles.
        public var ignored = 0
        public var acksSent = 0
        public var acksFailed = 0
        /// Devices with at least one stored batch since the start.
        public var devicesSeen = 0
        /// From a message's arrival to the broker's PUBACK of its ack.
        public var ackLatency = LatencyHistogram()

        public var rejected: Int { rejectedByReason.values.reduce(0, +) }
    }

    private let lock = ConditionLock()
    private var counts = Snapshot()
    private var devices: Set<String> = []

    public init() {}

    public var snapshot: Snapshot { lock.withLock { counts } }

    /// Counts one received message and what the ingest made of it.
    public func record(_ outcome: IngestOutcome, payloadBytes: Int) {
        lock.withLock {
            counts.messages += 1
            counts.payloadBytes += payloadBytes
            switch outcome.result {
            case .stored(_, let values, let events):
                counts.stored += 1
                counts.valuesStored += values
                counts.eventsStored += events
                if let device = outcome.device, devices.insert(device).inserted { counts.devicesSeen = devices.count }
            case .duplicate: counts.duplicates += 1
            case .rejected(let rejection): counts.rejectedByReason[rejection.name, default: 0] += 1
            case .storageFailed: counts.storageFailures += 1
            case .statusRecorded: counts.statusDocuments += 1
            case .enrolment: counts.enrolments += 1
            case .ignored: counts.ignored += 1
            }
        }
    }

    /// Counts an ack the broker accepted (with the time since its message arrived) or refused.
    public func recordAck(sent: Bool, latency: Duration) {
        lock.withLock {
            if sent {
                counts.acksSent += 1
                counts.ackLatency.record(latency)
            } else {
                counts.acksFailed += 1
            }
        }
    }
}

/// A histogram of durations with fixed bucket bounds (Prometheus-style, cumulative on export): the
/// count of observations at or below each bound, their number and their sum.
public struct LatencyHistogram: Hashable, Sendable {
    /// Upper bounds in seconds: 1 ms … 30 s.
    public static let bounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    /// Observations per bucket (not cumulative); the last entry counts those above every bound.
    public private(set) var bucketCounts = [Int](repeating: 0, count: bounds.count + 1)
    public private(set) var count = 0
    public private(set) var sumSeconds = 0.0

    public init() {}

    public mutating func record(_ duration: Duration) {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        let index = Self.bounds.firstIndex { seconds <= $0 } ?? Self.bounds.count
        bucketCounts[index] += 1
        count += 1
        sumSeconds += seconds
    }

    /// Cumulative counts per bound (`le`), then the total (`+Inf`).
    public var cumulative: [Int] {
        var running = 0
        return bucketCounts.map { running += $0; return running }
    }
}

/// The counters as one log line: `messages=… stored=… values=… duplicates=… storageFailures=…
/// acksSent=… acksFailed=… devices=… rejected: <reason>=<count> …` (reasons sorted by name).
public enum HeadEndCountersRendering {
    public static func line(_ c: HeadEndCounters.Snapshot) -> String {
        var text = "messages=\(c.messages) stored=\(c.stored) values=\(c.valuesStored) events=\(c.eventsStored) duplicates=\(c.duplicates) "
            + "statusDocuments=\(c.statusDocuments) storageFailures=\(c.storageFailures) ignored=\(c.ignored) acksSent=\(c.acksSent) "
            + "acksFailed=\(c.acksFailed) devices=\(c.devicesSeen) rejected:"
        if c.rejectedByReason.isEmpty { text += " none" }
        for reason in c.rejectedByReason.keys.sorted() { text += " \(reason)=\(c.rejectedByReason[reason]!)" }
        return text
    }
}
