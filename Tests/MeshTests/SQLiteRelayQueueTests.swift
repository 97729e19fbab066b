import ConcentratorCore
import Foundation
@testable import Mesh
import Testing

@Suite("SQLite relay queue")
struct SQLiteRelayQueueTests {
    let t0 = Timestamp(milliseconds: 5_000)

    func temporaryPath() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mesh-queue-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent("mesh.sqlite").path
    }

    func entry(_ subject: UInt64, _ sequence: UInt64, priority: MeshPriority = .backlog, attempt: UInt8 = 0, bytes: Int = 10) -> RelayQueueEntry {
        RelayQueueEntry(key: MeshMessageKey(type: .data, subject: MeshNodeID(subject), sequence: sequence),
                        route: MeshRouteHeader(ttl: 8, hopCount: 1, origin: MeshNodeID(subject), destination: .headEnd, sequence: sequence,
                                               attempt: attempt),
                        priority: priority, payload: [UInt8](repeating: UInt8(truncatingIfNeeded: sequence), count: bytes),
                        receivedFrom: MeshNodeID(99), receivedAt: t0, nextAttemptAt: t0)
    }

    @Test("behaves like the in-memory store: fairness, priority order, attempts, counts")
    func sameAsInMemory() throws {
        let sqlite = try SQLiteRelayQueueStore(path: temporaryPath())
        let memory = InMemoryRelayQueueStore()
        for store in [sqlite as any RelayQueueStore, memory] {
            for s in 1...20 { _ = try store.insert(entry(1, UInt64(s))) }
            _ = try store.insert(entry(2, 1, priority: .event))
            _ = try store.insert(entry(3, 1))
            _ = try store.insert(entry(UInt64.max - 5, 1))  // above 2^63: must order like the unsigned address
            #expect(try store.insert(entry(3, 1, attempt: 2)) == .alreadyHeld)
            #expect(try store.insert(entry(3, 1)) == .alreadyHeld)
        }
        for _ in 0..<8 {
            let a = try #require(sqlite.ready(at: t0, limit: 1).first)
            let b = try #require(memory.ready(at: t0, limit: 1).first)
            #expect(a == b)
            try sqlite.recordTransmission(a.key, to: MeshNodeID(7), nextAttemptAt: t0.adding(milliseconds: 1_000))
            try memory.recordTransmission(b.key, to: MeshNodeID(7), nextAttemptAt: t0.adding(milliseconds: 1_000))
        }
        #expect(sqlite.ready(at: t0, limit: 100) == memory.ready(at: t0, limit: 100))
        #expect(sqlite.all() == memory.all())
        #expect(sqlite.count == 23 && sqlite.subjectCount == 4 && sqlite.count(subject: MeshNodeID(1)) == 20 && sqlite.payloadBytes == 230)
        #expect(sqlite.entry(MeshMessageKey(type: .data, subject: MeshNodeID(3), sequence: 1))?.route.attempt == 2)
        #expect(sqlite.earliestAttempt == memory.earliestAttempt)
        let key = MeshMessageKey(type: .data, subject: MeshNodeID(2), sequence: 1)
        #expect(try sqlite.remove(key))
        #expect(try !sqlite.remove(key))
        #expect(sqlite.count == 22 && sqlite.subjectCount == 3 && sqlite.payloadBytes == 220)
        try sqlite.postpone(MeshMessageKey(type: .data, subject: MeshNodeID(3), sequence: 1), until: t0.adding(milliseconds: 50_000))
        #expect(!sqlite.ready(at: t0.adding(milliseconds: 2_000), limit: 100).contains { $0.key.subject == MeshNodeID(3) })
    }

    @Test("bounded by messages and bytes: beyond them an insert fails (and is never hop-acked)")
    func bounded() throws {
        let store = try SQLiteRelayQueueStore(path: temporaryPath(), capacity: 3, payloadCapacityBytes: 25)
        _ = try store.insert(entry(1, 1))
        _ = try store.insert(entry(1, 2))
        #expect(throws: RelayQueueStoreError.self) { try store.insert(entry(1, 3)) }  // 30 bytes > 25
        #expect(store.count == 2 && store.payloadBytes == 20)
        _ = try store.insert(entry(1, 3, bytes: 5))
        #expect(throws: RelayQueueStoreError.self) { try store.insert(entry(1, 4, bytes: 1)) }  // 4 messages > 3
        #expect(store.count == 3)
    }

    @Test("what was stored survives closing and reopening (a reboot), with the frame counter's reservation")
    func survivesReopen() throws {
        let path = temporaryPath()
        do {
            let store = try SQLiteRelayQueueStore(path: path)
            _ = try store.insert(entry(4, 9, priority: .event, attempt: 1))
            try store.recordTransmission(MeshMessageKey(type: .data, subject: MeshNodeID(4), sequence: 9), to: MeshNodeID(8),
                                         nextAttemptAt: t0.adding(milliseconds: 99_000))
            try store.persistReservation(2_048)
            store.close()
        }
        let reopened = try SQLiteRelayQueueStore(path: path)
        #expect(try reopened.loadReservation() == 2_048)
        let held = try #require(reopened.all().first)
        #expect(reopened.count == 1 && reopened.payloadBytes == 10)
        #expect(held.route.attempt == 1 && held.transmissions == 1 && held.lastNextHop == MeshNodeID(8) && held.priority == .event)
        #expect(held.payload == [UInt8](repeating: 9, count: 10) && held.receivedFrom == MeshNodeID(99))
        try reopened.restartTimers(at: Timestamp(milliseconds: 0))
        #expect(reopened.ready(at: Timestamp(milliseconds: 0), limit: 10).map(\.key) == [held.key])
    }

    @Test("a relay that hop-acked a batch still holds it after a reboot, and forwards it once a route appears")
    func relayRebootKeepsAcknowledged() throws {
        let path = temporaryPath()
        var config = MeshNodeConfiguration(deviceID: "gw-0001", links: [MeshLinkProperties(name: "lan", kind: .udp, mtu: 1200)])
        config.beaconIntervalMilliseconds = 10_000
        do {
            let store = try SQLiteRelayQueueStore(path: path)
            let node = try MeshNode(configuration: config, authenticator: MeshFixtures.authenticator, counterStore: store, relayQueue: store)
            let bytes = MeshFixtures.authenticator.seal(MeshFixtures.data)
            let actions = node.receive(MeshLinkDatagram(bytes: bytes, source: .radio, receivedAt: t0), link: 0, at: MeshFixtures.instant(5_000))
            // It hop-acked the data frame as accepted.
            let acks = actions.compactMap { action -> MeshHopAck? in
                guard case .transmit(_, _, let datagram, _) = action, let frame = try? MeshFixtures.authenticator.open(datagram),
                      frame.header.type == .hopAck else { return nil }
                return try? MeshHopAck.decode(frame.payload)
            }
            #expect(acks.flatMap(\.entries).map(\.status) == [.accepted])
            store.close()  // power cut: nothing but the file remains
        }
        let store = try SQLiteRelayQueueStore(path: path)
        try store.restartTimers(at: Timestamp(milliseconds: 0))
        #expect(store.count == 1)
        #expect(try store.loadReservation() > 0)
        let node = try MeshNode(configuration: config, authenticator: MeshFixtures.authenticator, counterStore: store, relayQueue: store)
        // Now a gateway itself: it publishes the relayed batch upstream.
        let actions = node.setUplink(health: 255, at: MeshFixtures.instant(1_000))
        let published = actions.compactMap { action -> MeshDeliveredMessage? in
            if case .publishUpstream(let m) = action { return m } else { return nil }
        }
        #expect(published.map(\.deviceID) == ["gw-0002"] && published.first?.body == Array(0..<16))
        node.upstreamDelivered(try #require(published.first).key)
        #expect(store.count == 0)
    }
}
