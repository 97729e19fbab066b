import ConcentratorCore
import Wire

/// The head-end's storage seam: everything ingest, the device registry, commands, status, export,
/// the gap report and an operator's dashboard need from a database. Two implementations:
/// `HeadEndDatabase` (one SQLite file, the embedded default) and `PostgresHeadEndStore` (one
/// PostgreSQL database shared by any number of head-end workers). Both pass the same contract tests
/// (Tests/HeadEndTests/HeadEndStoreContractTests.swift), and `export` is written once, over
/// `forEachSnapshot`, so both export byte-identical files for the same stored batches.
///
/// Calls block (disk, network): call a store from a dedicated thread, never from Swift's cooperative
/// pool. `HeadEndStoreWorker` owns a store on its own thread and offers it to async code. One
/// instance is used by one thread at a time; open one instance per thread that needs one.
///
/// Every write that returns is committed (durable); every error leaves nothing half written.
public protocol HeadEndStore: AnyObject {
    /// Where the data is: the SQLite path, or the PostgreSQL URL without its password.
    var location: String { get }

    // MARK: Ingest

    /// Stores `batch` (its record, then its snapshots or events) in one transaction, deduplicating by
    /// (device, sequence). When this returns `.stored` or `.duplicate`, the batch is durable and may be
    /// acknowledged. A device that is not in the registry throws `.invalidRequest`.
    func store(_ batch: OpenedBatch, receivedAt: Timestamp) throws(HeadEndError) -> StoreOutcome

    /// Keeps the newest status document of a registered device. Returns false (storing nothing) for
    /// a device that is not registered: status documents are unsigned.
    @discardableResult
    func recordStatus(_ status: UplinkStatusDocument, receivedAt: Timestamp) throws(HeadEndError) -> Bool

    /// Counts a rejected batch of a device the head-end knows; nothing is recorded for unknown ids.
    func recordRejection(device: String, reason: String, sequence: UInt64?, at now: Timestamp) throws(HeadEndError)

    // MARK: Registry

    /// Registers `name` with `keys` (role `device`, naming this device), or adds keys to it. Returns
    /// the ids of keys that were not registered before. Bumps the registry version.
    @discardableResult
    func registerDevice(_ name: String, keys: [PublicKeyDocument], at now: Timestamp) throws(HeadEndError) -> [KeyID]

    /// Unregisters a device (its keys are deleted, its data stays). False when it was not registered.
    @discardableResult
    func unregisterDevice(_ name: String) throws(HeadEndError) -> Bool

    /// Revokes one key of a device. False when the device has no key with that id.
    @discardableResult
    func revokeKey(_ id: KeyID, ofDevice name: String) throws(HeadEndError) -> Bool

    /// Every device the head-end knows, registered or not, by name.
    func devices() throws(HeadEndError) -> [RegisteredDevice]

    /// A number that changes whenever the registry changes (in any process using this database).
    func registryVersion() throws(HeadEndError) -> Int64

    /// The Ed25519 keys of every registered device, for `BatchOpener`.
    func signingKeyDirectory() throws(HeadEndError) -> RegisteredDevices

    // MARK: Enrolment (Docs/mqtt-api.md §12)

    /// Keeps a verified enrolment request (the newest per device), unless the device is registered with
    /// its signing key already or `PendingEnrolment.maximumPending` other devices are pending.
    func recordEnrolment(_ request: EnrolmentRequest, frame: [UInt8], at now: Timestamp) throws(HeadEndError) -> EnrolmentRecording

    /// Every pending enrolment request, by device.
    func pendingEnrolments() throws(HeadEndError) -> [PendingEnrolment]

    /// The stored request of `device` (for approval), or nil when none is pending.
    func pendingEnrolmentRequest(device: String) throws(HeadEndError) -> StoredEnrolmentRequest?

    /// Drops the pending request of `device`. Returns false when there was none.
    @discardableResult
    func dismissEnrolment(device: String) throws(HeadEndError) -> Bool

    // MARK: Commands

    /// The counter for the next command signed with `keyID`: above every counter handed out before for
    /// that key by any head-end using this database (persisted before it is returned), and at least
    /// `now` in milliseconds.
    func nextCommandCounter(keyID: KeyID, now: Timestamp) throws(HeadEndError) -> Int64

    /// Records a command as sent (the audit trail), before its reply is known.
    func recordCommandSent(_ entry: HeadEndCommandRecord) throws(HeadEndError)

    /// Records the verified reply to a command sent earlier (matched by device and command id).
    func recordCommandReply(device: String, commandID: String, reply: HeadEndCommandRecord.Reply) throws(HeadEndError)

    /// The newest audit entries, newest first: of one device, or of every device when `device` is nil.
    func commandAudit(device: String?, limit: Int) throws(HeadEndError) -> [HeadEndCommandRecord]

    // MARK: Status, gaps, fleet

    /// The gap report of one device: how many sequence numbers between its lowest and highest stored
    /// batch are missing, and the first `limit` runs of them.
    func sequenceGaps(device: String, limit: Int) throws(HeadEndError) -> SequenceGapReport

    /// The newest commissioning report (event kind `commissioningReport`) of each device that sent one, by device.
    func commissioningReports() throws(HeadEndError) -> [String: DeviceStatusReport.Commissioning]

    /// The fleet list: one line per known device with last seen, reported outbox depth, clock quality,
    /// sequence gaps and alarms, by name.
    func fleetOverview() throws(HeadEndError) -> [FleetDeviceSummary]

    /// Per device that has any: its alarm events (kind `meter_alarm`, or severity error and above) with
    /// times at or after `alarmsSince`, and what its newest clock event (`clock_synchronised` or
    /// `clock_unsynchronised`) says. The dashboard's fleet page reads this in one call.
    func eventSummaries(alarmsSince: Timestamp) throws(HeadEndError) -> [String: DeviceEventSummary]

    // MARK: Readings and events

    /// The meters of a device with stored snapshots, by name.
    func meters(ofDevice device: String) throws(HeadEndError) -> [StoredMeter]

    /// Calls `body` with each stored snapshot matching `query`, in interval order and meters by name
    /// within an interval. The export and a dashboard's charts (hourly and 15-minute series) read
    /// through this one primitive.
    func forEachSnapshot(_ query: SnapshotQuery, _ body: (MeterSnapshot) throws -> Void) throws(HeadEndError)

    /// Stored events of a device with times in `from..<to`, newest first, at most `limit`.
    func events(device: String, from: Timestamp, to: Timestamp, limit: Int) throws(HeadEndError) -> [StoredEvent]

    /// Closes the connection; the store is unusable afterwards.
    func close()
}

/// Which snapshots to read: one device's series with interval starts in `from..<to`, of one meter or all.
public struct SnapshotQuery: Hashable, Sendable {
    public var device: String
    public var meter: MeterID?
    public var series: SeriesKind
    public var from: Timestamp
    public var to: Timestamp

    public init(device: String, meter: MeterID? = nil, series: SeriesKind = .interval, from: Timestamp, to: Timestamp) {
        self.device = device
        self.meter = meter
        self.series = series
        self.from = from
        self.to = to
    }
}

extension HeadEndStore {
    /// The registered Ed25519 keys of `device` (to verify its command replies); empty when unknown.
    public func signingKeys(ofDevice device: String) throws(HeadEndError) -> [SigningPublicKey] {
        try signingKeyDirectory().signingKeys(ofDevice: device) ?? []
    }

    /// One report per device the head-end knows, by name (`headend status`): the fleet list plus the
    /// first runs of missing sequences of each device that has gaps.
    public func statusReports() throws(HeadEndError) -> [DeviceStatusReport] {
        var reports: [DeviceStatusReport] = []
        let commissioning = try commissioningReports()
        for d in try fleetOverview() {
            let gaps = d.missingSequences > 0 ? try sequenceGaps(device: d.device, limit: DeviceStatusReport.gapLimit).gaps : []
            reports.append(DeviceStatusReport(device: d.device, registered: d.registered, lastSeen: d.lastSeen, lastSequence: d.lastSequence,
                                              batches: d.batches, values: d.values, events: d.events, missingSequences: d.missingSequences,
                                              gaps: gaps, reported: d.reported, rejections: d.rejections,
                                              commissioning: commissioning[d.device]))
        }
        return reports
    }

    /// The snapshots matching `query`, decoded (a dashboard's chart data).
    public func snapshots(_ query: SnapshotQuery) throws(HeadEndError) -> [MeterSnapshot] {
        var out: [MeterSnapshot] = []
        try forEachSnapshot(query) { out.append($0) }
        return out
    }
}
