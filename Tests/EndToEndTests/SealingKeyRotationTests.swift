import Archive
import ConcentratorCore
import Foundation
import Platform
import Testing
import TestSupport

/// Issue 10 §4a: a head-end rotates its sealing key while batches sealed to the old key wait in the
/// agent's outbox; the operator gives the agent the new key (SIGHUP) and the head-end retires the
/// old one. Every pending batch must still arrive (re-sealed to the new key, same sequence) and the
/// outbox must drain to 0.
@Suite(.serialized) struct SealingKeyRotationTests {
    @Test(.timeLimit(.minutes(3))) func batchesSealedToARetiredKeyAreReSealedAndTheOutboxDrains() async throws {
        let s = try await UplinkContractTests.Setup(ackTimeoutSeconds: 10)
        s.headEnd.acknowledging = false
        let agent = try s.startAgent("agent")
        // A backlog sealed to the first key, received but never acknowledged.
        #expect(await eventuallyAsync(timeout: .seconds(60)) { s.headEnd.batchesReceived >= 3 }, "\(agent.log.suffix(1500))")

        // Rotation: the head-end holds both keys; the device gets the new public key and reloads.
        let newPath = s.dir.file("headend-sealing-2.json")
        let newKey = try s.headEnd.rotateSealingKey(writingTo: newPath)
        let text = try String(contentsOfFile: s.config, encoding: .utf8)
        try #require(text.contains(s.dir.file("headend-sealing.json")))
        try text.replacingOccurrences(of: s.dir.file("headend-sealing.json"), with: newPath)
            .write(toFile: s.config, atomically: true, encoding: .utf8)
        kill(agent.child.pid, SIGHUP)
        #expect(await eventuallyAsync(timeout: .seconds(20)) { agent.log.contains("head-end sealing key \(newKey.publicKey.id)") },
                "the uplink restarted with the new key: \(agent.log.suffix(1500))")
        // The head-end retires the old key and acknowledges again.
        s.headEnd.retireSealingKey(s.headEnd.sealing)
        s.headEnd.acknowledging = true

        #expect(await eventuallyAsync(timeout: .seconds(60)) { s.headEnd.unknownSealingKeyRejections > 0 },
                "the old batches went again and were rejected with reason 1: \(agent.log.suffix(1500))")
        #expect(await eventuallyAsync(timeout: .seconds(60)) { s.outboxDepth(agent) == 0 }, "\(agent.log.suffix(3000))")
        #expect(agent.log.contains("sealing it again to the current key"))
        #expect(!agent.log.contains("batch_rejected"), "no batch was held: \(agent.log.suffix(1500))")
        #expect(agent.child.stop() == 0)

        // Everything archived arrived, each snapshot once, with its values.
        let archived = try s.archived()
        let delivered = s.headEnd.stored
        #expect(archived.count >= 12)
        #expect(s.headEnd.duplicates.isEmpty, "\(s.headEnd.duplicates.prefix(5))")
        let missing = Set(archived.keys).subtracting(delivered.keys)
        let reader = try ArchiveReader(path: s.dir.file("state/archive.sqlite"))
        defer { reader.close() }
        let queued = try { () throws -> [Range<Timestamp>] in
            (try reader.outboxPending(limit: 1000) + reader.outboxUnsealed(limit: 1000)).compactMap(\.item.intervals)
        }()
        for key in missing {
            // Archived after the last drain (at shutdown) only.
            #expect(queued.contains { $0.contains(archived[key]!.intervalStart) }, "\(key) neither delivered nor queued")
        }
        for (key, snapshot) in delivered { #expect(archived[key]?.values == snapshot.values, "\(key) differs") }
    }
}
