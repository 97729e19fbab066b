import CSQLite
@testable import SQLite
import Testing
import TestSupport

@Suite struct SQLiteConnectionTests {
    @Test func errorsCarryCodesStatementAndHint() throws {
        let dir = TemporaryDirectory("sqlite")
        let c = try SQLiteConnection(path: dir.file("t.sqlite"), mode: .readWrite(create: true))
        try c.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)")
        try c.run("INSERT INTO t(v) VALUES (?)", [.text("a")])
        let error = try #require(throws: SQLiteError.self) { try c.run("INSERT INTO t(v) VALUES (?)", [.text("a")]) }
        #expect(error.code == SQLITE_CONSTRAINT)
        #expect(error.extendedCode == 2067) // SQLITE_CONSTRAINT_UNIQUE = 19 | 8 << 8
        #expect(error.kind == .constraint)
        #expect(error.statement == "INSERT INTO t(v) VALUES (?)")
        #expect(error.description.contains("t.sqlite"))
        #expect(!error.description.contains("\"a\""), "bound values never appear in errors")
    }

    @Test func hintsNameWhatToCheck() {
        func hint(_ code: Int32) -> String {
            SQLiteError(code: code, extendedCode: code, statement: "x", message: "m", path: "/var/lib/c/archive.sqlite").hint
        }
        #expect(hint(SQLITE_FULL).contains("free space on /var/lib/c"))
        #expect(hint(SQLITE_BUSY).contains("another process holds the archive"))
        #expect(hint(SQLITE_LOCKED).contains("another process holds the archive"))
        #expect(hint(SQLITE_CORRUPT).contains("damaged"))
        #expect(hint(SQLITE_NOTADB).contains("damaged"))
        for code in [SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_PERM] { #expect(hint(code).contains("owner and mode")) }
    }

    @Test func transactionRollsBackWhenTheBodyThrows() throws {
        struct Boom: Error {}
        let dir = TemporaryDirectory("sqlite")
        let c = try SQLiteConnection(path: dir.file("t.sqlite"), mode: .readWrite(create: true))
        try c.execute("CREATE TABLE t (k INTEGER PRIMARY KEY)")
        #expect(throws: Boom.self) {
            try c.transaction {
                try c.run("INSERT INTO t(k) VALUES (1)")
                throw Boom()
            }
        }
        #expect(try c.queryInt64("SELECT count(*) FROM t") == 0)
        try c.transaction { try c.run("INSERT INTO t(k) VALUES (2)") }
        #expect(try c.queryInt64("SELECT count(*) FROM t") == 1)
    }

    @Test func statementsAreCachedAndReset() throws {
        let dir = TemporaryDirectory("sqlite")
        let c = try SQLiteConnection(path: dir.file("t.sqlite"), mode: .readWrite(create: true))
        let first = try c.prepared("SELECT 1")
        let second = try c.prepared("SELECT 1")
        #expect(first === second)
        // A statement left mid-iteration by withStatement is reset, so the next use starts over.
        for _ in 0..<3 {
            let v = try c.withStatement("WITH RECURSIVE s(v) AS (SELECT 5 UNION ALL SELECT v + 1 FROM s WHERE v < 9) SELECT v FROM s") { s in
                _ = try s.step()
                return s.int64(0)
            }
            #expect(v == 5)
        }
    }

    @Test func openingAMissingFileWithoutCreateFailsWithCantOpen() {
        let dir = TemporaryDirectory("sqlite")
        let error = #expect(throws: SQLiteError.self) {
            try SQLiteConnection(path: dir.file("nope/x.sqlite"), mode: .readWrite(create: false))
        }
        #expect(error?.code == SQLITE_CANTOPEN)
        #expect(error?.statement == "open")
        #expect(error?.kind == .permission)
    }

    @Test func aClosedConnectionFailsCleanly() throws {
        let dir = TemporaryDirectory("sqlite")
        let c = try SQLiteConnection(path: dir.file("t.sqlite"), mode: .readWrite(create: true))
        c.close()
        let error = #expect(throws: SQLiteError.self) { try c.execute("SELECT 1") }
        #expect(error?.code == SQLITE_MISUSE)
    }
}
