import ConcentratorCore
import Monitoring
import SQLite

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
/// and a store behind another protocol (PostgreSQL) only needs to list the events.
extension HeadEndDatabase {
    /// Every alarm of every device (or of `device`) up to `until` (exclusive), sorted by device and key.
    public func alarms(device name: String? = nil, until: Timestamp? = nil) throws(HeadEndError) -> [HeadEndAlarm] {
        var byKey: [String: HeadEndAlarm] = [:]
        do {
            var sql = """
                SELECT d.name, e.time, e.severity, e.meter, e.message FROM events e JOIN devices d ON d.id = e.device
                WHERE e.kind = ? AND e.meter IS NOT NULL
                """
            var values: [SQLiteValue] = [.integer(Int64(GatewayEvent.Kind.meterAlarm.rawValue))]
            if let name { sql += " AND d.name = ?"; values.append(.text(name)) }
            if let until { sql += " AND e.time < ?"; values.append(.integer(until.milliseconds)) }
            sql += " ORDER BY e.time, e.device, e.sequence, e.position"
            try connection.withStatement(sql) { s in
                try s.bind(values)
                while try s.step() {
                    guard let line = AlarmEventLine.parse(s.text(4)) else { continue }
                    let device = s.text(0), time = Timestamp(milliseconds: s.int64(1)), meter = MeterID(s.text(3))
                    let severity = GatewayEvent.Severity(rawValue: UInt8(clamping: s.int64(2))) ?? .info
                    Self.fold(line, device: device, meter: meter, time: time, severity: severity, into: &byKey)
                }
            }
        } catch {
            throw HeadEndError.wrap(error)
        }
        return byKey.values.sorted { ($0.device, $0.key) < ($1.device, $1.key) }
    }

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

    /// The POD and serial number of each meter of `device`, from its newest `meter_identity` events.
    public func meterIdentities(device name: String) throws(HeadEndError) -> [MeterID: (pod: String?, serialNumber: String?)] {
        var out: [MeterID: (pod: String?, serialNumber: String?)] = [:]
        do {
            try connection.withStatement("""
                SELECT e.meter, e.message FROM events e JOIN devices d ON d.id = e.device
                WHERE e.kind = ? AND d.name = ? AND e.meter IS NOT NULL ORDER BY e.time, e.sequence, e.position
                """) { s in
                try s.bind([.integer(Int64(GatewayEvent.Kind.meterIdentity.rawValue)), .text(name)])
                while try s.step() {
                    guard let object = try? JSONParser.parse(s.text(1)), object.members != nil else { continue }
                    out[MeterID(s.text(0))] = (object["pod"]?.stringValue, object["serialNumber"]?.stringValue)
                }
            }
        } catch {
            throw HeadEndError.wrap(error)
        }
        return out
    }
}
