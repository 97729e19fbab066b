/// The role of a head-end command key, from the `role` of its public key document in the device's
/// `uplink.headEndKeys`. Each role may do what the one below it may, and more.
public enum CommandRole: String, Hashable, Sendable, CaseIterable, Comparable {
    /// read, status, ping, backfill.
    case reader
    /// + relay, time.sync, scan, meters.add, meters.remove, alarm.ack, schedule.set, schedule.get.
    case `operator`
    /// + config.get, config.set, keys.rotate, restart.
    case admin

    private var rank: Int {
        switch self {
        case .reader: return 0
        case .operator: return 1
        case .admin: return 2
        }
    }

    public static func < (a: CommandRole, b: CommandRole) -> Bool { a.rank < b.rank }
}

/// The verbs a device understands (Docs/mqtt-api.md §11.4). Each has its own file under `Verbs/`.
public enum CommandVerb: String, Hashable, Sendable, CaseIterable {
    case ping
    case status
    case read
    case backfill
    case relay
    case timeSync = "time.sync"
    case scan
    case metersAdd = "meters.add"
    case metersRemove = "meters.remove"
    case configGet = "config.get"
    case configSet = "config.set"
    case keysRotate = "keys.rotate"
    case restart
    case alarmAck = "alarm.ack"
    case scheduleSet = "schedule.set"
    case scheduleGet = "schedule.get"

    /// The least role whose key may send this verb.
    public var minimumRole: CommandRole { handler.minimumRole }

    /// The verb's file.
    var handler: any CommandVerbHandler.Type {
        switch self {
        case .ping: return PingVerb.self
        case .status: return StatusVerb.self
        case .read: return ReadVerb.self
        case .backfill: return BackfillVerb.self
        case .relay: return RelayVerb.self
        case .timeSync: return TimeSyncVerb.self
        case .scan: return ScanVerb.self
        case .metersAdd: return MetersAddVerb.self
        case .metersRemove: return MetersRemoveVerb.self
        case .configGet: return ConfigGetVerb.self
        case .configSet: return ConfigSetVerb.self
        case .keysRotate: return KeysRotateVerb.self
        case .restart: return RestartVerb.self
        case .alarmAck: return AlarmAckVerb.self
        case .scheduleSet: return ScheduleSetVerb.self
        case .scheduleGet: return ScheduleGetVerb.self
        }
    }
}
