import Archive
import ConcentratorCore
import Foundation
import Testing
import TestSupport

/// The command replies kept for idempotency (schema v3), the audit log's new columns, their
/// retention and the audit export.
@Suite struct CommandStoreTests {
    @Test func aStoredReplyIsFoundByIDReplacedAndPrunedWithTheRetention() async throws {
        let dir = TemporaryDirectory("archive-commands")
        let (store, report) = try openStore(dir)
        #expect(report.schemaVersion >= 3)  // v3 and later (v4 monitoring state, v5 outbox recipes)
        let first = StoredCommandReply(commandID: "c-1", keyID: "a18112b0b7b4225f", time: testOrigin, reply: [1, 2, 3])
        try await store.perform(.storeCommandReply(first))
        #expect(try await store.read { try $0.commandReply(id: "c-1") } == first)
        #expect(try await store.read { try $0.commandReply(id: "c-2") } == nil)
        let amended = StoredCommandReply(commandID: "c-1", keyID: "a18112b0b7b4225f", time: testOrigin.adding(seconds: 60), reply: [9])
        try await store.perform(.storeCommandReply(amended))
        #expect(try await store.read { try $0.commandReply(id: "c-1") } == amended)
        try await store.perform(.storeCommandReply(StoredCommandReply(commandID: "c-3", keyID: "k", time: testOrigin.adding(seconds: 40 * 86_400),
                                                                      reply: [7])))
        let pruned = try await store.prune(now: testOrigin.adding(seconds: 46 * 86_400), retentionDays: 45, budget: .seconds(60))
        #expect(pruned.commandRepliesRemoved == 1 && pruned.complete)
        #expect(try await store.read { try $0.commandReply(id: "c-1") } == nil)
        #expect(try await store.read { try $0.commandReply(id: "c-3") } != nil)
        await store.close()
    }

    @Test func theAuditLogExportsAsCSVAndJSON() async throws {
        let dir = TemporaryDirectory("archive-audit")
        let (store, _) = try openStore(dir)
        var entries: [AuditEntry] = []
        for i in 0..<1203 {
            let role = i % 2 == 0 ? "reader" : "admin"
            let result = i == 5 ? "role-too-low" : "ok"
            let arguments = "{\"action\":\"disconnect\",\"meter\":\"m,\(i)\"}"
            entries.append(AuditEntry(time: testOrigin.adding(milliseconds: Int64(i / 3)), keyID: "k\(i % 2)", role: role, verb: "relay",
                                      arguments: arguments, result: result, commandID: i == 0 ? nil : "c-\(i)", message: "said \"\(i)\""))
        }
        for e in entries { try await store.perform(.recordAudit(e)) }
        #expect(try await store.read { try $0.newestAuditEntries(limit: 2) }.map(\.commandID) == ["c-1202", "c-1201"])

        var csv = ""
        let count = try AuditExport.export(reader: store.reader, from: testOrigin, to: testOrigin.adding(seconds: 3600), json: false) { csv += $0 }
        #expect(count == 1203)
        let lines = csv.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.first == "time,command_id,key_id,role,verb,result,message,arguments")
        #expect(lines[1] == #"2026-03-01T00:00:00Z,,k0,reader,relay,ok,"said ""0""","{""action"":""disconnect"",""meter"":""m,0""}""#)
        #expect(lines[6].hasPrefix("2026-03-01T00:00:00.001Z,c-5,k1,admin,relay,role-too-low,"))
        #expect(lines.count == 1203 + 2, "every entry once, across pages of 1000")

        var json = ""
        _ = try AuditExport.export(reader: store.reader, from: testOrigin, to: testOrigin.adding(seconds: 3600), json: true) { json += $0 }
        let objects = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        #expect(objects.count == 1203)
        #expect(objects[5]["result"] as? String == "role-too-low" && objects[0]["command_id"] is NSNull)
        #expect((objects[7]["arguments"] as? [String: Any])?["meter"] as? String == "m,7", "arguments are embedded as JSON")

        var empty = ""
        _ = try AuditExport.export(reader: store.reader, from: testOrigin.adding(seconds: 7200), to: testOrigin.adding(seconds: 9000), json: true) {
            empty += $0
        }
        #expect(try JSONSerialization.jsonObject(with: Data(empty.utf8)) as? [Any] != nil)
        await store.close()
    }
}
