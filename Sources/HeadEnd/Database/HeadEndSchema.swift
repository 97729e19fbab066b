import SQLite

/// The head-end database's schema history, recorded in `PRAGMA user_version`. Each migration runs
/// once in its own transaction. Never edit a released migration: add the next one. Docs/headend.md
/// explains every table.
enum HeadEndSchema {
    static let migrations: [SQLiteMigration] = [
        SQLiteMigration(version: 1, summary: "devices, keys, batches, snapshots, events, status, rejections", sql: """
            -- Counters shared by every process using the database (registry_version).
            CREATE TABLE meta (
                name TEXT PRIMARY KEY,
                value INTEGER NOT NULL
            ) STRICT, WITHOUT ROWID;
            INSERT INTO meta VALUES ('registry_version', 0);
            -- Every device the head-end has heard of. A removed device keeps its row and its data;
            -- registered = 0 makes its batches rejected as unknownDevice.
            CREATE TABLE devices (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                registered INTEGER NOT NULL CHECK (registered IN (0, 1)),
                added INTEGER NOT NULL
            ) STRICT;
            -- The device's public keys: Ed25519 keys verify its batches; X25519 keys are for downlink sealing.
            CREATE TABLE device_keys (
                device INTEGER NOT NULL REFERENCES devices(id),
                key_id TEXT NOT NULL,
                algorithm TEXT NOT NULL CHECK (algorithm IN ('ed25519', 'x25519')),
                public_key BLOB NOT NULL CHECK (length(public_key) = 32),
                added INTEGER NOT NULL,
                PRIMARY KEY (device, key_id)
            ) STRICT, WITHOUT ROWID;
            -- One row per accepted batch. The primary key is the dedup key of Docs/mqtt-api.md §3.3.
            CREATE TABLE batches (
                device INTEGER NOT NULL,
                sequence INTEGER NOT NULL,
                digest BLOB NOT NULL,
                kind INTEGER NOT NULL,
                flags INTEGER NOT NULL,
                received INTEGER NOT NULL,
                range_start INTEGER NOT NULL,
                range_end INTEGER NOT NULL,
                interval_seconds INTEGER NOT NULL,
                meter_count INTEGER NOT NULL,
                value_count INTEGER NOT NULL,
                sealing_key TEXT NOT NULL,
                signing_key TEXT NOT NULL,
                PRIMARY KEY (device, sequence)
            ) STRICT, WITHOUT ROWID;
            -- Meter ids are text on the wire; snapshots store a number per (device, meter).
            CREATE TABLE meters (
                id INTEGER PRIMARY KEY,
                device INTEGER NOT NULL,
                name TEXT NOT NULL,
                UNIQUE (device, name)
            ) STRICT;
            -- The ordered quantity list of snapshots, stored once: names joined by ','.
            CREATE TABLE layouts (
                id INTEGER PRIMARY KEY,
                quantities TEXT NOT NULL UNIQUE
            ) STRICT;
            -- One row per (device, series, interval, meter): the values in the archive's compact
            -- snapshot encoding (Archive.SnapshotCodec). Clustered by device and time for export.
            CREATE TABLE snapshots (
                device INTEGER NOT NULL,
                series INTEGER NOT NULL CHECK (series IN (0, 1)),
                interval_start INTEGER NOT NULL,
                meter INTEGER NOT NULL,
                sequence INTEGER NOT NULL,
                layout INTEGER NOT NULL,
                data BLOB NOT NULL,
                PRIMARY KEY (device, series, interval_start, meter)
            ) STRICT, WITHOUT ROWID;
            CREATE TABLE events (
                device INTEGER NOT NULL,
                sequence INTEGER NOT NULL,
                position INTEGER NOT NULL,
                time INTEGER NOT NULL,
                kind INTEGER NOT NULL,
                severity INTEGER NOT NULL,
                bus TEXT,
                meter TEXT,
                message TEXT NOT NULL,
                PRIMARY KEY (device, sequence, position)
            ) STRICT, WITHOUT ROWID;
            CREATE INDEX events_by_time ON events(device, time);
            -- The newest retained status document of each registered device (informational, unsigned).
            CREATE TABLE device_status (
                device INTEGER PRIMARY KEY,
                received INTEGER NOT NULL,
                state TEXT NOT NULL,
                since INTEGER,
                unexpected INTEGER,
                agent TEXT,
                last_sequence INTEGER,
                pending INTEGER,
                oldest_pending INTEGER
            ) STRICT;
            -- Rejected batches of registered devices, counted per reason.
            CREATE TABLE rejections (
                device INTEGER NOT NULL,
                reason TEXT NOT NULL,
                count INTEGER NOT NULL,
                last_time INTEGER NOT NULL,
                last_sequence INTEGER,
                PRIMARY KEY (device, reason)
            ) STRICT, WITHOUT ROWID;
            """),
        SQLiteMigration(version: 2, summary: "command counters", sql: """
            -- The last command counter used with each command key (Docs/mqtt-api.md §11): devices refuse a
            -- counter that is not above the last one they saw from that key.
            CREATE TABLE command_counters (
                key_id TEXT PRIMARY KEY,
                value INTEGER NOT NULL
            ) STRICT, WITHOUT ROWID;
            """),
        SQLiteMigration(version: 3, summary: "enrolment requests", sql: """
            -- Enrolment requests waiting for the operator (Docs/mqtt-api.md §12): one per device, the newest
            -- verified request as received. Approving registers the device with the request's keys and
            -- deletes the row; nothing else from an unapproved device is stored.
            CREATE TABLE enrolments (
                device TEXT PRIMARY KEY,
                key_id TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                installer TEXT NOT NULL,
                note TEXT NOT NULL,
                time INTEGER NOT NULL,
                received INTEGER NOT NULL,
                request BLOB NOT NULL
            ) STRICT, WITHOUT ROWID;
            """),
        SQLiteMigration(version: 4, summary: "clock figures per batch, command audit", sql: """
            -- Per reading batch: its snapshots, how many the gateway took unsynchronised, and the largest
            -- |meter time - gateway time| (the fleet list's clock quality). Batches stored before: 0 / NULL.
            ALTER TABLE batches ADD COLUMN snapshot_count INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE batches ADD COLUMN unsynced_snapshots INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE batches ADD COLUMN meter_skew_ms INTEGER;
            -- Every command sent (headend command, a dashboard), and its verified reply once it arrives.
            CREATE TABLE command_audit (
                device TEXT NOT NULL,
                command_id TEXT NOT NULL,
                verb TEXT NOT NULL,
                key_id TEXT NOT NULL,
                counter INTEGER NOT NULL,
                arguments TEXT NOT NULL,
                issued_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL,
                reply_status TEXT,
                reply_code TEXT,
                reply_message TEXT,
                reply_received INTEGER,
                PRIMARY KEY (key_id, counter)
            ) STRICT, WITHOUT ROWID;
            CREATE INDEX command_audit_by_device ON command_audit(device, issued_at);
            CREATE INDEX events_by_severity ON events(severity, device);
            """),
    ]

    static let migrator = SQLiteMigrator(migrations)

    static var latestVersion: Int32 { migrator.latestVersion }

    /// Brings the database to `latestVersion` through the one migrator (which re-reads the version
    /// inside each transaction: two head-ends may start together). Returns the versions applied.
    static func migrate(_ connection: SQLiteConnection) throws -> [Int32] {
        do {
            return try migrator.migrate(connection)
        } catch let e as SQLiteSchemaTooNew {
            throw HeadEndError.schemaTooNew(found: e.found, supported: e.supported, path: e.path)
        }
    }
}
