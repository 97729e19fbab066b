import Archive
import Foundation
import Platform
import SQLite
import Testing
import TestSupport

/// kill -9 of a process that commits snapshots, counters and outbox entries as fast as it can, at
/// random moments, at least 50 times. Afterwards: `PRAGMA integrity_check` is ok, nothing is stored
/// twice or half, and everything the writer logged as done (only after the archive returned) is there.
/// The writer and checker are hidden modes of archive-bench (Benchmarks/archive-bench/Crash*.swift);
/// scripts/crash-archive.sh runs the same loop 1,000 times.
@Suite struct CrashTests {
    @Test func killNineDuringCommitsLosesNothingAcknowledged() throws {
        let exe = BuiltProducts.path("archive-bench")
        try #require(FileManager.default.isExecutableFile(atPath: exe),
                     "\(exe) is missing: build everything first (swift build --build-tests)")
        let dir = TemporaryDirectory("crash")
        let state = dir.path + "/state"
        let log = dir.file("archived.log")
        var random = SystemRandomNumberGenerator()
        let started = ContinuousClock.now
        var kills = 0
        while kills < 50 || (kills < 80 && ContinuousClock.now - started < .seconds(40)) {
            let child = try ChildProcess(exe, ["--crash-writer", state, log], name: "writer", directory: dir)
            Thread.sleep(forTimeInterval: Double(Int.random(in: 15...250, using: &random)) / 1000)
            let early = !child.isRunning
            child.stop(signal: SIGKILL)
            if early {
                Issue.record("the crash writer exited by itself: \(child.stderr)")
                return
            }
            kills += 1
        }
        #expect(ContinuousClock.now - started < .seconds(60))

        // The checker's own verdict (every logged item present, no partial groups, exact values).
        let check = try runCommand(exe, ["--crash-check", state, log])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        let verdict = try #require(try JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as? [String: Any])
        #expect(verdict["integrity"] as? String == "ok")
        #expect(verdict["missing"] as? Int == 0)
        #expect(verdict["partial_groups"] as? Int == 0)
        #expect((verdict["archived_logged"] as? Int ?? 0) >= 20, "the writer made progress between kills: \(verdict)")

        // Independently: integrity, and no key stored twice in any form.
        let c = try SQLiteConnection(path: state + "/archive.sqlite", mode: .readOnly)
        #expect(try c.queryText("PRAGMA integrity_check") == "ok")
        #expect(try c.queryInt64("SELECT count(*) - count(DISTINCT key) FROM readings") == 0)
        #expect(try c.queryInt64("SELECT count(*) FROM (SELECT key >> 16 AS m, count(*) AS n FROM readings GROUP BY m HAVING n % 8 != 0)") == 0,
                "every interval holds whole buses (8 meters each)")
        print("crash test: \(kills) kills in \(ContinuousClock.now - started); \(check.stdout)")
    }
}
