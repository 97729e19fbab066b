
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

    public init(intervalStart: Timestamp, series: [SeriesKind], started: Timestamp, durationMilliseconds: Double, meters: Int, answered: Int, failed: Int, values: Int, errorValues: Int, transactions: Int, wireMilliseconds: Double, worstFailedMeterMilliseconds: Double, committed: Bool) {
        self.intervalStart = intervalStart
        self.series = series
        self.started = started
        self.durationMilliseconds = durationMilliseconds
        self.meters = meters
        self.answered = answered
        self.failed = failed
        self.values = values
        self.errorValues = errorValues
        self.transactions = transactions
        self.wireMilliseconds = wireMilliseconds
        self.worstFailedMeterMilliseconds = worstFailedMeterMilliseconds
        self.committed = committed
    }
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

    public init(id: MeterID, address: String, profile: String, state: MeterLinkState, lastError: String? = nil, lastSuccess: Timestamp? = nil, responseTimeoutMilliseconds: Double, turnaroundMilliseconds: Double? = nil) {
        self.id = id
        self.address = address
        self.profile = profile
        self.state = state
        self.lastError = lastError
        self.lastSuccess = lastSuccess
        self.responseTimeoutMilliseconds = responseTimeoutMilliseconds
        self.turnaroundMilliseconds = turnaroundMilliseconds
    }
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
    /// A wireless M-Bus receiver bus: meters heard that are not configured (for the installer).
    public var heard: [HeardMeterStatus]?

    public var metersOnline: Int { meters.filter { $0.state == .online || $0.state == .degraded }.count }
    public var metersOffline: Int { meters.filter { $0.state == .offline }.count }

    public init(name: BusName, device: String, line: String, portOpen: Bool, portError: String? = nil, meters: [MeterStatus], lastCycle: CycleReport? = nil, nextIntervalBoundary: Timestamp? = nil, cyclesCompleted: Int, queuedTasks: Int, pendingCommits: Int) {
        self.name = name
        self.device = device
        self.line = line
        self.portOpen = portOpen
        self.portError = portError
        self.meters = meters
        self.lastCycle = lastCycle
        self.nextIntervalBoundary = nextIntervalBoundary
        self.cyclesCompleted = cyclesCompleted
        self.queuedTasks = queuedTasks
        self.pendingCommits = pendingCommits
    }
}

/// One address that answered during a scan.
public struct ScanHit: Hashable, Sendable, Codable {
    /// The Modbus slave address (0 for the other protocols: see `deviceAddress`).
    public var address: UInt8
    /// The best-fitting profile, if one recognised the meter.
    public var profile: String?
    /// What the identification read returned (for the report).
    public var detail: String
    /// The answer in words for people: the model, or why it is not known ("Eastron SDM630",
    /// "answers, no profile fits (fc4@64512=12)", "garbled: bad checksum on every answer").
    public var verdict: String?
    /// Something answered at the address, but never with a valid frame (bad CRC, garbage).
    public var garbled: Bool?
    /// The protocol scanned, when not Modbus (`iec62056-21`, `dlms`).
    public var protocolKind: MeterProtocolKind?
    /// The address in that protocol: an IEC 62056-21 device address, or an HDLC physical address
    /// in decimal (the form the configuration takes).
    public var deviceAddress: String?

    public init(address: UInt8, profile: String? = nil, detail: String, verdict: String? = nil, garbled: Bool? = nil,
                protocolKind: MeterProtocolKind? = nil, deviceAddress: String? = nil) {
        self.address = address
        self.profile = profile
        self.detail = detail
        self.verdict = verdict
        self.garbled = garbled
        self.protocolKind = protocolKind
        self.deviceAddress = deviceAddress
    }

    /// The address as the configuration writes it.
    public var addressText: String { deviceAddress ?? String(address) }

    /// Whether the answer was garbled at every probe.
    public var isGarbled: Bool { garbled == true }
}

/// Progress of a running scan.
public struct ScanProgress: Hashable, Sendable, Codable {
    public var address: UInt8
    public var done: Int
    public var total: Int
    public var found: Int
    /// The address just probed, for IEC 62056-21 and DLMS scans.
    public var deviceAddress: String?

    public init(address: UInt8, done: Int, total: Int, found: Int, deviceAddress: String? = nil) {
        self.address = address
        self.done = done
        self.total = total
        self.found = found
        self.deviceAddress = deviceAddress
    }
}

/// Whether a meter is answering.
public enum MeterLinkState: String, Hashable, Sendable, Codable {
    /// Not polled yet.
    case unknown
    /// Answered its last transaction.
    case online
    /// Answered with errors in its last poll (exceptions, undecodable values) but is reachable.
    case degraded
    /// Did not answer (or answered garbage) in its last poll.
    case offline
}

/// The agent's state as a whole, answered on the control socket (`concentrator status`, console).
public struct AgentStatus: Hashable, Sendable, Codable {
    public var device: String
    public var version: String
    public var startedAt: Timestamp
    public var now: Timestamp
    public var clockSynchronised: Bool
    public var buses: [BusStatus]
    public var archive: ArchiveStatus?
    /// Nil when no uplink is configured.
    public var uplink: UplinkState?
    /// Nil when no mesh runs.
    public var mesh: MeshState?

    public init(device: String, version: String, startedAt: Timestamp, now: Timestamp, clockSynchronised: Bool,
                buses: [BusStatus], archive: ArchiveStatus?, uplink: UplinkState? = nil, mesh: MeshState? = nil) {
        self.mesh = mesh
        self.device = device
        self.version = version
        self.startedAt = startedAt
        self.now = now
        self.clockSynchronised = clockSynchronised
        self.buses = buses
        self.archive = archive
        self.uplink = uplink
    }
}

/// The archive's state: size, newest interval, oldest retained.
public struct ArchiveStatus: Hashable, Sendable, Codable {
    public var path: String
    public var fileBytes: Int64
    public var newestInterval: Timestamp?
    public var oldestInterval: Timestamp?
    public var lastError: String?

    public init(path: String, fileBytes: Int64, newestInterval: Timestamp?, oldestInterval: Timestamp?, lastError: String?) {
        self.path = path
        self.fileBytes = fileBytes
        self.newestInterval = newestInterval
        self.oldestInterval = oldestInterval
        self.lastError = lastError
    }
}

/// The uplink's state: connection, outbox, acknowledgements.
public struct UplinkState: Hashable, Sendable, Codable {
    public var broker: String
    public var connected: Bool
    public var lastConnected: Timestamp?
    /// When the head-end last acknowledged a batch.
    public var lastAcknowledged: Timestamp?
    public var lastError: String?
    /// Unacknowledged outbox entries (sealed or waiting to be sealed).
    public var outboxDepth: Int
    /// Published batches waiting for the head-end's ack.
    public var inFlight: Int
    public var oldestUnacknowledgedInterval: Timestamp?
    public var lastSequence: Int64?
    /// Unacknowledged entries dropped because their data fell out of the retention (since start).
    public var droppedUnsent: Int
    /// Why the head-end refuses this device's batches ("this device is not registered at the
    /// head-end"), until one is accepted.
    public var refusal: String?

    public init(broker: String, connected: Bool = false, lastConnected: Timestamp? = nil, lastAcknowledged: Timestamp? = nil,
                lastError: String? = nil, outboxDepth: Int = 0, inFlight: Int = 0, oldestUnacknowledgedInterval: Timestamp? = nil,
                lastSequence: Int64? = nil, droppedUnsent: Int = 0) {
        self.broker = broker
        self.connected = connected
        self.lastConnected = lastConnected
        self.lastAcknowledged = lastAcknowledged
        self.lastError = lastError
        self.outboxDepth = outboxDepth
        self.inFlight = inFlight
        self.oldestUnacknowledgedInterval = oldestUnacknowledgedInterval
        self.lastSequence = lastSequence
        self.droppedUnsent = droppedUnsent
    }
}
