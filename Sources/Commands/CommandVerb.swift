/// The role of a head-end command key, from the `role` of its public key document in the device's
/// `uplink.headEndKeys`. Each role may do what the one below it may, and more.
public enum CommandRole: String, Hashable, Sendable, CaseIterable, Comparable {
    /// read, status, ping, backfill.
    case reader
    /// + relay, time.sync, scan, meters.add, meters.remove.
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

/// The verbs a device understands (Docs/mqtt-api.md §11.4), with the least role each needs.
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

    public var minimumRole: CommandRole {
        switch self {
        case .ping, .status, .read, .backfill: return .reader
        case .relay, .timeSync, .scan, .metersAdd, .metersRemove: return .operator
        case .configGet, .configSet, .keysRotate, .restart: return .admin
        }
    }
}
