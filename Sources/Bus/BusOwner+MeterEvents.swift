import ConcentratorCore
import Logging
import Platform

extension BusOwner {
    /// Events a poll of a DLMS or IEC meter calls for beyond online/offline: a security failure
    /// (wrong key or password: one event per distinct problem, not one per cycle, and a notice when
    /// it is gone), and a meter clock the poll set (an event and an audit entry).
    func reportProtocolEvents(_ meter: PolledMeter, _ poll: MeterPoll) {
        let now = clock.now()
        if poll.transportFailure == .securityFailure {
            let detail = poll.failureDetail ?? "security failure"
            if meter.reportedSecurityProblem != detail {
                meter.reportedSecurityProblem = detail
                var log = logger
                log[metadataKey: "meter"] = .string(meter.id.rawValue)
                log.error("meter \(meter.id): security failure: \(detail); check the meter's key file (keys, meter in the console)")
                onEvent(GatewayEvent(time: now, kind: .meterSecurityFailure, severity: .error, bus: name, meter: meter.id,
                                     message: "security failure: \(detail); check the meter's keys"))
            }
        } else if poll.answered, meter.reportedSecurityProblem != nil {
            meter.reportedSecurityProblem = nil
            logger.notice("meter \(meter.id): security accepted again")
        }
        if let set = poll.clockSet { recordClockSet(set) }
    }

    /// Logs, raises the event and audits one meter clock set.
    func recordClockSet(_ set: MeterClockSetRecord) {
        let after = set.after.map { ", now \(Self.signedSeconds($0.driftMilliseconds)) s" } ?? ""
        let message = "meter clock set (\(set.reason)): it was \(Self.signedSeconds(set.before.driftMilliseconds)) s off\(after)"
        logger.notice("meter \(set.meter): \(message)")
        onEvent(GatewayEvent(time: clock.now(), kind: .meterClockSet, severity: .info, bus: name, meter: set.meter, message: message))
        services.auditClockSet(set)
    }

    static func signedSeconds(_ milliseconds: Int64) -> String {
        let s = Double(milliseconds) / 1000
        let text = String((s * 10).rounded() / 10)
        return s >= 0 ? "+" + text : text
    }
}

extension BusOwner {
    /// The length of `series`' intervals in minutes, nil when the series is not kept.
    func lengthMinutes(of series: SeriesKind) -> Int? {
        series == .interval ? schedule.archive.intervalMinutes : schedule.archive.profileIntervalMinutes
    }

    /// Whether a failed cycle read of `meter` leaves a hole in `series` for the backfill to fill.
    func leavesHole(_ meter: PolledMeter, series: SeriesKind) -> Bool {
        guard schedule.backfillsFromMeterProfiles, schedule.takesSnapshots, let minutes = lengthMinutes(of: series) else { return false }
        return meter.backfills(series, lengthMinutes: minutes)
    }
}
