import ConcentratorCore
import PostgreSQL

/// The head-end's PostgreSQL schema history, through the one migrator (`SchemaMigrator`; the version
/// is the row of `schema_version`). The tables mirror the SQLite store's (`HeadEndSchema`), with
/// PostgreSQL's types; readings (`snapshots`) are partitioned by month of their interval start.
/// Never edit a released migration: add the next one. Docs/headend.md explains every table.
enum PostgresHeadEndSchema {
    static let migrations: [SchemaMigration] = [
        SchemaMigration(version: 1, summary: "devices, keys, batches, partitioned snapshots, events, status, rejections, audit", sql: """
            -- Counters shared by every worker using the database (registry_version).
            CREATE TABLE meta (
                name text PRIMARY KEY,
                value bigint NOT NULL
            );
            INSERT INTO meta VALUES ('registry_version', 0);
            CREATE TABLE devices (
                id bigserial PRIMARY KEY,
                name text NOT NULL UNIQUE,
                registered boolean NOT NULL,
                added bigint NOT NULL
            );
            CREATE TABLE device_keys (
                device bigint NOT NULL REFERENCES devices(id),
                key_id text NOT NULL,
                algorithm text NOT NULL CHECK (algorithm IN ('ed25519', 'x25519')),
                public_key bytea NOT NULL CHECK (length(public_key) = 32),
                added bigint NOT NULL,
                PRIMARY KEY (device, key_id)
            );
            -- One row per accepted batch; the primary key is the dedup key (Docs/mqtt-api.md §3.3).
            -- Not partitioned: the key must be unique across all time.
            CREATE TABLE batches (
                device bigint NOT NULL,
                sequence bigint NOT NULL,
                digest bytea NOT NULL,
                kind smallint NOT NULL,
                flags integer NOT NULL,
                received bigint NOT NULL,
                range_start bigint NOT NULL,
                range_end bigint NOT NULL,
                interval_seconds integer NOT NULL,
                meter_count integer NOT NULL,
                value_count integer NOT NULL,
                sealing_key text NOT NULL,
                signing_key text NOT NULL,
                snapshot_count integer NOT NULL,
                unsynced_snapshots integer NOT NULL,
                meter_skew_ms bigint,
                PRIMARY KEY (device, sequence)
            );
            CREATE TABLE meters (
                id bigserial PRIMARY KEY,
                device bigint NOT NULL,
                name text NOT NULL,
                UNIQUE (device, name)
            );
            CREATE TABLE layouts (
                id bigserial PRIMARY KEY,
                quantities text NOT NULL UNIQUE
            );
            -- The readings: one row per (device, series, interval, meter), the values in the archive's
            -- lossless snapshot encoding (SnapshotCodec). One partition per calendar month (UTC) of
            -- interval_start, named snapshots_yYYYYmMM, created ahead by the workers.
            CREATE TABLE snapshots (
                device bigint NOT NULL,
                series smallint NOT NULL CHECK (series IN (0, 1)),
                interval_start bigint NOT NULL,
                meter bigint NOT NULL,
                sequence bigint NOT NULL,
                layout bigint NOT NULL,
                data bytea NOT NULL,
                PRIMARY KEY (device, series, interval_start, meter)
            ) PARTITION BY RANGE (interval_start);
            CREATE TABLE events (
                device bigint NOT NULL,
                sequence bigint NOT NULL,
                position integer NOT NULL,
                time bigint NOT NULL,
                kind integer NOT NULL,
                severity smallint NOT NULL,
                bus text,
                meter text,
                message text NOT NULL,
                PRIMARY KEY (device, sequence, position)
            );
            CREATE INDEX events_by_time ON events (device, time);
            CREATE INDEX events_by_severity ON events (severity, device);
            CREATE TABLE device_status (
                device bigint PRIMARY KEY,
                received bigint NOT NULL,
                state text NOT NULL,
                since bigint,
                unexpected boolean,
                agent text,
                last_sequence bigint,
                pending bigint,
                oldest_pending bigint
            );
            CREATE TABLE rejections (
                device bigint NOT NULL,
                reason text NOT NULL,
                count bigint NOT NULL,
                last_time bigint NOT NULL,
                last_sequence bigint,
                PRIMARY KEY (device, reason)
            );
            CREATE TABLE command_audit (
                device text NOT NULL,
                command_id text NOT NULL,
                verb text NOT NULL,
                key_id text NOT NULL,
                counter bigint NOT NULL,
                arguments text NOT NULL,
                issued_at bigint NOT NULL,
                expires_at bigint NOT NULL,
                reply_status text,
                reply_code text,
                reply_message text,
                reply_received bigint,
                PRIMARY KEY (key_id, counter)
            );
            CREATE INDEX command_audit_by_device ON command_audit (device, issued_at);
            -- Command counters are sequences, one per command key, created at first use:
            -- command_counter_<key id> (PostgresHeadEndStore.nextCommandCounter).
            """),
        SchemaMigration(version: 2, summary: "enrolment requests", sql: """
            -- Enrolment requests waiting for the operator (Docs/mqtt-api.md §12): one per device, the newest
            -- verified request as received (as the SQLite store's migration 3).
            CREATE TABLE enrolments (
                device text PRIMARY KEY,
                key_id text NOT NULL,
                fingerprint text NOT NULL,
                installer text NOT NULL,
                note text NOT NULL,
                time bigint NOT NULL,
                received bigint NOT NULL,
                request bytea NOT NULL
            );
            """),
    ]

    static let migrator = SchemaMigrator(migrations)

    static var latestVersion: Int32 { migrator.latestVersion }

    /// The partition of `snapshots` for `month`: its name and its range of interval starts in ms.
    static func partition(_ month: CalendarMonth) -> (name: String, from: Int64, to: Int64) {
        let m = month.month < 10 ? "0\(month.month)" : "\(month.month)"
        let y = month.year < 0 ? "n\(-month.year)" : "\(month.year)"
        return ("snapshots_y\(y)m\(m)", month.start.milliseconds, month.next.start.milliseconds)
    }

    /// The advisory lock key that serialises partition creation ("partitio").
    static let partitionLockKey: Int64 = 0x70_6172_7469_7469
}
