import Archive
import ConcentratorCore
import Wire

/// The command messages of one minute that were not verifiably from the head-end (unreadable,
/// unknown key, bad signature) and came beyond the per-minute allowance of individual entries, and
/// the messages dropped unread because the receive queues were full or they were too large
/// (issue 17 #7). They are not answered and get no entry of their own, but none goes unseen: the
/// minute's summary counts them by reason and names the first and the last read by the SHA-256 of
/// the message (Docs/mqtt-api.md §11.7). A signed command that is refused is never summarised.
struct UnverifiedAuditSummary: Equatable {
    /// The audit `result` of a summary row.
    static let result = "unverified-summary"

    /// The minute (milliseconds since 1970 / 60 000).
    let minute: Int64
    private(set) var counts: [String: Int] = [:]
    /// The SHA-256 of the first and the last message counted whose bytes were seen (nil while only
    /// messages dropped before they were copied, such as oversized ones, were counted).
    private(set) var firstDigest: [UInt8]?
    private(set) var lastDigest: [UInt8]?
    private(set) var lastCommandID: String

    init(minute: Int64, reason: String, count: Int = 1, digest: [UInt8]?, commandID: String) {
        self.minute = minute
        firstDigest = digest
        lastDigest = digest
        lastCommandID = commandID
        counts[reason] = count
    }

    /// Counts `count` more messages for `reason`; `digest` is the last of them (nil: not seen).
    mutating func add(reason: String, count: Int = 1, digest: [UInt8]?, commandID: String) {
        counts[reason, default: 0] += count
        if let digest {
            if firstDigest == nil { firstDigest = digest }
            lastDigest = digest
        }
        if !commandID.isEmpty { lastCommandID = commandID }
    }

    var total: Int { counts.values.reduce(0, +) }

    /// "bad-signature 3, malformed 57" in the order of the reasons' names.
    var countsText: String { counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") }

    /// The summary row: time is the minute's start; `arguments` holds the counts and both digests as
    /// canonical JSON (`{"counts":{…},"first":"<hex>","last":"<hex>"}`; the digests are left out
    /// while no counted message was read).
    func entry() -> AuditEntry {
        let counts = JSONValue.object(self.counts.sorted { $0.key < $1.key }.map {
            JSONMember(key: $0.key, value: .number(Double($0.value), text: String($0.value)))
        })
        var members = [JSONMember(key: "counts", value: counts)]
        var digests = ""
        if let firstDigest, let lastDigest {
            members.append(JSONMember(key: "first", value: .string(Hex.encode(firstDigest))))
            members.append(JSONMember(key: "last", value: .string(Hex.encode(lastDigest))))
            digests = "; first SHA-256 \(Hex.encode(firstDigest)), last \(Hex.encode(lastDigest))"
        }
        let last = lastCommandID.isEmpty ? "" : " (the last named command \(lastCommandID))"
        return AuditEntry(time: Timestamp(milliseconds: minute * 60_000), keyID: "", role: "", verb: "",
                          arguments: String(decoding: CanonicalJSON.render(.object(members)), as: UTF8.self), result: Self.result,
                          commandID: nil,
                          message: "\(total) command messages this minute not answered (unverifiable beyond the allowance, or dropped unread): "
                              + "\(countsText)\(digests)\(last)")
    }
}

/// A command message dropped before the command thread read it, for the audit summary.
public struct DroppedCommandMessage: Sendable {
    /// Why it was dropped; the reason's raw value is its key in the summary row's counts.
    public enum Reason: String, Sendable {
        /// The command queue (64 messages, 1 MiB) or the MQTT receive queue was full.
        case queueFull = "dropped-queue-full"
        /// Larger than any signed command can be.
        case oversized = "dropped-oversized"
    }

    public var reason: Reason
    /// The message's bytes when they were received (nil when dropped before being copied).
    public var payload: [UInt8]?

    public init(reason: Reason, payload: [UInt8]?) {
        self.reason = reason
        self.payload = payload
    }
}
