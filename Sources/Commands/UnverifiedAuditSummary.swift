import Archive
import ConcentratorCore
import Wire

/// The command messages of one minute that were not verifiably from the head-end (unreadable,
/// unknown key, bad signature) and came beyond the per-minute allowance of individual entries
/// (issue 17 #7). They are not answered and get no entry of their own, but none goes unseen: the
/// minute's summary counts them by reason and names the first and the last by the SHA-256 of the
/// message (Docs/mqtt-api.md §11.7). A signed command that is refused is never summarised.
struct UnverifiedAuditSummary: Equatable {
    /// The audit `result` of a summary row.
    static let result = "unverified-summary"

    /// The minute (milliseconds since 1970 / 60 000).
    let minute: Int64
    private(set) var counts: [String: Int] = [:]
    private(set) var firstDigest: [UInt8]
    private(set) var lastDigest: [UInt8]
    private(set) var lastCommandID: String

    init(minute: Int64, reason: String, digest: [UInt8], commandID: String) {
        self.minute = minute
        firstDigest = digest
        lastDigest = digest
        lastCommandID = commandID
        counts[reason] = 1
    }

    mutating func add(reason: String, digest: [UInt8], commandID: String) {
        counts[reason, default: 0] += 1
        lastDigest = digest
        lastCommandID = commandID
    }

    var total: Int { counts.values.reduce(0, +) }

    /// "bad-signature 3, malformed 57" in the order of the reasons' names.
    var countsText: String { counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") }

    /// The summary row: time is the minute's start; `arguments` holds the counts and both digests as
    /// canonical JSON (`{"counts":{…},"first":"<hex>","last":"<hex>"}`).
    func entry() -> AuditEntry {
        let counts = JSONValue.object(self.counts.sorted { $0.key < $1.key }.map {
            JSONMember(key: $0.key, value: .number(Double($0.value), text: String($0.value)))
        })
        let arguments = JSONValue.object([
            JSONMember(key: "counts", value: counts),
            JSONMember(key: "first", value: .string(Hex.encode(firstDigest))),
            JSONMember(key: "last", value: .string(Hex.encode(lastDigest))),
        ])
        let last = lastCommandID.isEmpty ? "" : " (the last named command \(lastCommandID))"
        return AuditEntry(time: Timestamp(milliseconds: minute * 60_000), keyID: "", role: "", verb: "",
                          arguments: String(decoding: CanonicalJSON.render(arguments), as: UTF8.self), result: Self.result,
                          commandID: nil,
                          message: "\(total) unverifiable command messages beyond the allowance this minute, not answered: \(countsText); "
                              + "first SHA-256 \(Hex.encode(firstDigest)), last \(Hex.encode(lastDigest))\(last)")
    }
}
