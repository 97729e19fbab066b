import ConcentratorCore
import Foundation
@testable import HeadEnd
import TestSupport
import Testing
import Wire

/// Enrolment at the head-end (Docs/mqtt-api.md §12): an unapproved device's batches are refused
/// (signed, status 3) and nothing of them is stored; its signed request waits for the operator;
/// approval needs the right fingerprint; after it, the same batches are accepted and stored; the
/// commissioning report event shows in the status.
@Suite("Head-end enrolment", .serialized)
struct HeadEndEnrolmentTests {
    /// One store of each kind (Tests/HeadEndTests/StoreKinds.swift): enrolment works the same on both.
    final class Setup {
        let fresh: FreshStore
        let log = CapturedLog()
        let processor: IngestProcessor
        var now = Content.firstHour.adding(seconds: 86_400)
        var database: any HeadEndStore { fresh.store }

        init(_ kind: StoreKind) async throws {
            fresh = try await FreshStore(kind)
            processor = try fresh.processor(log: log)
        }

        func send(_ payload: [UInt8], leaf: String, device: String = Keys.deviceID) -> IngestOutcome {
            now = now.adding(seconds: 3)
            return processor.process(topic: "concentrator/v1/\(device)/\(leaf)", payload: payload, now: now)
        }

        var storedBatches: Int { (try? database.fleetOverview().reduce(0) { $0 + $1.batches }) ?? -1 }
        /// Snapshots of the fixture device; 0 while the device is unknown (no snapshot can exist without it).
        var storedSnapshots: Int {
            guard deviceRows > 0 else { return 0 }
            return (try? fresh.snapshotCount()) ?? -1
        }
        var deviceRows: Int { (try? database.devices().count) ?? -1 }
    }

    static func request(installer: String = "Anna Rossi", signedBy key: SigningPrivateKey = Keys.deviceSigning) -> [UInt8] {
        EnrolmentRequest(deviceID: Keys.deviceID, installer: installer, note: "cabinet 4", time: Content.firstHour,
                         keys: Keys.deviceDocuments).encoded(signedBy: key)
    }

    @Test("an unapproved device's batches are refused and not stored; after approval they are accepted", arguments: StoreKind.allCases)
    func refusedUntilApproved(kind: StoreKind) async throws {
        let setup = try await Setup(kind)
        let batch = Content.batch(1)
        let refused = setup.send(batch.bytes, leaf: "batch")
        guard case .rejected(let rejection) = refused.result else { Issue.record("\(refused.result)"); return }
        #expect(rejection.name == "unknownDevice")
        let ack = try BatchAck.verify(try #require(refused.ack?.payload), deviceID: Keys.deviceID, trustedKeys: [Keys.ack.publicKey])
        #expect(ack.status == .refused(reasonCode: BatchRefusalReason.deviceNotRegistered.rawValue))
        #expect(ack.sequence == 1 && ack.batchDigest == batch.digest)
        #expect(setup.storedBatches == 0 && setup.storedSnapshots == 0 && setup.deviceRows == 0, "nothing is stored")
        // A resend within two seconds gets no second refusal (a device resends its whole window).
        setup.now = setup.now.adding(seconds: -2)
        #expect(setup.send(batch.bytes, leaf: "batch").ack == nil)

        // The signed enrolment request waits for the operator; a forged one (signed by a key it does not carry) does not.
        #expect(setup.send(Self.request(signedBy: Keys.stranger), leaf: "enrol").result != .enrolment(.pending))
        #expect(setup.send(Self.request(), leaf: "enrol").result == .enrolment(.pending))
        let pending = try setup.database.pendingEnrolments()
        #expect(pending.map(\.device) == [Keys.deviceID] && pending[0].installer == "Anna Rossi" && pending[0].note == "cabinet 4")
        #expect(pending[0].fingerprint == Keys.deviceSigning.publicKey.fingerprint && !pending[0].registered)
        #expect(setup.storedBatches == 0 && setup.deviceRows == 0, "a pending request registers nothing")
        #expect(setup.send(batch.bytes, leaf: "batch").ack?.status == .refused(reasonCode: 1), "still refused while pending")

        // Approval needs the fingerprint the installer reads out.
        #expect(throws: HeadEndError.self) {
            try setup.database.approveEnrolment(device: Keys.deviceID, fingerprint: "sha256:0000000000000000", at: setup.now)
        }
        #expect(throws: HeadEndError.self) {
            try setup.database.approveEnrolment(device: Keys.deviceID, fingerprint: "0a5b6754", at: setup.now)
        }
        let spoken = Keys.deviceSigning.publicKey.fingerprint.dropFirst(7).prefix(16).uppercased()
        let added = try setup.database.approveEnrolment(device: Keys.deviceID, fingerprint: "SHA256: " + spoken, at: setup.now)
        #expect(Set(added) == Set(Keys.deviceDocuments.map(\.id)))
        #expect(try setup.database.pendingEnrolments().isEmpty)

        // The same batch now: accepted and stored.
        let accepted = setup.send(batch.bytes, leaf: "batch")
        #expect(accepted.result == .stored(snapshots: 4, values: 16, events: 0))
        #expect(accepted.ack?.status == .accepted)
        #expect(setup.storedBatches == 1 && setup.storedSnapshots == 4)
        // A request from the registered key changes nothing.
        #expect(setup.send(Self.request(), leaf: "enrol").result == .enrolment(.alreadyRegistered))
        #expect(!setup.log.text.contains(Hex.encode(Keys.deviceSigning.publicKey.rawRepresentation)), "no key bytes in the log")
    }

    @Test("a dismissed request is gone; a newer request of the same device replaces the older", arguments: StoreKind.allCases)
    func dismissAndReplace(kind: StoreKind) async throws {
        let setup = try await Setup(kind)
        #expect(setup.send(Self.request(installer: "First"), leaf: "enrol").result == .enrolment(.pending))
        #expect(setup.send(Self.request(installer: "Second"), leaf: "enrol").result == .enrolment(.pending))
        #expect(try setup.database.pendingEnrolments().map(\.installer) == ["Second"])
        #expect(try setup.database.dismissEnrolment(device: Keys.deviceID))
        #expect(try setup.database.pendingEnrolments().isEmpty)
        #expect(try !setup.database.dismissEnrolment(device: Keys.deviceID), "nothing left to dismiss")
        #expect(throws: HeadEndError.self) {
            try setup.database.approveEnrolment(device: Keys.deviceID, fingerprint: Keys.deviceSigning.publicKey.fingerprint, at: setup.now)
        }
        #expect(setup.deviceRows == 0)
    }

    @Test("a batch signed by an unregistered key of a registered device is refused with reason 2", arguments: StoreKind.allCases)
    func unregisteredKey(kind: StoreKind) async throws {
        let setup = try await Setup(kind)
        try setup.database.registerDevice(Keys.deviceID, keys: Keys.deviceDocuments, at: setup.now)
        let outcome = setup.send(Content.batch(1, sealer: Keys.sealer(signingKey: Keys.stranger)).bytes, leaf: "batch")
        #expect(outcome.ack?.status == .refused(reasonCode: BatchRefusalReason.signingKeyNotRegistered.rawValue))
        #expect(setup.storedBatches == 0)
    }

    @Test("the newest commissioning report shows in the status, as a table and as JSON", arguments: StoreKind.allCases)
    func commissioningInStatus(kind: StoreKind) async throws {
        let setup = try await Setup(kind)
        try setup.database.registerDevice(Keys.deviceID, keys: Keys.deviceDocuments, at: setup.now)
        let report = CommissioningReport(device: Keys.deviceID, time: Content.firstHour, installer: "Anna Rossi", note: nil, agentVersion: nil,
                                         keys: [], buses: [], meters: [
                                             MeterPollResult(meter: "m-1", bus: "bus1", address: "1", profile: "abb-b23", answered: true, values: 5,
                                                             errors: 0, outside: [], responseMilliseconds: 80, failure: nil, archived: true,
                                                             intervalStart: Content.firstHour),
                                             MeterPollResult(meter: "m-2", bus: "bus1", address: "2", profile: "abb-b23", answered: false, values: 0,
                                                             errors: 5, outside: [], responseMilliseconds: 900, failure: "no response",
                                                             archived: true, intervalStart: Content.firstHour)],
                                         polledAt: Content.firstHour, uplinkResult: "passed", uplinkDetail: nil)
        let event = GatewayEvent(time: Content.firstHour.adding(seconds: 60), kind: .commissioningReport, severity: .info, message: report.eventText)
        let sealed = try Keys.sealer().seal(.events([event]), sequence: 7)
        #expect(setup.send(sealed.bytes, leaf: "event").result == .stored(snapshots: 0, values: 0, events: 1))
        let status = try setup.database.statusReports()
        let c = try #require(status.first?.commissioning)
        #expect(c.installer == "Anna Rossi" && c.meters == 2 && c.answered == 1 && c.uplink == "passed" && c.failed == ["m-2"])
        let table = DeviceStatusRendering.table(status, now: setup.now)
        #expect(table.contains("gw-0001 commissioned 2026-11-21T00:01:00Z by Anna Rossi\n  1/2 meters answered, uplink passed\n"))
        #expect(table.contains("  not ok: m-2"))
        #expect(table.split(separator: "\n").allSatisfy { $0.count <= 80 })
        let json = try JSONParser.parse(DeviceStatusRendering.json(status))
        #expect(json["devices"]?.arrayValue?.first?["commissioning"]?["answered"]?.intValue == 1)
    }
}
