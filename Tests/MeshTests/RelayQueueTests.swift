import ConcentratorCore
@testable import Mesh
import Testing

@Suite("Relay queue store")
struct RelayQueueTests {
    let t0 = Timestamp(milliseconds: 5_000)

    func entry(_ subject: UInt64, _ sequence: UInt64, priority: MeshPriority = .backlog, attempt: UInt8 = 0) -> RelayQueueEntry {
        RelayQueueEntry(key: MeshMessageKey(type: .data, subject: MeshNodeID(subject), sequence: sequence),
                        route: MeshRouteHeader(ttl: 8, hopCount: 1, origin: MeshNodeID(subject), destination: .headEnd, sequence: sequence,
                                               attempt: attempt),
                        priority: priority, payload: [UInt8](repeating: 1, count: 10), receivedFrom: MeshNodeID(99), receivedAt: t0,
                        nextAttemptAt: t0)
    }

    @Test("a chatty origin cannot starve the others: subjects take turns within a priority")
    func fairness() throws {
        let store = InMemoryRelayQueueStore()
        for s in 1...20 { _ = try store.insert(entry(1, UInt64(s))) }
        _ = try store.insert(entry(2, 1))
        _ = try store.insert(entry(3, 1))
        var served: [UInt64] = []
        for _ in 0..<6 {
            let next = try #require(store.ready(at: t0, limit: 1).first)
            served.append(next.key.subject.rawValue)
            try store.recordTransmission(next.key, to: MeshNodeID(7), nextAttemptAt: t0.adding(milliseconds: 1_000))
        }
        // Origin 1 has 20 entries, the others one each: 2 and 3 are served within the first three.
        #expect(Set(served.prefix(3)) == [1, 2, 3])
        #expect(served.filter { $0 == 1 }.count == 4)
    }

    @Test("events first, then control, the newest interval, the backlog; then sequence order")
    func priorityOrder() throws {
        let store = InMemoryRelayQueueStore()
        _ = try store.insert(entry(1, 5, priority: .backlog))
        _ = try store.insert(entry(1, 6, priority: .newestInterval))
        _ = try store.insert(entry(2, 1, priority: .event))
        _ = try store.insert(entry(1, 4, priority: .backlog))
        let order = store.ready(at: t0, limit: 10).map { ($0.key.subject.rawValue, $0.key.sequence) }
        #expect(order.map(\.0) == [2, 1, 1, 1] && order.map(\.1) == [1, 6, 4, 5])
        // Not yet due: not offered.
        try store.postpone(MeshMessageKey(type: .data, subject: MeshNodeID(2), sequence: 1), until: t0.adding(milliseconds: 10))
        #expect(store.ready(at: t0, limit: 10).count == 3)
        #expect(store.earliestAttempt == t0)
    }

    @Test("the same message is held once; a newer attempt refreshes it; remove and counts")
    func insertAndRemove() throws {
        let store = InMemoryRelayQueueStore()
        #expect(try store.insert(entry(1, 1)) == .inserted)
        #expect(try store.insert(entry(1, 1)) == .alreadyHeld)
        #expect(try store.insert(entry(1, 1, attempt: 2)) == .alreadyHeld)
        #expect(store.entry(MeshMessageKey(type: .data, subject: MeshNodeID(1), sequence: 1))?.route.attempt == 2)
        _ = try store.insert(entry(2, 1))
        #expect(store.count == 2 && store.subjectCount == 2 && store.count(subject: MeshNodeID(1)) == 1 && store.payloadBytes == 20)
        #expect(try store.remove(MeshMessageKey(type: .data, subject: MeshNodeID(1), sequence: 1)))
        #expect(try !store.remove(MeshMessageKey(type: .data, subject: MeshNodeID(1), sequence: 1)))
        #expect(store.count == 1 && store.subjectCount == 1 && store.payloadBytes == 10)
        #expect(store.all().map(\.key.subject) == [MeshNodeID(2)])
    }
}
