import ConcentratorCore
import Foundation
@testable import HeadEnd
import TestSupport
import Wire

/// The two stores the contract tests run against.
enum StoreKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite
    case postgres

    var description: String { rawValue }
}

/// A fresh, empty store of one kind: a SQLite file in a temporary directory, or a new database in
/// the test process's shared PostgreSQL cluster. `reopen()` opens a second connection to it (another
/// process's view, or a second head-end).
final class FreshStore: @unchecked Sendable {
    let kind: StoreKind
    let location: HeadEndDatabaseLocation
    let store: any HeadEndStore
    let cluster: PostgresCluster?
    private let directory: TemporaryDirectory?

    static let now = Content.firstHour.adding(seconds: 86_400)

    init(_ kind: StoreKind) async throws {
        self.kind = kind
        switch kind {
        case .sqlite:
            let directory = TemporaryDirectory("store-contract")
            self.directory = directory
            cluster = nil
            location = .sqlite(path: directory.file("headend.sqlite"))
        case .postgres:
            let cluster = try await PostgresCluster.shared()
            self.cluster = cluster
            directory = nil
            location = .postgres(url: try await runOnDedicatedThread { try cluster.createDatabase() })
        }
        store = try HeadEndStores.open(location, now: Self.now)
    }

    deinit { store.close() }

    func reopen() throws -> any HeadEndStore { try HeadEndStores.open(location, now: Self.now) }

    /// A processor on this store with the fixed keys.
    func processor(log: CapturedLog = CapturedLog(), store: (any HeadEndStore)? = nil) throws -> IngestProcessor {
        try IngestProcessor(database: store ?? self.store, keys: HeadEndPrivateKeys(sealingKeys: [Keys.sealing], ackKey: Keys.ack),
                            topicPrefix: "concentrator/v1", logger: log.logger("headend"))
    }

    func registerDevice() throws {
        try store.registerDevice(Keys.deviceID, keys: Keys.deviceDocuments, at: Content.firstHour)
    }

    func export(_ format: ExportFormat, meter: MeterID? = nil, series: SeriesKind = .interval) throws -> [UInt8] {
        var bytes: [UInt8] = []
        _ = try store.export(HeadEndExportRequest(device: Keys.deviceID, from: Content.intervalStart(0), to: Content.intervalStart(200),
                                                  meter: meter, series: series, format: format)) { bytes += $0 }
        return bytes
    }

    /// Snapshots stored for the fixture device (all meters, interval series).
    func snapshotCount() throws -> Int {
        try store.snapshots(SnapshotQuery(device: Keys.deviceID, from: Content.intervalStart(0), to: Content.intervalStart(200))).count
    }
}

/// A store that fails every write of a batch (a full disk, a lost server), around a real store.
final class FailingStore: HeadEndStore {
    let inner: any HeadEndStore
    var failing = true

    init(_ inner: any HeadEndStore) { self.inner = inner }

    var location: String { inner.location }
    func store(_ batch: OpenedBatch, receivedAt: Timestamp) throws(HeadEndError) -> StoreOutcome {
        if failing { throw .other("injected storage failure") }
        return try inner.store(batch, receivedAt: receivedAt)
    }
    func recordStatus(_ status: UplinkStatusDocument, receivedAt: Timestamp) throws(HeadEndError) -> Bool {
        try inner.recordStatus(status, receivedAt: receivedAt)
    }
    func recordRejection(device: String, reason: String, sequence: UInt64?, at now: Timestamp) throws(HeadEndError) {
        try inner.recordRejection(device: device, reason: reason, sequence: sequence, at: now)
    }
    func registerDevice(_ name: String, keys: [PublicKeyDocument], at now: Timestamp) throws(HeadEndError) -> [KeyID] {
        try inner.registerDevice(name, keys: keys, at: now)
    }
    func unregisterDevice(_ name: String) throws(HeadEndError) -> Bool { try inner.unregisterDevice(name) }
    func revokeKey(_ id: KeyID, ofDevice name: String) throws(HeadEndError) -> Bool { try inner.revokeKey(id, ofDevice: name) }
    func devices() throws(HeadEndError) -> [RegisteredDevice] { try inner.devices() }
    func registryVersion() throws(HeadEndError) -> Int64 { try inner.registryVersion() }
    func signingKeyDirectory() throws(HeadEndError) -> RegisteredDevices { try inner.signingKeyDirectory() }
    func recordEnrolment(_ request: EnrolmentRequest, frame: [UInt8], at now: Timestamp) throws(HeadEndError) -> EnrolmentRecording {
        try inner.recordEnrolment(request, frame: frame, at: now)
    }
    func pendingEnrolments() throws(HeadEndError) -> [PendingEnrolment] { try inner.pendingEnrolments() }
    func pendingEnrolmentRequest(device: String) throws(HeadEndError) -> StoredEnrolmentRequest? { try inner.pendingEnrolmentRequest(device: device) }
    func dismissEnrolment(device: String) throws(HeadEndError) -> Bool { try inner.dismissEnrolment(device: device) }
    func commissioningReports() throws(HeadEndError) -> [String: DeviceStatusReport.Commissioning] { try inner.commissioningReports() }
    func nextCommandCounter(keyID: KeyID, now: Timestamp) throws(HeadEndError) -> Int64 { try inner.nextCommandCounter(keyID: keyID, now: now) }
    func recordCommandSent(_ entry: HeadEndCommandRecord) throws(HeadEndError) { try inner.recordCommandSent(entry) }
    func recordCommandReply(device: String, commandID: String, reply: HeadEndCommandRecord.Reply) throws(HeadEndError) {
        try inner.recordCommandReply(device: device, commandID: commandID, reply: reply)
    }
    func commandAudit(device: String?, limit: Int) throws(HeadEndError) -> [HeadEndCommandRecord] { try inner.commandAudit(device: device, limit: limit) }
    func sequenceGaps(device: String, limit: Int) throws(HeadEndError) -> SequenceGapReport { try inner.sequenceGaps(device: device, limit: limit) }
    func fleetOverview() throws(HeadEndError) -> [FleetDeviceSummary] { try inner.fleetOverview() }
    func eventSummaries(alarmsSince: Timestamp) throws(HeadEndError) -> [String: DeviceEventSummary] {
        try inner.eventSummaries(alarmsSince: alarmsSince)
    }
    func meters(ofDevice device: String) throws(HeadEndError) -> [StoredMeter] { try inner.meters(ofDevice: device) }
    func forEachSnapshot(_ query: SnapshotQuery, _ body: (MeterSnapshot) throws -> Void) throws(HeadEndError) {
        try inner.forEachSnapshot(query, body)
    }
    func events(device: String, from: Timestamp, to: Timestamp, limit: Int) throws(HeadEndError) -> [StoredEvent] {
        try inner.events(device: device, from: from, to: to, limit: limit)
    }
    func close() { inner.close() }
}
