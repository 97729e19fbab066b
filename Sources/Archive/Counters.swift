import ConcentratorCore
import SQLite

extension ArchiveWrite where Result == Int64 {
    /// Adds one to the counter `name` (starting at 1) and returns the new value after it is durable,
    /// so a value handed out (a nonce, a batch number) is never handed out again, even after a crash.
    public static func nextCounterValue(_ name: String) -> ArchiveWrite {
        ArchiveWrite("advance counter \(name)") { writer in
            let c = writer.connection
            return try c.transaction {
                try c.queryInt64("""
                    INSERT INTO counters(name, value) VALUES (?, 1)
                    ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value
                    """, [.text(name)]) ?? 0
            }
        }
    }
}

extension ArchiveWrite where Result == Bool {
    /// Stores `value` as the counter's new value if it is greater than the stored one (a replay check:
    /// a command counter must grow). Returns false, storing nothing, when it is not greater.
    public static func raiseCounter(_ name: String, to value: Int64) -> ArchiveWrite {
        ArchiveWrite("raise counter \(name)") { writer in
            let c = writer.connection
            return try c.transaction {
                if let current = try c.queryInt64("SELECT value FROM counters WHERE name = ?", [.text(name)]),
                   current >= value { return false }
                try c.run("INSERT INTO counters(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                          [.text(name), .integer(value)])
                return true
            }
        }
    }
}

extension ArchiveReader {
    /// The counter's stored value, or nil if it was never set.
    @available(*, noasync, message: "blocks on SQLite; from async code use ArchiveStore.read")
    public func counterValue(_ name: String) throws(ArchiveError) -> Int64? {
        try locked("read counter \(name)") {
            try connection.queryInt64("SELECT value FROM counters WHERE name = ?", [.text(name)])
        }
    }
}
