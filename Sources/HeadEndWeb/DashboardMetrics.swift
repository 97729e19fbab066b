import HeadEnd
import Prometheus
import Synchronization

/// The head-end's Prometheus metrics (swift-prometheus), fed by `HeadEndService`'s ingest observer and
/// served as text at `/metrics`:
/// - `headend_messages_total{result}`: messages by outcome (`stored`, `duplicate`, `rejected`, …);
/// - `headend_values_stored_total`: values in stored batches (`rate()` of it is the ingest rate);
/// - `headend_batches_rejected_total{reason}`: rejected batches by `IngestRejection` name;
/// - `headend_ack_latency_seconds`: histogram, message arrival to the broker's acknowledgement of the ack;
/// - `headend_devices_seen`: distinct devices with a stored or duplicate batch since start.
public final class DashboardMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let valuesStored: Counter
    private let ackLatency: DurationHistogram
    private let devicesSeen: Gauge
    private let seen = Mutex<Set<String>>([])

    public init() {
        valuesStored = registry.makeCounter(name: "headend_values_stored_total", help: "Values in stored batches.")
        ackLatency = registry.makeDurationHistogram(
            name: "headend_ack_latency_seconds",
            buckets: [.milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                      .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10)],
            help: "From a batch's arrival to the broker's acknowledgement of its ack.")
        devicesSeen = registry.makeGauge(name: "headend_devices_seen", help: "Distinct devices with a stored or duplicate batch since start.")
        for result in ["stored", "duplicate", "rejected", "storage_failed", "status", "ignored", "enrolment"] { _ = messages(result) }
    }

    private func messages(_ result: String) -> Counter {
        registry.makeCounter(name: "headend_messages_total", labels: [("result", result)], help: "Messages handled, by outcome.")
    }

    /// Counts one message's outcome.
    public func record(_ outcome: IngestOutcome) {
        switch outcome.result {
        case .stored(_, let values, _):
            messages("stored").increment()
            valuesStored.increment(by: Int64(values))
            markSeen(outcome.device)
        case .duplicate:
            messages("duplicate").increment()
            markSeen(outcome.device)
        case .rejected(let rejection):
            messages("rejected").increment()
            registry.makeCounter(name: "headend_batches_rejected_total", labels: [("reason", rejection.name)],
                                 help: "Rejected batches, by reason.").increment()
        case .storageFailed: messages("storage_failed").increment()
        case .statusRecorded: messages("status").increment()
        case .ignored: messages("ignored").increment()
        case .enrolment: messages("enrolment").increment()
        }
    }

    public func recordAckLatency(_ latency: Duration) { ackLatency.record(latency) }

    private func markSeen(_ device: String?) {
        guard let device else { return }
        let count = seen.withLock { set -> Int in
            set.insert(device)
            return set.count
        }
        devicesSeen.set(Int64(count))
    }

    /// The observer to install on the running service.
    public var observer: HeadEndService.IngestObserver {
        HeadEndService.IngestObserver(outcome: { [self] in record($0) }, ackDelivered: { [self] in recordAckLatency($0) })
    }

    /// The exposition text (Prometheus text format 0.0.4).
    public func render() -> [UInt8] { registry.emitToBuffer() }
}
