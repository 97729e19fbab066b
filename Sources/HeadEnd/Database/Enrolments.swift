import ConcentratorCore
import SQLite
import Wire

/// An enrolment request waiting for the operator (`headend devices pending`).
public struct PendingEnrolment: Hashable, Sendable {
    public var device: String
    /// The device's signing key: its id and the fingerprint the installer reads out.
    public var keyID: String
    public var fingerprint: String
    public var installer: String
    public var note: String
    /// The device's clock when it made the request, and when the head-end received it.
    public var time: Timestamp
    public var received: Timestamp
    /// Whether the device is registered already (with other keys: approving adds these beside them).
    public var registered: Bool
}

/// What became of a received enrolment request.
public enum EnrolmentRecording: Hashable, Sendable {
    /// Kept (or refreshed) for the operator.
    case pending
    /// The device is registered with this signing key already; nothing to do.
    case alreadyRegistered
    /// Too many requests are pending; refused until the operator clears some.
    case tooMany
}

/// A pending request as stored: the fingerprint of its signing key and the signed frame as received
/// (verified again at approval).
public struct StoredEnrolmentRequest: Hashable, Sendable {
    public var fingerprint: String
    public var frame: [UInt8]

    public init(fingerprint: String, frame: [UInt8]) {
        self.fingerprint = fingerprint
        self.frame = frame
    }
}

extension PendingEnrolment {
    /// Most requests kept pending at once (a flood of forged device ids cannot grow the table without end).
    public static let maximumPending = 1000
}

/// Enrolment through any store: approval after the operator compared the fingerprint, written once
/// over the stores' primitives (`pendingEnrolmentRequest`, `registerDevice`, `dismissEnrolment`).
extension HeadEndStore {
    /// Approves the pending request of `device` if `fingerprint` matches its signing key's: the
    /// whole `sha256:…` fingerprint, or at least its first 16 hexadecimal digits (with or without
    /// `sha256:`). Registers the device with the request's keys and removes the request. Returns the
    /// ids of the keys registered.
    public func approveEnrolment(device: String, fingerprint given: String, at now: Timestamp) throws(HeadEndError) -> [KeyID] {
        guard let stored = try pendingEnrolmentRequest(device: device) else {
            throw .invalidRequest("no enrolment request of \(device) is pending (headend devices pending lists them)")
        }
        guard EnrolmentFingerprint.matches(given, stored.fingerprint) else {
            throw .invalidRequest("the fingerprint does not match the one \(device) sent (\(stored.fingerprint.prefix(23))…): do not approve; "
                + "ask the installer to read it again from the console")
        }
        let request: EnrolmentRequest
        do { request = try EnrolmentRequest.verify(stored.frame, topicDevice: device) } catch {
            throw .invalidRequest("the stored request of \(device) no longer verifies: \(error)")
        }
        let added = try registerDevice(device, keys: request.keys, at: now)
        try dismissEnrolment(device: device)
        return added
    }
}

/// Compares the fingerprint an operator types with the stored one.
enum EnrolmentFingerprint {
    /// Whether the operator's `given` fingerprint is `actual`, whole or its first 16+ hex digits;
    /// spaces, colons and case are ignored.
    static func matches(_ given: String, _ actual: String) -> Bool {
        func digits(_ s: String) -> String {
            var t = s.lowercased()
            if t.hasPrefix("sha256:") { t.removeFirst(7) }
            return String(t.filter { $0 != " " && $0 != ":" && $0 != "-" })
        }
        let a = digits(actual), g = digits(given)
        return g.count >= 16 && g.allSatisfy(\.isHexDigit) && a.hasPrefix(g)
    }
}

/// Enrolment requests in the SQLite store.
extension HeadEndDatabase {
    /// Keeps a verified request (the newest per device).
    public func recordEnrolment(_ request: EnrolmentRequest, frame: [UInt8], at now: Timestamp) throws(HeadEndError) -> EnrolmentRecording {
        guard let signing = request.signingKey else { return .tooMany }
        return try writeTransaction {
            if let device = try deviceNumber(request.deviceID),
               try connection.queryInt64("SELECT count(*) FROM device_keys WHERE device = ? AND key_id = ?",
                                         [.integer(device), .text(signing.id.hex)]) ?? 0 > 0,
               try connection.queryInt64("SELECT registered FROM devices WHERE id = ?", [.integer(device)]) == 1 {
                return .alreadyRegistered
            }
            let known = try connection.queryInt64("SELECT count(*) FROM enrolments WHERE device = ?", [.text(request.deviceID)]) ?? 0
            let total = try connection.queryInt64("SELECT count(*) FROM enrolments") ?? 0
            if known == 0, total >= Int64(PendingEnrolment.maximumPending) { return .tooMany }
            try connection.run("""
                INSERT OR REPLACE INTO enrolments (device, key_id, fingerprint, installer, note, time, received, request)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(request.deviceID), .text(signing.id.hex), .text(request.fingerprint), .text(request.installer),
                      .text(request.note), .integer(request.time.milliseconds), .integer(now.milliseconds), .blob(frame)])
            return .pending
        }
    }

    /// Every pending request, by device.
    public func pendingEnrolments() throws(HeadEndError) -> [PendingEnrolment] {
        try rows("""
            SELECT e.device, e.key_id, e.fingerprint, e.installer, e.note, e.time, e.received, coalesce(d.registered, 0)
            FROM enrolments e LEFT JOIN devices d ON d.name = e.device ORDER BY e.device
            """) { s in
            PendingEnrolment(device: s.text(0), keyID: s.text(1), fingerprint: s.text(2), installer: s.text(3), note: s.text(4),
                             time: Timestamp(milliseconds: s.int64(5)), received: Timestamp(milliseconds: s.int64(6)), registered: s.int64(7) == 1)
        }
    }

    public func pendingEnrolmentRequest(device: String) throws(HeadEndError) -> StoredEnrolmentRequest? {
        try rows("SELECT fingerprint, request FROM enrolments WHERE device = ?", [.text(device)]) { s in
            StoredEnrolmentRequest(fingerprint: s.text(0), frame: s.blob(1))
        }.first
    }

    /// Drops the pending request of `device`. Returns false when there was none.
    @discardableResult
    public func dismissEnrolment(device: String) throws(HeadEndError) -> Bool {
        try writeTransaction {
            try connection.run("DELETE FROM enrolments WHERE device = ?", [.text(device)])
            return connection.changes > 0
        }
    }

    public func commissioningReports() throws(HeadEndError) -> [String: DeviceStatusReport.Commissioning] {
        var reports: [String: DeviceStatusReport.Commissioning] = [:]
        for row in try rows("SELECT d.name, e.time, e.message FROM events e JOIN devices d ON d.id = e.device WHERE e.kind = ? ORDER BY e.time",
                            [.integer(Int64(GatewayEvent.Kind.commissioningReport.rawValue))], { s in (s.text(0), s.int64(1), s.text(2)) }) {
            if let c = DeviceStatusReport.Commissioning(time: Timestamp(milliseconds: row.1), text: row.2) { reports[row.0] = c }
        }
        return reports
    }
}
