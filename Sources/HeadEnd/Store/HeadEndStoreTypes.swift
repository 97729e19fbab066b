import ConcentratorCore
import Wire

/// Where the head-end keeps its data: the `database` setting of headend.json (or `--database`).
/// An absolute path is a SQLite file (the embedded default); a `postgresql://` (or `postgres://`)
/// URL is a PostgreSQL database that several head-end workers share.
public enum HeadEndDatabaseLocation: Hashable, Sendable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(url: String)

    /// Reads a setting: a `postgresql://`/`postgres://` URL, or an absolute path. Nil for anything else.
    public init?(setting: String) {
        if setting.hasPrefix("postgresql://") || setting.hasPrefix("postgres://") {
            self = .postgres(url: setting)
        } else if setting.hasPrefix("/") {
            self = .sqlite(path: setting)
        } else {
            return nil
        }
    }

    /// The path, or the URL with any password replaced by `***` (for logs and errors).
    public var description: String {
        switch self {
        case .sqlite(let path): return path
        case .postgres(let url): return Self.redacted(url)
        }
    }

    /// `url` without the password between `user:` and `@`.
    static func redacted(_ url: String) -> String {
        let chars = Array(url)
        guard let schemeEnd = (0..<max(0, chars.count - 2)).first(where: { chars[$0] == ":" && chars[$0 + 1] == "/" && chars[$0 + 2] == "/" })
        else { return url }
        let start = schemeEnd + 3
        guard let at = chars[start...].firstIndex(of: "@"), let colon = chars[start..<at].firstIndex(of: ":") else { return url }
        return String(chars[...colon]) + "***" + String(chars[at...])
    }
}

/// The gap report of one device: sequence numbers missing between its lowest and highest stored batch.
public struct SequenceGapReport: Hashable, Sendable {
    /// How many numbers are missing in all.
    public var missing: Int
    /// The first runs of missing numbers, in order (at most the limit asked for).
    public var gaps: [ClosedRange<UInt64>]

    public init(missing: Int, gaps: [ClosedRange<UInt64>]) {
        self.missing = missing
        self.gaps = gaps
    }
}

/// How good the device's clocks were in its newest stored reading batch: how many snapshots the
/// gateway took with an unsynchronised clock, and how far meter clocks were from the gateway's.
public struct BatchClockQuality: Hashable, Sendable {
    /// Snapshots in that batch (0: no reading batch stored yet).
    public var snapshots: Int
    /// Of those, taken while the gateway's clock was not synchronised.
    public var unsyncedSnapshots: Int
    /// The largest |meter time − gateway time| in that batch in milliseconds; nil when no meter gave a time.
    public var maximumMeterSkewMilliseconds: Int64?

    public init(snapshots: Int = 0, unsyncedSnapshots: Int = 0, maximumMeterSkewMilliseconds: Int64? = nil) {
        self.snapshots = snapshots
        self.unsyncedSnapshots = unsyncedSnapshots
        self.maximumMeterSkewMilliseconds = maximumMeterSkewMilliseconds
    }

    /// The figures of one batch's snapshots.
    public init(_ snapshots: [MeterSnapshot]) {
        self.snapshots = snapshots.count
        unsyncedSnapshots = snapshots.filter(\.clockUnsynced).count
        var largest: UInt64?
        for s in snapshots {
            guard let meterTime = s.meterTime else { continue }
            let skew: UInt64 = (meterTime.milliseconds &- s.gatewayTime.milliseconds).magnitude
            largest = max(largest ?? 0, skew)
        }
        maximumMeterSkewMilliseconds = largest.map { Int64(clamping: $0) }
    }
}

/// One line of the fleet list: what the head-end knows about a device, without per-device queries.
public struct FleetDeviceSummary: Hashable, Sendable {
    public var device: String
    public var registered: Bool
    /// The newest arrival of a stored batch or of a status document.
    public var lastSeen: Timestamp?
    /// The highest stored sequence.
    public var lastSequence: UInt64?
    public var batches: Int
    /// Values (numbers and error codes) in stored interval and profile batches.
    public var values: Int
    public var events: Int
    /// Stored events of severity error or critical.
    public var alarms: Int
    /// Sequence numbers between the lowest and highest stored one that are not stored.
    public var missingSequences: Int
    /// The device's last status document (its outbox depth is `reported?.pending`).
    public var reported: DeviceStatusReport.Reported?
    public var clock: BatchClockQuality
    /// Rejected batches by reason name.
    public var rejections: [String: Int]

    public init(device: String, registered: Bool, lastSeen: Timestamp? = nil, lastSequence: UInt64? = nil, batches: Int = 0,
                values: Int = 0, events: Int = 0, alarms: Int = 0, missingSequences: Int = 0,
                reported: DeviceStatusReport.Reported? = nil, clock: BatchClockQuality = BatchClockQuality(), rejections: [String: Int] = [:]) {
        self.device = device
        self.registered = registered
        self.lastSeen = lastSeen
        self.lastSequence = lastSequence
        self.batches = batches
        self.values = values
        self.events = events
        self.alarms = alarms
        self.missingSequences = missingSequences
        self.reported = reported
        self.clock = clock
        self.rejections = rejections
    }

    /// The reported outbox depth (batches the device holds without an ack), if it reported one.
    public var outboxDepth: Int? { reported?.pending }
}

/// A meter of a device with stored snapshots.
public struct StoredMeter: Hashable, Sendable {
    public var name: MeterID
    /// The series it has snapshots in.
    public var series: [SeriesKind]
    /// The first and last stored interval start (any series).
    public var firstInterval: Timestamp
    public var lastInterval: Timestamp
    /// The quantities of its newest snapshot, in order.
    public var quantities: [QuantityID]

    public init(name: MeterID, series: [SeriesKind], firstInterval: Timestamp, lastInterval: Timestamp, quantities: [QuantityID]) {
        self.name = name
        self.series = series
        self.firstInterval = firstInterval
        self.lastInterval = lastInterval
        self.quantities = quantities
    }
}

extension StoredMeter {
    /// One entry per meter from per-(meter, series) rows in name order: series joined, the widest
    /// range, the quantities of the row with the newest interval.
    static func merged(_ rows: [StoredMeter]) -> [StoredMeter] {
        var out: [StoredMeter] = []
        for row in rows {
            guard var last = out.last, last.name == row.name else {
                out.append(row)
                continue
            }
            last.series += row.series
            last.firstInterval = min(last.firstInterval, row.firstInterval)
            if row.lastInterval > last.lastInterval {
                last.lastInterval = row.lastInterval
                last.quantities = row.quantities
            }
            out[out.count - 1] = last
        }
        return out
    }
}

/// A stored gateway event and the batch that carried it.
public struct StoredEvent: Hashable, Sendable {
    public var device: String
    public var sequence: UInt64
    public var position: Int
    public var event: GatewayEvent

    public init(device: String, sequence: UInt64, position: Int, event: GatewayEvent) {
        self.device = device
        self.sequence = sequence
        self.position = position
        self.event = event
    }
}

/// One command in the audit trail: what was sent, with which key and counter, and its verified reply.
public struct HeadEndCommandRecord: Hashable, Sendable {
    /// The device's verified reply.
    public struct Reply: Hashable, Sendable {
        public var status: String
        public var code: String
        public var message: String
        public var received: Timestamp

        public init(status: String, code: String, message: String, received: Timestamp) {
            self.status = status
            self.code = code
            self.message = message
            self.received = received
        }
    }

    public var device: String
    public var commandID: String
    public var verb: String
    /// The command key that signed it, and its counter.
    public var keyID: KeyID
    public var counter: Int64
    /// The arguments as canonical JSON.
    public var arguments: String
    public var issuedAt: Timestamp
    public var expiresAt: Timestamp
    /// Nil until a verified reply arrived.
    public var reply: Reply?

    public init(device: String, commandID: String, verb: String, keyID: KeyID, counter: Int64, arguments: String, issuedAt: Timestamp,
                expiresAt: Timestamp, reply: Reply? = nil) {
        self.device = device
        self.commandID = commandID
        self.verb = verb
        self.keyID = keyID
        self.counter = counter
        self.arguments = arguments
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.reply = reply
    }
}

/// A device's alarm count within a window and its newest clock event (`HeadEndStore.eventSummaries`).
public struct DeviceEventSummary: Hashable, Sendable {
    public var alarms: Int
    /// True after `clock_synchronised`, false after `clock_unsynchronised`, nil when it sent neither.
    public var clockSynchronised: Bool?

    public init(alarms: Int = 0, clockSynchronised: Bool? = nil) {
        self.alarms = alarms
        self.clockSynchronised = clockSynchronised
    }

    /// The events that count as alarms: a meter's own alarms and everything of severity error or critical.
    public static let alarmCondition = "(kind = \(GatewayEvent.Kind.meterAlarm.rawValue) OR severity >= \(GatewayEvent.Severity.error.rawValue))"
    static let clockKinds = (synchronised: Int64(GatewayEvent.Kind.clockSynchronised.rawValue),
                             unsynchronised: Int64(GatewayEvent.Kind.clockUnsynchronised.rawValue))
}
