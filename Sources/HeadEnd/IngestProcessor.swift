import ConcentratorCore
import Logging
import Wire

/// Handles one received message at a time: a batch or event batch is split, checked against the
/// topic, verified, opened and decoded (`BatchOpener`), deduplicated and stored in one transaction,
/// and answered with a signed ack; a status document is kept. Every rejection is one log line with
/// the device, the sequence when known and the reason; no line carries key bytes (keys appear by id).
///
/// Not thread-safe: it owns a database connection and is confined to one thread (the head-end's
/// database worker, or a benchmark's loop).
public final class IngestProcessor: @unchecked Sendable {
    public let database: any HeadEndStore
    public let topicPrefix: String
    private let keys: HeadEndPrivateKeys
    private let settings: IngestSettings
    private let logger: Logger
    private var opener: BatchOpener
    private var directory: RegisteredDevices
    private var registryVersion: Int64
    private var lastRegistryCheck: Timestamp?
    /// When each unregistered device was last sent a refusal.
    private var lastRefusal: [String: Timestamp] = [:]

    public init(database: any HeadEndStore, keys: HeadEndPrivateKeys, topicPrefix: String, settings: IngestSettings = IngestSettings(),
                logger: Logger) throws(HeadEndError) {
        self.database = database
        self.keys = keys
        self.topicPrefix = topicPrefix
        self.settings = settings
        self.logger = logger
        registryVersion = try database.registryVersion()
        directory = try database.signingKeyDirectory()
        opener = BatchOpener(sealingKeys: keys.sealingKeys, devices: directory, maximumBodyBytes: settings.maximumBodyBytes)
    }

    /// Handles the message published on `topic`, received at `now`. Returns what happened and the
    /// ack to publish (only after the outcome is committed).
    public func process(topic: String, payload: [UInt8], now: Timestamp) -> IngestOutcome {
        guard topic.hasPrefix(topicPrefix + "/") else { return IngestOutcome(result: .ignored("topic \(topic) is outside \(topicPrefix)")) }
        let levels = topic.dropFirst(topicPrefix.utf8.count + 1).split(separator: "/", omittingEmptySubsequences: false)
        guard levels.count == 2 else { return IngestOutcome(result: .ignored("topic \(topic) is not <prefix>/<device>/<leaf>")) }
        let topicDevice = String(levels[0])
        switch levels[1] {
        case "batch", "event": return ingestBatch(payload, topicDevice: topicDevice, now: now)
        case "status": return recordStatus(payload, topicDevice: topicDevice, now: now)
        case "enrol": return recordEnrolment(payload, topicDevice: topicDevice, now: now)
        default: return IngestOutcome(device: topicDevice, result: .ignored("topic leaf \(levels[1]) is not handled"))
        }
    }

    private func ingestBatch(_ payload: [UInt8], topicDevice: String, now: Timestamp) -> IngestOutcome {
        let sealed: SealedBatch
        do { sealed = try SealedBatch.parse(payload) } catch {
            return reject(.opening(error), device: topicDevice, sequence: nil, digest: nil, now: now)
        }
        let header = sealed.header
        guard header.deviceID == topicDevice else {
            return reject(.misrouted(topicDevice: topicDevice), device: header.deviceID, sequence: header.sequence, digest: nil, now: now)
        }
        refreshRegistry(now: now, needed: !directoryKnows(header.deviceID, key: header.signingKeyID))
        let opened: OpenedBatch
        do { opened = try opener.open(payload) } catch {
            return reject(.opening(error), device: header.deviceID, sequence: header.sequence, digest: sealed.digest, now: now)
        }
        if let problem = StoredSnapshotRow.unstorableReason(opened.content) {
            return reject(.unstorable(problem), device: header.deviceID, sequence: header.sequence, digest: opened.digest, now: now)
        }
        let outcome: StoreOutcome
        do { outcome = try database.store(opened, receivedAt: now) } catch {
            logger.error("batch not stored, not acknowledged (the device will send it again): \(error)",
                         metadata: ["device": "\(header.deviceID)", "sequence": "\(header.sequence)"])
            return IngestOutcome(device: header.deviceID, sequence: header.sequence, result: .storageFailed("\(error)"))
        }
        switch outcome {
        case .stored(let snapshots, let values, let events, let overlapping):
            if overlapping > 0 {
                logger.notice("\(overlapping) snapshots were already stored from an earlier batch; the earlier ones are kept",
                              metadata: ["device": "\(header.deviceID)", "sequence": "\(header.sequence)"])
            }
            logger.debug("batch stored: \(snapshots) snapshots, \(values) values, \(events) events",
                         metadata: ["device": "\(header.deviceID)", "sequence": "\(header.sequence)"])
            return IngestOutcome(device: header.deviceID, sequence: header.sequence,
                                 result: .stored(snapshots: snapshots, values: values, events: events),
                                 ack: ack(for: opened.header, digest: opened.digest, status: .accepted))
        case .duplicate:
            logger.debug("duplicate batch: already stored, acknowledged again",
                         metadata: ["device": "\(header.deviceID)", "sequence": "\(header.sequence)"])
            return IngestOutcome(device: header.deviceID, sequence: header.sequence, result: .duplicate,
                                 ack: ack(for: opened.header, digest: opened.digest, status: .duplicate))
        case .sequenceReused:
            return reject(.sequenceReused, device: header.deviceID, sequence: header.sequence, digest: opened.digest, now: now)
        }
    }

    /// Logs the rejection (one line), counts it for a known device, and builds the signed
    /// `rejected` ack when the batch's signature verified.
    private func reject(_ rejection: IngestRejection, device: String, sequence: UInt64?, digest: [UInt8]?, now: Timestamp) -> IngestOutcome {
        var metadata: Logger.Metadata = ["device": "\(device)", "reason": "\(rejection.name)"]
        if let sequence { metadata["sequence"] = "\(sequence)" }
        logger.warning("batch rejected, nothing stored: \(rejection)", metadata: metadata)
        if DeviceIdentifier.isValid(device) {
            do { try database.recordRejection(device: device, reason: rejection.name, sequence: sequence, at: now) } catch {
                logger.error("cannot count the rejection: \(error)", metadata: ["device": "\(device)"])
            }
        }
        var ack: OutgoingAck?
        if let refusal = rejection.refusalReason, let sequence, let digest, refusalDue(device, now: now) {
            // Signed, so the device can trust it; it names the batch but carries nothing else.
            let payload = BatchAck(deviceID: device, sequence: sequence, batchDigest: digest, status: .refused(reasonCode: refusal.rawValue),
                                   keyID: keys.ackKey.id).encoded(signedBy: keys.ackKey)
            ack = OutgoingAck(topic: ackTopic(device), payload: payload, status: .refused(reasonCode: refusal.rawValue))
        }
        if let reason = rejection.ackReason, let sequence, let digest {
            let payload = BatchAck(deviceID: device, sequence: sequence, batchDigest: digest, status: .rejected(reasonCode: reason.rawValue),
                                   keyID: keys.ackKey.id).encoded(signedBy: keys.ackKey)
            ack = OutgoingAck(topic: ackTopic(device), payload: payload, status: .rejected(reasonCode: reason.rawValue))
        }
        return IngestOutcome(device: device, sequence: sequence, result: .rejected(rejection), ack: ack)
    }

    /// At most one refusal per device every two seconds (a device resends its whole window).
    private func refusalDue(_ device: String, now: Timestamp) -> Bool {
        if let last = lastRefusal[device], now.milliseconds - last.milliseconds < 2000, now >= last { return false }
        if lastRefusal.count > 10_000 { lastRefusal.removeAll() }
        lastRefusal[device] = now
        return true
    }

    /// A device's signed enrolment request: verified (self-signed by the key it carries) and kept
    /// for the operator. Nothing is answered: the device learns of the approval when its batches
    /// are accepted.
    private func recordEnrolment(_ payload: [UInt8], topicDevice: String, now: Timestamp) -> IngestOutcome {
        let request: EnrolmentRequest
        do { request = try EnrolmentRequest.verify(payload, topicDevice: topicDevice) } catch {
            logger.warning("enrolment request refused: \(error)", metadata: ["device": "\(topicDevice)"])
            return IngestOutcome(device: topicDevice, result: .ignored("\(error)"))
        }
        let recorded: EnrolmentRecording
        do { recorded = try database.recordEnrolment(request, frame: payload, at: now) } catch {
            logger.error("enrolment request not stored: \(error)", metadata: ["device": "\(topicDevice)"])
            return IngestOutcome(device: topicDevice, result: .storageFailed("\(error)"))
        }
        switch recorded {
        case .pending:
            let message = "enrolment request pending: installer \(request.installer), signing key \(request.fingerprint); "
                + "approve with: headend devices approve --id \(request.deviceID) --fingerprint <as the installer reads it>"
            logger.notice("\(message)", metadata: ["device": "\(request.deviceID)"])
        case .alreadyRegistered:
            logger.info("enrolment request of a device registered with that key already", metadata: ["device": "\(request.deviceID)"])
        case .tooMany:
            logger.warning("enrolment request dropped: \(PendingEnrolment.maximumPending) requests are pending already",
                           metadata: ["device": "\(request.deviceID)"])
        }
        return IngestOutcome(device: request.deviceID, result: .enrolment(recorded))
    }

    private func ack(for header: BatchHeader, digest: [UInt8], status: BatchAck.Status) -> OutgoingAck {
        let payload = BatchAck(deviceID: header.deviceID, sequence: header.sequence, batchDigest: digest, status: status,
                               keyID: keys.ackKey.id).encoded(signedBy: keys.ackKey)
        return OutgoingAck(topic: ackTopic(header.deviceID), payload: payload, status: status)
    }

    private func ackTopic(_ device: String) -> String { "\(topicPrefix)/\(device)/ack" }

    private func recordStatus(_ payload: [UInt8], topicDevice: String, now: Timestamp) -> IngestOutcome {
        guard let document = UplinkStatusDocument.parse(payload) else {
            return refuseStatus(.malformedStatus("not a version 1 status document (\(payload.count) bytes)"), device: topicDevice)
        }
        guard document.device == topicDevice else {
            return refuseStatus(.malformedStatus("it names device \(document.device), not the topic's"), device: topicDevice)
        }
        do {
            guard try database.recordStatus(document, receivedAt: now) else {
                return refuseStatus(.unknownDeviceStatus, device: topicDevice)
            }
        } catch {
            logger.error("status not stored: \(error)", metadata: ["device": "\(topicDevice)"])
            return IngestOutcome(device: topicDevice, result: .storageFailed("\(error)"))
        }
        return IngestOutcome(device: topicDevice, result: .statusRecorded)
    }

    /// A status document that is not kept: one log line (info: status documents are unsigned and
    /// retained, so an old one of a removed device may arrive at every start).
    private func refuseStatus(_ rejection: IngestRejection, device: String) -> IngestOutcome {
        logger.info("\(rejection)", metadata: ["device": "\(device)", "reason": "\(rejection.name)"])
        return IngestOutcome(device: device, result: .rejected(rejection))
    }

    private func directoryKnows(_ device: String, key: KeyID) -> Bool {
        directory.signingKeys(ofDevice: device)?.contains { $0.id == key } ?? false
    }

    /// Re-reads the registry when another process changed it. Checked when a batch names a device or
    /// key the head-end does not know yet, and at least every `registryPollSeconds` (removals).
    private func refreshRegistry(now: Timestamp, needed: Bool) {
        let due = lastRegistryCheck.map { now.milliseconds - $0.milliseconds >= Int64(settings.registryPollSeconds) * 1000 } ?? true
        guard needed || due else { return }
        lastRegistryCheck = now
        do {
            let version = try database.registryVersion()
            guard version != registryVersion else { return }
            directory = try database.signingKeyDirectory()
            registryVersion = version
            opener = BatchOpener(sealingKeys: keys.sealingKeys, devices: directory, maximumBodyBytes: settings.maximumBodyBytes)
            logger.info("device registry reloaded: \(directory.keys.count) registered devices")
        } catch {
            logger.error("cannot read the device registry: \(error)")
        }
    }
}
