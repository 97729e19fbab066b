import ConcentratorCore
import PostgreSQL
import Wire

/// Enrolment requests and commissioning reports in the PostgreSQL store: the same semantics as the
/// SQLite store's (`HeadEndDatabase`), so `headend devices pending|approve|dismiss` work on either.
extension PostgresHeadEndStore {
    public func recordEnrolment(_ request: EnrolmentRequest, frame: [UInt8], at now: Timestamp) throws(HeadEndError) -> EnrolmentRecording {
        guard let signing = request.signingKey else { return .tooMany }
        return try transaction {
            // One writer at a time decides about the limit (workers may get requests at once).
            try connection.query("SELECT pg_advisory_xact_lock($1)", [.int64(Self.enrolmentLockKey)])
            let registered = try connection.query("""
                SELECT count(*) FROM device_keys k JOIN devices d ON d.id = k.device WHERE d.name = $1 AND k.key_id = $2 AND d.registered
                """, [.text(request.deviceID), .text(signing.id.hex)]).int64(0, 0)
            if registered > 0 { return .alreadyRegistered }
            let known = try connection.query("SELECT count(*) FROM enrolments WHERE device = $1", [.text(request.deviceID)]).int64(0, 0)
            let total = try connection.query("SELECT count(*) FROM enrolments").int64(0, 0)
            if known == 0, total >= Int64(PendingEnrolment.maximumPending) { return .tooMany }
            try connection.query("""
                INSERT INTO enrolments (device, key_id, fingerprint, installer, note, time, received, request)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                ON CONFLICT (device) DO UPDATE SET key_id = excluded.key_id, fingerprint = excluded.fingerprint,
                    installer = excluded.installer, note = excluded.note, time = excluded.time, received = excluded.received,
                    request = excluded.request
                """, [.text(request.deviceID), .text(signing.id.hex), .text(request.fingerprint), .text(request.installer),
                      .text(request.note), .int64(request.time.milliseconds), .int64(now.milliseconds), .bytes(frame)])
            return .pending
        }
    }

    public func pendingEnrolments() throws(HeadEndError) -> [PendingEnrolment] {
        try run {
            let rows = try connection.query("""
                SELECT e.device, e.key_id, e.fingerprint, e.installer, e.note, e.time, e.received, coalesce(d.registered, false)
                FROM enrolments e LEFT JOIN devices d ON d.name = e.device ORDER BY e.device COLLATE "C"
                """)
            return rows.map { r in
                PendingEnrolment(device: rows.text(r, 0), keyID: rows.text(r, 1), fingerprint: rows.text(r, 2), installer: rows.text(r, 3),
                                 note: rows.text(r, 4), time: Timestamp(milliseconds: rows.int64(r, 5)),
                                 received: Timestamp(milliseconds: rows.int64(r, 6)), registered: rows.bool(r, 7))
            }
        }
    }

    public func pendingEnrolmentRequest(device: String) throws(HeadEndError) -> StoredEnrolmentRequest? {
        try run {
            let rows = try connection.query("SELECT fingerprint, request FROM enrolments WHERE device = $1", [.text(device)])
            return rows.count == 0 ? nil : StoredEnrolmentRequest(fingerprint: rows.text(0, 0), frame: rows.bytes(0, 1))
        }
    }

    @discardableResult
    public func dismissEnrolment(device: String) throws(HeadEndError) -> Bool {
        try run { try connection.query("DELETE FROM enrolments WHERE device = $1", [.text(device)]).affectedRows > 0 }
    }

    public func commissioningReports() throws(HeadEndError) -> [String: DeviceStatusReport.Commissioning] {
        try run {
            let rows = try connection.query("""
                SELECT d.name, e.time, e.message FROM events e JOIN devices d ON d.id = e.device WHERE e.kind = $1 ORDER BY e.time
                """, [.int64(Int64(GatewayEvent.Kind.commissioningReport.rawValue))])
            var reports: [String: DeviceStatusReport.Commissioning] = [:]
            for r in 0..<rows.count {
                if let c = DeviceStatusReport.Commissioning(time: Timestamp(milliseconds: rows.int64(r, 1)), text: rows.text(r, 2)) {
                    reports[rows.text(r, 0)] = c
                }
            }
            return reports
        }
    }

    /// The advisory lock key that serialises enrolment writes ("enrolmen").
    static let enrolmentLockKey: Int64 = 0x65_6E72_6F6C_6D65
}
