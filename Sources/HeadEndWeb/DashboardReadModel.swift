import ConcentratorCore
import HeadEnd

/// One device as the fleet page shows it.
public struct FleetRow: Hashable, Sendable {
    public var device: String
    public var registered: Bool
    /// The newest arrival of a stored batch or of a status document.
    public var lastSeen: Timestamp?
    /// Batches the device reported it still holds without an ack (its last status document).
    public var outboxDepth: Int?
    /// The device's reported uplink state (`online`, `offline`, …), if it sent a status document.
    public var state: String?
    public var clock: ClockQuality
    /// Sequence numbers between the lowest and highest stored one that are not stored.
    public var missingSequences: Int
    /// Alarm events (`meter_alarm`, or severity error and above) within the alarm window.
    public var alarms: Int
    /// Rejected batches, all reasons.
    public var rejections: Int

    public init(device: String, registered: Bool, lastSeen: Timestamp? = nil, outboxDepth: Int? = nil, state: String? = nil,
                clock: ClockQuality = .unknown, missingSequences: Int = 0, alarms: Int = 0, rejections: Int = 0) {
        self.device = device
        self.registered = registered
        self.lastSeen = lastSeen
        self.outboxDepth = outboxDepth
        self.state = state
        self.clock = clock
        self.missingSequences = missingSequences
        self.alarms = alarms
        self.rejections = rejections
    }
}

/// What the head-end knows of a device's clock: its newest `clock_synchronised` or
/// `clock_unsynchronised` event, and how many stored snapshots of the window were flagged unsynced.
public enum ClockQuality: String, Hashable, Sendable {
    case synchronised, unsynchronised, unknown
}

/// One meter of a device: its id and the newest interval stored for it.
public struct MeterSummary: Hashable, Sendable {
    public var meter: MeterID
    public var lastInterval: Timestamp?
    public init(meter: MeterID, lastInterval: Timestamp?) {
        self.meter = meter
        self.lastInterval = lastInterval
    }
}

/// The device page's header data: the fleet row, the meters, the quantities stored and the sequence gaps.
public struct DeviceDetail: Hashable, Sendable {
    public var row: FleetRow
    public var meters: [MeterSummary]
    /// Every quantity any stored snapshot of the device carries, in first-seen layout order.
    public var quantities: [QuantityID]
    /// The first runs of missing sequence numbers (at most `DeviceStatusReport.gapLimit`).
    public var gaps: [ClosedRange<UInt64>]
    public var rejections: [String: Int]

    public init(row: FleetRow, meters: [MeterSummary], quantities: [QuantityID], gaps: [ClosedRange<UInt64>], rejections: [String: Int]) {
        self.row = row
        self.meters = meters
        self.quantities = quantities
        self.gaps = gaps
        self.rejections = rejections
    }
}

/// One meter's values of one quantity, in time order (values only: errors and missing slots are left out).
public struct MeterSeries: Hashable, Sendable {
    public var meter: MeterID
    public var times: [Timestamp]
    public var values: [Double]
    public init(meter: MeterID, times: [Timestamp], values: [Double]) {
        self.meter = meter
        self.times = times
        self.values = values
    }
}

/// What a series query asks for: one device, one series, one quantity, the interval starts in `from..<to`.
public struct SeriesQuery: Hashable, Sendable {
    public var device: String
    public var series: SeriesKind
    public var quantity: QuantityID
    public var from: Timestamp
    public var to: Timestamp
    public init(device: String, series: SeriesKind, quantity: QuantityID, from: Timestamp, to: Timestamp) {
        self.device = device
        self.series = series
        self.quantity = quantity
        self.from = from
        self.to = to
    }
}

extension GatewayEvent {
    /// Alarms are a meter's own alarms and everything of severity error or critical.
    public var isAlarm: Bool { kind == .meterAlarm || severity.rawValue >= GatewayEvent.Severity.error.rawValue }
}

/// One command sent from the dashboard: who sent what, and what the device answered.
public struct CommandAuditEntry: Hashable, Sendable {
    public var time: Timestamp
    public var user: String
    public var device: String
    public var verb: String
    public var commandID: String
    /// `ok`, `rejected`, `failed` (the device's reply status) or `no-reply` (nothing verified in time).
    public var status: String
    public var code: String
    /// The reply's message and result (JSON), or why there is none.
    public var detail: String
    public var roundTripMilliseconds: Int64?

    public init(time: Timestamp, user: String, device: String, verb: String, commandID: String, status: String, code: String,
                detail: String, roundTripMilliseconds: Int64?) {
        self.time = time
        self.user = user
        self.device = device
        self.verb = verb
        self.commandID = commandID
        self.status = status
        self.code = code
        self.detail = detail
        self.roundTripMilliseconds = roundTripMilliseconds
    }
}

/// The dashboard's read side: everything its pages and downloads show, and nothing they write
/// (except the command audit, which the dashboard itself appends). The SQLite implementation
/// (`SQLiteDashboardReadModel`) reads the head-end's database; a PostgreSQL store implements the same
/// protocol over its own tables. Calls may block on the store: implementations run them off Swift's
/// cooperative pool (on a dedicated thread) and are safe to call from several tasks.
public protocol DashboardReadModel: Sendable {
    /// Every device the head-end knows, by name. `alarmsSince` bounds the alarm count.
    func fleet(alarmsSince: Timestamp) async throws(HeadEndError) -> [FleetRow]
    /// One device's detail, or nil when the head-end does not know it.
    func device(_ device: String, alarmsSince: Timestamp) async throws(HeadEndError) -> DeviceDetail?
    /// One quantity of every meter of a device over a range, one `MeterSeries` per meter, by meter id.
    func series(_ query: SeriesQuery) async throws(HeadEndError) -> [MeterSeries]
    /// Events of a device with times in `from..<to`, newest first, at most `limit`; only alarms when `alarmsOnly`.
    func events(device: String, from: Timestamp, to: Timestamp, alarmsOnly: Bool, limit: Int) async throws(HeadEndError) -> [GatewayEvent]
    /// Commands sent to the device, newest first, at most `limit`.
    func commandAudit(device: String, limit: Int) async throws(HeadEndError) -> [CommandAuditEntry]
    /// Appends a command and its outcome to the audit.
    func recordCommand(_ entry: CommandAuditEntry) async throws(HeadEndError)
    /// The stored values as `headend export` writes them (CSV or JSON), whole.
    func export(_ request: HeadEndExportRequest) async throws(HeadEndError) -> [UInt8]
}
