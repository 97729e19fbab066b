import ConcentratorCore
import Foundation
@testable import HeadEnd
import PostgreSQL
import Testing
import TestSupport

/// Head-end workers started together on an empty PostgreSQL database: each migrates under one
/// advisory lock, and one that looked before another applied the schema must find the work done
/// once it holds the lock. `to_regclass` answered from the connection's stale catalog cache (the
/// table "did not exist" for it), so the late worker applied migration 1 again and died with
/// 'relation "meta" already exists' (seen starting scripts/fleet-demo.sh's three workers).
@Suite struct PostgresMigrationRaceTests {
    @Test func aWorkerThatLookedBeforeAnotherMigratedFindsTheSchemaDone() async throws {
        try await withTwoConnections { late, first in
            #expect(try late.schemaVersion() == 0, "an empty database")
            let applied = try PostgresHeadEndSchema.migrator.migrate(first)
            #expect(applied.first == 1 && applied.last == PostgresHeadEndSchema.latestVersion)
            #expect(try late.schemaVersion() == PostgresHeadEndSchema.latestVersion, "the other connection sees the committed schema")
            #expect(try PostgresHeadEndSchema.migrator.migrate(late).isEmpty, "nothing is applied twice")
        }
    }

    /// The race itself, made deterministic: the late worker's migration transaction began (and
    /// looked) before the other committed, as when it waits for the advisory lock. Inside that
    /// transaction the version must be read afresh, not from the transaction's catalog cache.
    @Test func theVersionIsReadAfreshInsideATransactionThatBeganBeforeTheOtherCommitted() async throws {
        try await withTwoConnections { late, first in
            try late.execute("BEGIN")
            #expect(try late.schemaVersion() == 0)
            _ = try PostgresHeadEndSchema.migrator.migrate(first)
            #expect(try late.schemaVersion() == PostgresHeadEndSchema.latestVersion, "a stale 0 makes the late worker apply migration 1 again")
            try late.execute("ROLLBACK")
        }
    }

    /// Three workers opening a fresh database at the same moment, five times over: all open it.
    @Test func threeWorkersOpeningAFreshDatabaseTogetherAllStart() async throws {
        let cluster = try await PostgresCluster.shared()
        for round in 0..<5 {
            let url = try await runOnDedicatedThread { try cluster.createDatabase() }
            let results = try await withThrowingTaskGroup(of: String?.self) { group in
                for _ in 0..<3 {
                    group.addTask {
                        try await runOnDedicatedThread { () -> String? in
                            do {
                                let store = try PostgresHeadEndStore.open(url: url, now: FreshStore.now)
                                store.close()
                                return nil
                            } catch {
                                return "\(error)"
                            }
                        }
                    }
                }
                var out: [String?] = []
                for try await r in group { out.append(r) }
                return out
            }
            #expect(results.compactMap { $0 }.isEmpty, "round \(round): \(results.compactMap { $0 })")
        }
    }

    /// Two connections ("late" and "first") to a new database of the shared test cluster.
    private func withTwoConnections(_ body: @Sendable @escaping (PostgresConnection, PostgresConnection) throws -> Void) async throws {
        let cluster = try await PostgresCluster.shared()
        let url = try await runOnDedicatedThread { try cluster.createDatabase() }
        try await runOnDedicatedThread {
            let late = try PostgresConnection(url: url, location: "late")
            let first = try PostgresConnection(url: url, location: "first")
            defer {
                late.close()
                first.close()
            }
            try body(late, first)
        }
    }
}
