import SQLite

/// One numbered schema change of the archive (the one migration type, `SQLite.SQLiteMigration`).
public typealias ArchiveMigration = SQLiteMigration

/// The archive's schema history. Docs/archive.md explains every table.
public enum ArchiveMigrations {
    public static let all: [ArchiveMigration] = [
        ArchiveMigration(version: 1, summary: "readings, meters, layouts, events, counters, outbox, audit", sql: """
            -- Meter identifiers are text in the config; rows store a small number instead.
            CREATE TABLE meters (
                number INTEGER PRIMARY KEY CHECK (number BETWEEN 1 AND 32767),
                name TEXT NOT NULL UNIQUE
            ) STRICT;
            -- The ordered quantity list of a snapshot, stored once (JSON array of quantity names).
            CREATE TABLE layouts (
                id INTEGER PRIMARY KEY,
                quantities TEXT NOT NULL UNIQUE
            ) STRICT;
            -- One row per (interval start minute, series, meter): key = minute << 16 | series << 15 | meter.
            -- Keys grow with time, so inserts append and retention deletes from the front.
            CREATE TABLE readings (
                key INTEGER PRIMARY KEY,
                layout INTEGER NOT NULL,
                data BLOB NOT NULL
            ) STRICT;
            CREATE TABLE events (
                id INTEGER PRIMARY KEY,
                time INTEGER NOT NULL,
                bus TEXT,
                meter TEXT,
                kind TEXT NOT NULL,
                message TEXT NOT NULL
            ) STRICT;
            CREATE INDEX events_by_time ON events(time);
            CREATE TABLE counters (
                name TEXT PRIMARY KEY,
                value INTEGER NOT NULL
            ) STRICT, WITHOUT ROWID;
            -- AUTOINCREMENT: a sequence is never reused, even after its row is acknowledged and deleted.
            CREATE TABLE outbox (
                sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                created INTEGER NOT NULL,
                kind TEXT NOT NULL,
                priority INTEGER NOT NULL DEFAULT 0,
                interval_from INTEGER,
                interval_to INTEGER,
                payload BLOB NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                last_attempt INTEGER
            ) STRICT;
            CREATE TABLE audit (
                id INTEGER PRIMARY KEY,
                time INTEGER NOT NULL,
                key_id TEXT NOT NULL,
                role TEXT NOT NULL,
                verb TEXT NOT NULL,
                arguments TEXT NOT NULL,
                result TEXT NOT NULL
            ) STRICT;
            CREATE INDEX audit_by_time ON audit(time);
            """),
        ArchiveMigration(version: 2, summary: "outbox entries sealed later by the uplink", sql: """
            -- An entry is enqueued in the same transaction as the snapshots it reports, with a recipe
            -- as payload (sealed = 0); the uplink seals it once, with its sequence, and stores the
            -- sealed bytes (sealed = 1), so every resend is byte-identical.
            ALTER TABLE outbox ADD COLUMN sealed INTEGER NOT NULL DEFAULT 1 CHECK (sealed IN (0, 1));
            """),
        ArchiveMigration(version: 3, summary: "stored command replies; command id and message in the audit log", sql: """
            -- The signed reply of every command that ran, by command id: the same command received
            -- again is answered with these bytes and not run again. Pruned with the retention.
            CREATE TABLE command_replies (
                command_id TEXT PRIMARY KEY,
                key_id TEXT NOT NULL,
                time INTEGER NOT NULL,
                reply BLOB NOT NULL
            ) STRICT;
            CREATE INDEX command_replies_by_time ON command_replies(time);
            ALTER TABLE audit ADD COLUMN command_id TEXT;
            ALTER TABLE audit ADD COLUMN message TEXT NOT NULL DEFAULT '';
            """),
        ArchiveMigration(version: 4, summary: "edge monitoring state: alarms, runtime schedules, switching", sql: """
            -- The edge-monitoring state the agent must keep across restarts, one row per part, each the
            -- bytes of its codec (Docs/edge-monitoring.md): 'alarms' (AlarmStateCodec), 'schedules'
            -- (schedules, timers and overrides set by schedule.set), 'switching' (each output's
            -- switching progress), 'identities' (the meters' POD and serial number last reported).
            -- Written in the same transaction as the events they caused.
            CREATE TABLE monitoring_state (
                name TEXT PRIMARY KEY,
                value BLOB NOT NULL,
                updated INTEGER NOT NULL
            ) STRICT, WITHOUT ROWID;
            """),
        ArchiveMigration(version: 5, summary: "outbox entries keep their recipe after sealing", sql: """
            -- Sealing keeps the recipe beside the sealed bytes, so a batch the head-end cannot open
            -- any more (its sealing key retired, ack reason 1) is sealed again to the current key,
            -- same content and sequence. NULL for entries sealed before this version.
            ALTER TABLE outbox ADD COLUMN recipe BLOB;
            """),
    ]

    /// The newest schema version this build knows.
    public static var latestVersion: Int32 { migrator.latestVersion }

    static let migrator = SQLiteMigrator(all)

    /// Brings the database to `latestVersion` through the one migrator, one transaction per
    /// migration. Returns the versions applied.
    static func apply(to connection: SQLiteConnection) throws -> [Int32] {
        do {
            return try migrator.migrate(connection)
        } catch let e as SQLiteSchemaTooNew {
            throw ArchiveError.schemaTooNew(found: e.found, supported: e.supported, path: e.path)
        }
    }
}
