import ConcentratorCore

/// What a finished snapshot cycle did and how long it took.
public struct CycleReport: Hashable, Sendable, Codable {
    public var intervalStart: Timestamp
    public var series: [SeriesKind]
    public var started: Timestamp
    public var durationMilliseconds: Double
    public var meters: Int
    public var answered: Int
    public var failed: Int
    public var values: Int
    public var errorValues: Int
    public var transactions: Int
    /// The computed time the transactions occupy the wire (frames plus inter-frame silences).
    public var wireMilliseconds: Double
    /// The longest time spent on a meter that did not answer.
    public var worstFailedMeterMilliseconds: Double
    public var committed: Bool
}

/// One meter's state, as shown by `concentrator status` and the console.
public struct MeterStatus: Hashable, Sendable, Codable {
    public var id: MeterID
    public var address: String
    public var profile: String
    public var state: MeterLinkState
    public var lastError: String?
    public var lastSuccess: Timestamp?
    public var responseTimeoutMilliseconds: Double
    public var turnaroundMilliseconds: Double?
}

/// A bus owner's state: port, meters, last cycle.
public struct BusStatus: Hashable, Sendable, Codable {
    public var name: BusName
    public var device: String
    public var line: String
    public var portOpen: Bool
    public var portError: String?
    public var meters: [MeterStatus]
    public var lastCycle: CycleReport?
    public var nextIntervalBoundary: Timestamp?
    public var cyclesCompleted: Int
    public var queuedTasks: Int
    /// Snapshots that could not be stored yet (archive error) and are being retried.
    public var pendingCommits: Int

    public var metersOnline: Int { meters.filter { $0.state == .online || $0.state == .degraded }.count }
    public var metersOffline: Int { meters.filter { $0.state == .offline }.count }
}

/// One address that answered during a scan.
public struct ScanHit: Hashable, Sendable, Codable {
    public var address: UInt8
    /// The best-fitting profile, if one recognised the meter.
    public var profile: String?
    /// What the identification read returned (for the report).
    public var detail: String
}

/// Progress of a running scan.
public struct ScanProgress: Hashable, Sendable, Codable {
    public var address: UInt8
    public var done: Int
    public var total: Int
    public var found: Int
}
