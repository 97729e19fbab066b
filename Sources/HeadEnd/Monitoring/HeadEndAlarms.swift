import ConcentratorCore
import Monitoring

/// One alarm (rule on meter of a device) as the head-end knows it from the `meter_alarm` events it
/// stored: the latest phase, when the current occurrence was raised, the value and limit that
/// raised it, and how many transitions arrived.
public struct HeadEndAlarm: Hashable, Sendable {
    public var device: String
    public var key: AlarmKey
    public var phase: AlarmPhase
    public var severity: GatewayEvent.Severity
    /// When the current (or last) occurrence was raised.
    public var raisedAt: Timestamp?
    /// The time of the newest transition.
    public var changedAt: Timestamp
    public var value: Double?
    public var threshold: Double?
    public var occurrence: UInt32?
    /// Whether the device reported it flapping (its raises and clears are being held back).
    public var flapping: Bool
    public var transitions: Int

    public var isOpen: Bool { phase.isOpen }
}

/// The alarms view: `meter_alarm` events parsed (`AlarmEventLine`) and folded in time order per
/// (device, rule, meter). Nothing is stored beside the events, so the view is whatever the events say,
/// and it is written once over `HeadEndStore.events`, for both stores (SQLite and PostgreSQL).
extension HeadEndStore {
    /// Every alarm of every device (or of `device`) up to `until` (exclusive), sorted by device and key.
    public func alarms(device name: String? = nil, until: Timestamp? = nil) throws(HeadEndError) -> [HeadEndAlarm] {
        var byKey: [String: HeadEndAlarm] = [:]
        var names: [String] = []
        if let name { names = [name] } else { names = try devices().map(\.name) }
        for device in names {
            for stored in try storedEvents(device: device, kinds: [.meterAlarm], before: until) {
                guard let meter = stored.event.meter, let line = AlarmEventLine.parse(stored.event.message) else { continue }
                HeadEndAlarm.fold(line, device: device, meter: meter, time: stored.event.time, severity: stored.event.severity, into: &byKey)
            }
        }
        return byKey.values.sorted { ($0.device, $0.key) < ($1.device, $1.key) }
    }

    /// The stored events of `device` of the given kinds with times before `before` (all when nil),
    /// oldest first (time, then batch sequence, then position in the batch).
    func storedEvents(device: String, kinds: Set<GatewayEvent.Kind>, before: Timestamp?) throws(HeadEndError) -> [StoredEvent] {
        try events(device: device, from: Timestamp(milliseconds: Int64.min / 2), to: before ?? Timestamp(milliseconds: Int64.max / 2),
                   limit: Int(Int32.max)).reversed().filter { kinds.contains($0.event.kind) }
    }

    /// The POD and serial number of each meter of `device`, from its newest `meter_identity` events.
    public func meterIdentities(device name: String) throws(HeadEndError) -> [MeterID: (pod: String?, serialNumber: String?)] {
        var out: [MeterID: (pod: String?, serialNumber: String?)] = [:]
        for stored in try storedEvents(device: name, kinds: [.meterIdentity], before: nil) {
            guard let meter = stored.event.meter, let object = try? JSONParser.parse(stored.event.message), object.members != nil else { continue }
            out[meter] = (object["pod"]?.stringValue, object["serialNumber"]?.stringValue)
        }
        return out
    }
}

extension HeadEndAlarm {
    /// Applies one transition to the view.
    static func fold(_ line: AlarmEventLine, device: String, meter: MeterID, time: Timestamp, severity: GatewayEvent.Severity,
                     into view: inout [String: HeadEndAlarm]) {
        let key = AlarmKey(rule: line.rule, meter: meter)
        let id = device + "/" + key.description
        var alarm = view[id] ?? HeadEndAlarm(device: device, key: key, phase: .inactive, severity: severity, raisedAt: nil, changedAt: time,
                                             value: nil, threshold: nil, occurrence: nil, flapping: false, transitions: 0)
        alarm.transitions += 1
        alarm.changedAt = time
        alarm.occurrence = line.occurrence ?? alarm.occurrence
        switch line.kind {
        case .raised:
            alarm.phase = .raised
            alarm.raisedAt = time
            alarm.severity = severity
            alarm.value = line.value
            alarm.threshold = line.threshold
        case .cleared, .acknowledged:
            alarm.phase = line.phase ?? (line.kind == .cleared ? .cleared : .acknowledged)
        case .flapping:
            alarm.flapping = true
            alarm.severity = severity
            if let phase = line.phase {
                if phase.isOpen, !alarm.phase.isOpen { alarm.raisedAt = time }
                alarm.phase = phase
            }
            alarm.value = line.value ?? alarm.value
            alarm.threshold = line.threshold ?? alarm.threshold
        case .flappingEnded:
            alarm.flapping = false
            if let phase = line.phase { alarm.phase = phase }
        }
        view[id] = alarm
    }
}
