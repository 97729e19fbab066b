import ConcentratorCore
import SQLite
import Wire

extension HeadEndDatabase {
    /// The counter for the next command signed with `keyID`: above every counter handed out before
    /// for that key (persisted before it is used), and at least `now` in milliseconds, so that a
    /// head-end whose database was lost or replaced still continues above what devices have seen.
    public func nextCommandCounter(keyID: KeyID, now: Timestamp) throws(HeadEndError) -> Int64 {
        try writeTransaction {
            let last = try connection.queryInt64("SELECT value FROM command_counters WHERE key_id = ?", [.text(keyID.hex)]) ?? 0
            let next = max(last + 1, now.milliseconds)
            guard next <= CommandEnvelope.maximumInteger else {
                throw HeadEndError.other("the command counter of key \(keyID) is exhausted; generate a new command key")
            }
            try connection.run("""
                INSERT INTO command_counters (key_id, value) VALUES (?, ?)
                ON CONFLICT (key_id) DO UPDATE SET value = excluded.value
                """, [.text(keyID.hex), .integer(next)])
            return next
        }
    }
}
