import ConcentratorCore

/// What an acknowledgement did (`alarm.ack`; Docs/edge-monitoring.md, "States").
public enum AlarmAcknowledgement: Hashable, Sendable {
    /// Raised → acknowledged; the transition was stored and sent as a `meter_alarm` event.
    case acknowledged(occurrence: UInt32)
    case alreadyAcknowledged
    /// The alarm is not open: its phase (`inactive`, `pending`, `cleared`).
    case notOpen(phase: String)
    /// No rule with that id watches that meter.
    case unknownAlarm
}

/// The edge-monitoring side of the device, for `alarm.ack`, `schedule.set` and `schedule.get`.
/// Every method returns nil when monitoring does not run (no `monitoring` section, or it could not
/// start); the defaults say exactly that, so a device without monitoring needs nothing more.
public protocol MonitoringCommandDevice {
    /// Acknowledges the open alarm of `rule` on `meter`, persisting and sending the transition.
    func acknowledgeAlarm(rule: String, meter: MeterID) -> AlarmAcknowledgement?
    /// Applies and persists a runtime schedule change (`arguments`: the `schedule.set` args it was
    /// read from); returns the output's report after it (as `scheduleReport`), or why it was refused.
    func changeSchedule(_ change: ScheduleChange, arguments: JSONValue) -> Result<JSONValue, CommandRejection>?
    /// Each managed output (or the one named): schedule, timers, override, and the current decision
    /// with its next switching (Docs/mqtt-api.md, `schedule.get`).
    func scheduleReport(output: String?) -> JSONValue?
}

extension MonitoringCommandDevice {
    public func acknowledgeAlarm(rule: String, meter: MeterID) -> AlarmAcknowledgement? { nil }
    public func changeSchedule(_ change: ScheduleChange, arguments: JSONValue) -> Result<JSONValue, CommandRejection>? { nil }
    public func scheduleReport(output: String?) -> JSONValue? { nil }
}
