import ConcentratorCore
@testable import Mesh
import Testing

/// Real nodes on a simulated medium with small, explicit topologies.
@Suite("Mesh node: forwarding, acks, commands, failover")
struct MeshNodeTests {
    /// 0 (gateway) – 1 – 2 – 3.
    func chain(loss: Double = 0, seed: UInt64 = 1, configure: (inout MeshNodeConfiguration) -> Void = { _ in }) -> MeshTestNetwork {
        let net = MeshTestNetwork(count: 4, edges: [(0, 1), (1, 2), (2, 3)], loss: loss, seed: seed, configure: configure)
        net.setGateway(0)
        net.run(seconds: 60)
        return net
    }

    @Test("routes form along the chain with hop counts and a loop-free path")
    func routesForm() {
        let net = chain()
        #expect(net.nodes[0].isGateway)
        for i in 1...3 {
            let route = net.nodes[i].routes.selected
            #expect(route?.source == net.nodes[0].id && route?.hopCount == UInt8(i), "node \(i): \(String(describing: route))")
            #expect(route?.neighbour.node == net.nodes[i - 1].id)
        }
        #expect(net.nodes[3].status(at: net.instant(3)).role == .relay)
        #expect(net.nodes[0].status(at: net.instant(0)).role == .gateway)
    }

    @Test("a batch crosses three hops, is hop-acked at each, published once, and the queues empty")
    func dataUpward() throws {
        let net = chain()
        try net.submit(net.data(from: 3, sequence: 1), at: 3)
        net.run(seconds: 30)
        #expect(net.published.count == 1)
        let message = try #require(net.published.first?.message)
        #expect(message.deviceID == "node-3" && message.key.sequence == 1 && message.hopCount == 3 && message.body.count == 300)
        #expect(net.nodes.allSatisfy { $0.relayQueue.count == 0 })
        #expect(net.actions.contains { $0.node == 3 && $0.action == .handedOff(message.key, to: net.nodes[2].id) })
    }

    @Test("with 30 % loss, retransmissions still deliver every batch exactly once along a chain")
    func lossyChain() throws {
        let net = chain(loss: 0.3, seed: 5)
        net.run(seconds: 60)
        for s in 1...30 { try net.submit(net.data(from: 3, sequence: UInt64(s)), at: 3) }
        net.run(seconds: 900)
        let keys = net.published.map(\.message.key.sequence)
        #expect(Set(keys) == Set(1...30))
        #expect(keys.count == 30, "duplicates published: \(keys.count - Set(keys).count)")
        #expect(net.nodes.map(\.counters.retransmissions).reduce(0, +) > 0)
        #expect(net.nodes.map(\.counters.duplicates).reduce(0, +) > 0, "lost hop-acks should have caused recognised duplicates")
    }

    @Test("head-end acks and commands travel down by device id; replies come back up")
    func downward() throws {
        let net = chain()
        try net.submit(net.data(from: 3, sequence: 7), at: 3)
        net.run(seconds: 20)
        let ack = MeshOutboundMessage(type: .headEndAck, deviceID: "node-3", sequence: 7, priority: .control, body: [0xAC, 1, 2])
        try net.submit(ack, at: 0)
        let command = MeshOutboundMessage(type: .command, deviceID: "node-3", sequence: 1, priority: .control, body: [0xC0, 9])
        try net.submit(command, at: 0)
        net.run(seconds: 20)
        let got = net.delivered.filter { $0.node == 3 }.map(\.message)
        #expect(got.map(\.key.type) == [.headEndAck, .command] && got.map(\.body) == [[0xAC, 1, 2], [0xC0, 9]])
        #expect(net.delivered.allSatisfy { $0.node == 3 })
        try net.submit(MeshOutboundMessage(type: .commandReply, deviceID: "node-3", sequence: 1, priority: .control, body: [0xCE]), at: 3)
        net.run(seconds: 20)
        #expect(net.published.contains { $0.message.key.type == .commandReply && $0.message.body == [0xCE] })
        // Upward messages from another device's name, and downward ones from a relay, are refused.
        #expect(throws: MeshSubmitError.wrongDirection(.data)) { try net.nodes[1].submit(net.data(from: 3, sequence: 9), at: net.instant(1)) }
        #expect(throws: MeshSubmitError.wrongDirection(.beacon)) {
            try net.nodes[1].submit(MeshOutboundMessage(type: .beacon, deviceID: "node-1", sequence: 1, priority: .control, body: [1]),
                                    at: net.instant(1))
        }
    }

    /// 0 and 1 are gateways (0 healthier); 2 hears both; 3 is behind 2. Routes formed toward 0.
    func twoGateways(secondHealth: UInt8) -> MeshTestNetwork {
        let net = MeshTestNetwork(count: 4, edges: [(0, 2), (1, 2), (2, 3)])
        net.setGateway(0, health: 255)
        net.setGateway(1, health: secondHealth)
        net.run(seconds: 60)
        #expect(net.nodes[3].routes.selected?.source == net.nodes[0].id)
        return net
    }

    @Test("a gateway that loses its uplink retracts; nodes behind fail over to the other gateway")
    func failover() throws {
        let net = twoGateways(secondHealth: 200)
        net.setGateway(0, health: 0)
        net.run(seconds: 5)
        #expect(net.nodes[2].routes.selected?.source == net.nodes[1].id, "retraction should switch at once")
        net.run(seconds: 25)
        #expect(net.nodes[3].routes.selected?.source == net.nodes[1].id)
        try net.submit(net.data(from: 3, sequence: 1), at: 3)
        // The former gateway is a relay now and routes its own traffic over the mesh too.
        try net.submit(net.data(from: 0, sequence: 1), at: 0)
        net.run(seconds: 30)
        #expect(Set(net.published.filter { $0.gateway == 1 }.map(\.message.deviceID)) == ["node-0", "node-3"])
    }

    @Test("a power-dead gateway's routes expire within the hold time; the other gateway takes over")
    func silentGateway() throws {
        let net = twoGateways(secondHealth: 150)
        net.medium.setAlive(0, false)
        net.run(seconds: 30)
        #expect(net.nodes[3].routes.selected?.source == net.nodes[1].id, "switched within 3 beacon intervals")
    }

    @Test("TTL runs out: the relay refuses, the origin hears it")
    func ttl() throws {
        let net = chain { $0.defaultTTL = 2 }
        try net.submit(net.data(from: 3, sequence: 1), at: 3)
        net.run(seconds: 30)
        #expect(net.published.isEmpty)
        #expect(net.nodes[1].counters.ttlExpired == 1)
        #expect(net.nodes.allSatisfy { $0.relayQueue.count == 0 })
    }

    @Test("a full relay queue answers busy and keeps a share for every origin; nothing is lost")
    func busyAndFairShare() throws {
        // 2 and 3 both send through 1 to gateway 0; 1's queue is tiny and the gateway is slow to take.
        let net = MeshTestNetwork(count: 4, edges: [(0, 1), (1, 2), (1, 3)]) {
            guard $0.deviceID == "node-1" else { return }
            $0.relayCapacity = 8
            $0.relayMinimumShare = 2
        }
        net.setGateway(0)
        net.run(seconds: 60)
        // Cut the gateway off so 1 fills up.
        net.medium.setCut(0, 1, true)
        for s in 1...12 { try net.submit(net.data(from: 2, sequence: UInt64(s)), at: 2) }
        net.run(seconds: 20)
        for s in 1...3 { try net.submit(net.data(from: 3, sequence: UInt64(s)), at: 3) }
        net.run(seconds: 20)
        #expect(net.nodes[1].counters.busy > 0)
        #expect(net.nodes[1].relayQueue.count(subject: net.nodes[3].id) >= 2, "origin 3 keeps its share")
        net.medium.setCut(0, 1, false)
        net.run(seconds: 600)
        let sequences = net.published.map { "\($0.message.deviceID)#\($0.message.key.sequence)" }
        #expect(Set(sequences).count == 15 && sequences.count == 15)
    }

    @Test("an end-to-end resend (a higher attempt) is carried again by relays that forwarded attempt 0")
    func endToEndResend() throws {
        let net = chain()
        net.autoPuback = true
        try net.submit(net.data(from: 3, sequence: 1), at: 3)
        net.run(seconds: 20)
        try net.submit(net.data(from: 3, sequence: 1, attempt: 0), at: 3)
        net.run(seconds: 20)
        #expect(net.published.count == 1, "the same attempt again is a duplicate for the relays")
        try net.submit(net.data(from: 3, sequence: 1, attempt: 1), at: 3)
        net.run(seconds: 20)
        #expect(net.published.map(\.message.attempt) == [0, 1])
    }

    @Test("the radio budget puts events before the backlog")
    func dutyCyclePriority() throws {
        // A small LoRa budget: 0.2 % of an hour = 7.2 s of airtime.
        let net = MeshTestNetwork(count: 2, edges: [(0, 1)], mtu: 200, modulation: LoRaModulation(), dutyCycle: 0.002, beaconSeconds: 60)
        net.setGateway(0)
        net.run(seconds: 120)
        for s in 1...40 { try net.submit(net.data(from: 1, sequence: UInt64(s), bytes: 600, priority: .backlog), at: 1) }
        try net.submit(net.data(from: 1, sequence: 100, bytes: 100, priority: .event), at: 1)
        net.run(seconds: 300)
        let published = net.published.map(\.message.key.sequence)
        #expect(published.contains(100))
        #expect(published.count < 41, "the backlog must wait for budget")
        #expect(net.nodes[1].counters.dutyCycleDeferrals > 0)
        let status = net.nodes[1].status(at: net.instant(1)).dutyCycle["sim1"]
        #expect(status != nil && status!.usedMicroseconds <= status!.limitMicroseconds)
    }
}
