import Wire

/// A signed ack to publish to `<prefix>/<device>/ack` (QoS 1).
public struct OutgoingAck: Hashable, Sendable {
    public var topic: String
    public var payload: [UInt8]
    public var status: BatchAck.Status
}

/// What the head-end did with one received message.
public struct IngestOutcome: Hashable, Sendable {
    /// The outcome itself.
    public enum Result: Hashable, Sendable {
        /// The batch is stored (committed) and an `accepted` ack follows.
        case stored(snapshots: Int, values: Int, events: Int)
        /// Stored earlier with the same digest; a `duplicate` ack follows.
        case duplicate
        /// Refused, nothing stored. `reason` is a stable name (`IngestRejection`); the ack, if any, is `rejected`.
        case rejected(IngestRejection)
        /// The database failed; nothing is acknowledged, so the device sends the batch again.
        case storageFailed(String)
        /// A status document was kept.
        case statusRecorded
        /// A message the head-end does not use (a status of an unknown device, a foreign topic).
        case ignored(String)
        /// A verified enrolment request: kept for the operator (`headend devices pending`), or why not.
        case enrolment(EnrolmentRecording)
    }

    /// The device named by the signed header (or, before that could be read, by the topic).
    public var device: String?
    public var sequence: UInt64?
    public var result: Result
    /// The ack to publish, after the result above is durable.
    public var ack: OutgoingAck?
}

/// Why a batch was refused. Each has a stable name, used in the log line and the status counts.
public enum IngestRejection: Hashable, Sendable, CustomStringConvertible {
    /// `BatchOpener` refused the message (Docs/mqtt-api.md §3.3).
    case opening(BatchOpenError)
    /// The header names another device than the topic: dropped as misrouted, never acknowledged.
    case misrouted(topicDevice: String)
    /// A different batch is already stored under this (device, sequence).
    case sequenceReused
    /// A status document that does not parse, or names another device than its topic: nothing kept, no ack.
    case malformedStatus(String)
    /// A status document of a device that is not registered (status documents are unsigned): nothing kept.
    case unknownDeviceStatus
    /// The batch decoded but holds something the head-end cannot store (for example a gateway time
    /// more than 2^60 ms from its interval); answered like an undecodable body.
    case unstorable(String)

    /// The stable name: `malformed`, `unsupportedVersion`, `unknownDevice`, `unknownSigningKey`,
    /// `badSignature`, `unknownSealingKey`, `cannotDecrypt`, `bodyTooLarge`, `decompressionFailed`,
    /// `malformedBody`, `headerMismatch`, `misrouted`, `sequenceReused`, `unstorable`, and for status
    /// documents `malformedStatus` or `unknownDeviceStatus`.
    public var name: String {
        switch self {
        case .misrouted: return "misrouted"
        case .sequenceReused: return "sequenceReused"
        case .unstorable: return "unstorable"
        case .malformedStatus: return "malformedStatus"
        case .unknownDeviceStatus: return "unknownDeviceStatus"
        case .opening(let e):
            switch e {
            case .malformed: return "malformed"
            case .unsupportedVersion: return "unsupportedVersion"
            case .unknownDevice: return "unknownDevice"
            case .unknownSigningKey: return "unknownSigningKey"
            case .badSignature: return "badSignature"
            case .unknownSealingKey: return "unknownSealingKey"
            case .cannotDecrypt: return "cannotDecrypt"
            case .bodyTooLarge: return "bodyTooLarge"
            case .decompressionFailed: return "decompressionFailed"
            case .malformedBody: return "malformedBody"
            case .headerMismatch: return "headerMismatch"
            }
        }
    }

    /// The reason for a signed `rejected` ack, or nil when the batch is dropped without an ack
    /// (it is not proven to come from the device).
    public var ackReason: BatchRejectionReason? {
        switch self {
        case .opening(let e): return e.rejectionReason
        case .misrouted, .malformedStatus, .unknownDeviceStatus: return nil
        case .sequenceReused: return .sequenceReused
        case .unstorable: return .malformedBody
        }
    }

    /// For a batch from a device the head-end does not know (or not with that key): the reason of
    /// the signed refusal that tells the device so. A refusal never makes a device drop a batch.
    public var refusalReason: BatchRefusalReason? {
        switch self {
        case .opening(.unknownDevice): return .deviceNotRegistered
        case .opening(.unknownSigningKey): return .signingKeyNotRegistered
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .opening(let e): return e.description
        case .misrouted(let topicDevice): return "the signed header names another device than the topic (\(topicDevice)); dropped as misrouted"
        case .sequenceReused: return "another batch is already stored under this sequence (different digest); nothing stored"
        case .unstorable(let what): return "the batch cannot be stored: \(what)"
        case .malformedStatus(let what): return "status document refused: \(what)"
        case .unknownDeviceStatus: return "status document of a device that is not registered; nothing kept"
        }
    }
}
