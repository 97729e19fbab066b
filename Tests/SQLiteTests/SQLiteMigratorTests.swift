import SQLite
import Testing
import TestSupport

/// The one migrator both the archive and the head-end run their schemas through.
@Suite struct SQLiteMigratorTests {
    static let migrations = [
        SQLiteMigration(version: 1, summary: "t", sql: "CREATE TABLE t (k INTEGER PRIMARY KEY)"),
        SQLiteMigration(version: 2, summary: "u", sql: "CREATE TABLE u (k INTEGER PRIMARY KEY)"),
    ]

    @Test func appliesEachMigrationOnceAndRecordsTheVersion() throws {
        let dir = TemporaryDirectory("migrator")
        let first = try SQLiteConnection(path: dir.file("m.sqlite"), mode: .readWrite(create: true))
        let second = try SQLiteConnection(path: dir.file("m.sqlite"), mode: .readWrite(create: false))
        defer { first.close(); second.close() }
        #expect(try SQLiteMigrator(Array(Self.migrations.prefix(1))).migrate(first) == [1])
        // A second process with a newer build finds version 1 and applies only version 2.
        #expect(try SQLiteMigrator(Self.migrations).migrate(second) == [2])
        #expect(try SQLiteMigrator(Self.migrations).migrate(first) == [])
        #expect(try SQLiteMigrator.version(of: first) == 2)
        #expect(try first.queryInt64("SELECT count(*) FROM sqlite_master WHERE name IN ('t', 'u')") == 2)
    }

    @Test func refusesAFileWrittenByANewerBuild() throws {
        let dir = TemporaryDirectory("migrator")
        let c = try SQLiteConnection(path: dir.file("m.sqlite"), mode: .readWrite(create: true))
        defer { c.close() }
        try c.execute("PRAGMA user_version = 7")
        #expect(throws: SQLiteSchemaTooNew(found: 7, supported: 2, path: c.path)) { try SQLiteMigrator(Self.migrations).migrate(c) }
        #expect(try SQLiteMigrator.version(of: c) == 7)
    }

    @Test func aFailedMigrationLeavesTheVersionBeforeIt() throws {
        let dir = TemporaryDirectory("migrator")
        let c = try SQLiteConnection(path: dir.file("m.sqlite"), mode: .readWrite(create: true))
        defer { c.close() }
        let broken = Self.migrations + [SQLiteMigration(version: 3, summary: "bad", sql: "CREATE TABLE t (k)")]
        #expect(throws: SQLiteError.self) { try SQLiteMigrator(broken).migrate(c) }
        #expect(try SQLiteMigrator.version(of: c) == 2)
    }
}
