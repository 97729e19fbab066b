import ConcentratorCore

/// One node's outbox as the phase-2 drain will run it over the mesh: every batch stays until the
/// head-end's ack comes back, and is resent end to end (a higher attempt) when the ack is late.
struct SimulatedOutbox {
    struct Pending {
        var priority: MeshPriority
        var createdAt: Timestamp
        var attempt: UInt8
        var values: Int
    }

    var pending: [UInt64: Pending] = [:]
    var nextSequence: UInt64 = 1
}

/// The simulated head-end: every arrival per (device, sequence), so the report can tell delivered,
/// duplicated and lost; and which gateway last carried each device (where commands go).
struct SimulatedHeadEnd {
    var arrivals: [MeshMessageKey: Int] = [:]
    var lastGateway: [Int: Int] = [:]
    var valuesDelivered = 0
    var meshBatchBytes = 0
    var duplicates = 0
    var pendingCommands: [Int: MeshOutboundMessage] = [:]
    var commandsSent = 0
    var commandsDelivered = 0
    var repliesReceived = 0
    var replies: Set<MeshMessageKey> = []
    var latenciesMilliseconds: [Int64] = []
}

/// What the run measured besides the head-end's counts.
struct SimulationMeasurements {
    var batchesGenerated = 0
    var eventsGenerated = 0
    var stranded = 0
    var maximumQueueDepth = 0
    var forwardingChecks = 0
    var loops = 0
    var graphChecks = 0
    var graphLoops = 0
    var killedAt: Timestamp?
    var convergedAt: Timestamp?
    var initialConvergenceAt: Timestamp?
    var finished = false
}

extension MeshSimulation {
    /// Node `i` makes a batch and hands it to its drain.
    func generate(_ i: Int, priority: MeshPriority) {
        let sequence = outboxes[i].nextSequence
        outboxes[i].nextSequence += 1
        let values = priority == .event ? 2 : configuration.valuesPerBatch
        outboxes[i].pending[sequence] = SimulatedOutbox.Pending(priority: priority, createdAt: now, attempt: 0, values: values)
        if priority == .event { measurements.eventsGenerated += 1 } else { measurements.batchesGenerated += 1 }
        drain(i, sequence)
    }

    /// The drain's route: straight to the broker with an uplink, into the mesh without.
    func drain(_ i: Int, _ sequence: UInt64) {
        guard alive[i], let p = outboxes[i].pending[sequence] else { return }
        let bytes = p.priority == .event ? 120 : configuration.batchBytes
        let body = [UInt8](repeating: UInt8(truncatingIfNeeded: sequence), count: bytes)
        let message = MeshOutboundMessage(type: .data, deviceID: Self.deviceID(i), sequence: sequence, attempt: p.attempt,
                                          priority: p.priority, body: body)
        if nodes[i].isGateway {
            let delivered = MeshDeliveredMessage(key: MeshMessageKey(type: .data, subject: nodes[i].id, sequence: sequence),
                                                 deviceID: message.deviceID, attempt: p.attempt, hopCount: 0, body: body)
            events.schedule(.arrival(gateway: -1, delivered), at: now.adding(milliseconds: 100))
        } else if let actions = try? nodes[i].submit(message, at: instant(i)) {
            perform(actions, by: i)
        }
        let timeout = configuration.endToEndTimeoutMinutes * 60_000 << Int64(min(p.attempt, 3))
        events.schedule(.resend(i, sequence), at: now.adding(milliseconds: timeout))
    }

    func resend(_ i: Int, _ sequence: UInt64) {
        guard alive[i], outboxes[i].pending[sequence] != nil else { return }
        outboxes[i].pending[sequence]!.attempt &+= 1
        drain(i, sequence)
    }

    /// A message reached the head-end through gateway `gateway` (−1: the device's own uplink).
    func arrived(_ message: MeshDeliveredMessage, via gateway: Int) {
        guard let origin = indexOf[message.key.subject] else { return }
        switch message.key.type {
        case .data:
            let count = headEnd.arrivals[message.key, default: 0] + 1
            headEnd.arrivals[message.key] = count
            if count == 1 {
                headEnd.valuesDelivered += message.body.count == 120 ? 2 : configuration.valuesPerBatch
                if gateway >= 0 { headEnd.meshBatchBytes += message.body.count }
                if let created = outboxes[origin].pending[message.key.sequence]?.createdAt {
                    headEnd.latenciesMilliseconds.append(now.milliseconds - created.milliseconds)
                }
            } else {
                headEnd.duplicates += 1
            }
            headEnd.lastGateway[origin] = gateway
            if gateway >= 0, let command = headEnd.pendingCommands.removeValue(forKey: origin) {
                events.schedule(.downward(gateway: gateway, device: origin, command), at: now.adding(milliseconds: 100))
            }
            // The signed ack (accepted or duplicate) goes back the way the batch came.
            let ack = MeshOutboundMessage(type: .headEndAck, deviceID: message.deviceID, sequence: message.key.sequence,
                                          attempt: message.attempt, priority: .control, body: [UInt8](repeating: 0xAC, count: 140))
            events.schedule(.downward(gateway: gateway, device: origin, ack), at: now.adding(milliseconds: 100))
        case .commandReply:
            if headEnd.replies.insert(message.key).inserted { headEnd.repliesReceived += 1 }
        default:
            break
        }
    }

    /// The head-end publishes a downward message; the gateway carrying the device's traffic takes it.
    func sendDownward(_ message: MeshOutboundMessage, through gateway: Int, to device: Int) {
        if gateway < 0 {
            let key = MeshMessageKey(type: message.type, subject: nodes[device].id, sequence: message.sequence)
            deliveredLocally(MeshDeliveredMessage(key: key, deviceID: message.deviceID, attempt: message.attempt, hopCount: 0,
                                                  body: message.body), at: device)
            return
        }
        guard alive[gateway], nodes[gateway].isGateway else { return }
        if let actions = try? nodes[gateway].submit(message, at: instant(gateway)) { perform(actions, by: gateway) }
    }

    /// A downward message reached its device.
    func deliveredLocally(_ message: MeshDeliveredMessage, at i: Int) {
        guard alive[i] else { return }
        switch message.key.type {
        case .headEndAck:
            outboxes[i].pending[message.key.sequence] = nil
        case .command:
            guard executedCommands.insert(message.key).inserted else { return }
            headEnd.commandsDelivered += 1
            let reply = MeshOutboundMessage(type: .commandReply, deviceID: Self.deviceID(i), sequence: message.key.sequence,
                                            priority: .control, body: [UInt8](repeating: 0xCE, count: 110))
            if nodes[i].isGateway {
                events.schedule(.arrival(gateway: -1, MeshDeliveredMessage(key: MeshMessageKey(type: .commandReply, subject: nodes[i].id,
                                                                                               sequence: reply.sequence),
                                                                           deviceID: reply.deviceID, attempt: 0, hopCount: 0,
                                                                           body: reply.body)),
                                at: now.adding(milliseconds: 100))
            } else if let actions = try? nodes[i].submit(reply, at: instant(i)) {
                perform(actions, by: i)
            }
        default:
            break
        }
    }

    /// The head-end publishes a command for a live device that is not a gateway. Every gateway that
    /// carries the device's traffic (it has a path toward it) takes it from the broker, as the
    /// phase-2 gateway subscribes to the command topics of the devices it relays for; the device
    /// executes it once, however often it arrives.
    func sendCommand() {
        let candidates = headEnd.lastGateway.keys.sorted().filter { alive[$0] && headEnd.lastGateway[$0]! >= 0 }
        guard !candidates.isEmpty else { return }
        let device = candidates[Int(random.next() % UInt64(candidates.count))]
        headEnd.commandsSent += 1
        let command = MeshOutboundMessage(type: .command, deviceID: Self.deviceID(device), sequence: UInt64(headEnd.commandsSent),
                                          priority: .control, body: [UInt8](repeating: 0xC0, count: 180))
        publish(command, to: device, retries: 3)
    }

    /// Hands a command to the gateways that carry the device (or keeps it until one does), and
    /// tries again in 20 minutes when no reply has come by then.
    func publish(_ command: MeshOutboundMessage, to device: Int, retries: Int) {
        if retries > 0 {
            events.schedule(.commandRetry(device: device, command, left: retries - 1), at: now.adding(seconds: 1_200))
        }
        let target = nodes[device].id
        var gateways = topology.gateways.filter { g in
            alive[g] && nodes[g].isGateway
                && (nodes[g].reversePaths.nextHop(toward: target) != nil || nodes[g].neighbours.anyLink(for: target) != nil)
        }
        if gateways.isEmpty, let last = headEnd.lastGateway[device], alive[last], nodes[last].isGateway { gateways = [last] }
        // No working gateway carries the device now: the command waits at the head-end until one does.
        if gateways.isEmpty { headEnd.pendingCommands[device] = command }
        for g in gateways { sendDownward(command, through: g, to: device) }
    }

    /// At every forwarding step: follows the next hops from `nextHop` and counts a loop if the walk
    /// comes back to a node it passed (upward along the selected routes, downward along the paths
    /// toward the device).
    func checkForLoop(from i: Int, key: MeshMessageKey, nextHop: MeshNodeID) {
        measurements.forwardingChecks += 1
        var visited: Set<Int> = [i]
        var current = indexOf[nextHop]
        let downward = key.type.direction == .downward
        while let c = current {
            if visited.contains(c) {
                measurements.loops += 1
                return
            }
            visited.insert(c)
            guard alive[c] else { return }
            if downward {
                if nodes[c].id == key.subject { return }
                let entry = RelayQueueEntry(key: key, route: MeshRouteHeader(ttl: 1, hopCount: 0, origin: .headEnd, destination: key.subject,
                                                                            sequence: key.sequence, attempt: 0),
                                            priority: .control, payload: [], receivedFrom: nil, receivedAt: now, nextAttemptAt: now)
                current = nodes[c].nextHop(for: entry, direction: .downward, at: now).flatMap { indexOf[$0.node] }
            } else {
                if nodes[c].isGateway { return }
                current = nodes[c].routes.selected.flatMap { indexOf[$0.neighbour.node] }
            }
        }
    }

    /// Whether every live node that can reach a working gateway has a loop-free route to one.
    func routesConverged() -> Bool {
        let c = configuration
        let removed = c.killMode == .power ? killedNode : nil
        let working = topology.gateways.filter { alive[$0] && nodes[$0].isGateway }
        let reach = topology.hopsToGateways(working, without: removed)
        for i in 0..<c.nodes where alive[i] && !nodes[i].isGateway && reach[i] != nil {
            var visited: Set<Int> = [i]
            var current = nodes[i].routes.selected.flatMap { indexOf[$0.neighbour.node] }
            var reached = false
            while let n = current, alive[n], !visited.contains(n) {
                if nodes[n].isGateway {
                    reached = true
                    break
                }
                visited.insert(n)
                current = nodes[n].routes.selected.flatMap { indexOf[$0.neighbour.node] }
            }
            if !reached { return false }
        }
        return true
    }

    /// Walks every live node's selected route; counts the walks that come back to a node they passed.
    func checkRouteGraph() {
        measurements.graphChecks += 1
        for i in 0..<configuration.nodes where alive[i] && !nodes[i].isGateway {
            var visited: Set<Int> = [i]
            var current = nodes[i].routes.selected.flatMap { indexOf[$0.neighbour.node] }
            while let n = current, alive[n], !nodes[n].isGateway {
                if visited.contains(n) {
                    measurements.graphLoops += 1
                    break
                }
                visited.insert(n)
                current = nodes[n].routes.selected.flatMap { indexOf[$0.neighbour.node] }
            }
        }
    }

    /// Cuts or restores random links (churn), deterministically.
    func churn() {
        for a in 0..<configuration.nodes {
            for b in topology.edges[a].sorted() where a < b {
                guard random.unitInterval() < configuration.linkChurn else { continue }
                let pair = [a, b]
                if churnCut.contains(pair) { churnCut.remove(pair) } else { churnCut.insert(pair) }
                medium.setCut(a, b, churnCut.contains(pair))
            }
        }
    }

    /// Periodic check: convergence (at start and after the kill), and whether everything is acknowledged.
    func sample() {
        if configuration.linkChurn > 0 { churn() }
        if configuration.checkRouteGraph ?? (configuration.nodes <= 300) { checkRouteGraph() }
        if configuration.measureConvergence || measurements.killedAt != nil {
            if measurements.initialConvergenceAt == nil, measurements.killedAt == nil, routesConverged() {
                measurements.initialConvergenceAt = now
            }
            if measurements.killedAt != nil, measurements.convergedAt == nil, routesConverged() {
                measurements.convergedAt = now
            }
        }
        if now >= trafficEnd, outboxes.allSatisfy({ $0.pending.isEmpty }) { measurements.finished = true }
    }
}
