import ConcentratorCore

extension MeshNode {
    /// Expiries, route selection, the beacon when due, then sending what is due.
    func tick(at now: MeshInstant, into actions: inout [MeshAction]) {
        for gone in neighbours.expire(at: now.monotonic) {
            routes.forget(gone)
            reversePaths.forget(gone)
        }
        routes.expire(at: now.monotonic)
        for i in reassemblers.indices {
            for _ in 0..<reassemblers[i].expire(at: now.monotonic) { counters.rejections.record(.fragment) }
        }
        reselect(at: now)
        beaconIfDue(at: now, into: &actions)
        dispatch(at: now, into: &actions)
    }

    /// The metric a gateway announces for itself: 0 with a perfect uplink, more as it degrades.
    var gatewayMetric: UInt16 { UInt16(255 - uplinkHealth) * 4 }

    private func beaconIfDue(at now: MeshInstant, into actions: inout [MeshAction]) {
        let periodicDue = nextBeaconAt.map { now.monotonic >= $0 } ?? true
        let triggeredDue = triggeredBeaconAt.map { now.monotonic >= $0 } ?? false
        guard periodicDue || triggeredDue else { return }
        sendBeacon(at: now, into: &actions)
        triggeredBeaconAt = nil
        // Gateways keep a steady rhythm (their seqno waves); relays follow the waves, with the
        // periodic beacon as a fallback one interval after the last one.
        let spread = isGateway ? 0 : jitter(0...0.05)
        nextBeaconAt = now.monotonic.adding(milliseconds: configuration.beaconIntervalMilliseconds + spread)
    }

    /// Broadcasts a beacon on every link: hello, uplink health, the route (the node's own as a
    /// gateway, its selected one, or a retraction), its time and neighbour reports.
    func sendBeacon(at now: MeshInstant, into actions: inout [MeshAction]) {
        helloSequence &+= 1
        var advertisement: MeshRouteAdvertisement?
        if isGateway {
            gatewaySeqno = routes.nextGatewaySeqno(after: gatewaySeqno)
            advertisement = MeshRouteAdvertisement(source: id, seqno: gatewaySeqno, metric: gatewayMetric, hopCount: 0)
            lastAnnounced = nil
        } else if let s = routes.selected {
            let ad = routes.advertisement(for: s, at: now.monotonic)
            routes.announced(ad, at: now.monotonic)
            advertisement = ad
            lastAnnounced = MeshRouteAdvertisement(source: s.source, seqno: s.seqno, metric: MeshRouteAdvertisement.infinity,
                                                   hopCount: s.hopCount)
            retractionsLeft = 0
        } else if retractionsLeft > 0, let retraction = lastAnnounced {
            advertisement = retraction
            retractionsLeft -= 1
        }
        let beacon = MeshBeacon(helloSequence: helloSequence, uplinkHealth: uplinkHealth, route: advertisement,
                                time: clock.advertisement(atLocal: now.wall),
                                reports: neighbours.reports(maximum: configuration.reportsPerBeacon, at: now.monotonic))
        let frame = MeshFrame(header: MeshFrameHeader(type: .beacon, priority: .control, sender: id, receiver: .broadcast, counter: 0),
                              payload: beacon.encoded())
        counters.beaconsSent += 1
        for link in configuration.links.indices {
            guard let datagrams = datagrams(for: frame, link: link) else { continue }
            // Routing depends on beacons: they take the budget at the highest class, with events.
            guard admit(datagrams, link: link, priority: .event, at: now.monotonic) == .allowed else {
                counters.dutyCycleDeferrals += 1
                continue
            }
            emit(datagrams, link: link, to: .broadcast, priority: .event, into: &actions)
        }
    }

    /// Sends what the relay queue holds and is due, in priority and fairness order, each to its next
    /// hop (or, upward on a gateway, to the broker), within the radio budgets.
    func dispatch(at now: MeshInstant, into actions: inout [MeshAction]) {
        let limit = configuration.transmissionsPerDispatch
        var sent = 0
        for entry in relayQueue.ready(at: now.monotonic, limit: limit * 4) {
            guard sent < limit else { break }
            let direction = entry.key.type.direction ?? .upward
            if direction == .downward && now.monotonic.milliseconds - entry.receivedAt.milliseconds > configuration.downwardLifetimeMilliseconds {
                _ = try? relayQueue.remove(entry.key)
                counters.expired += 1
                continue
            }
            if direction == .upward && isGateway {
                if let message = delivered(entry) { actions.append(.publishUpstream(message)) }
                try? relayQueue.recordTransmission(entry.key, to: .headEnd,
                                                   nextAttemptAt: now.monotonic.adding(milliseconds: configuration.upstreamTimeoutMilliseconds))
                continue
            }
            guard let next = nextHop(for: entry, direction: direction, at: now.monotonic) else {
                try? relayQueue.postpone(entry.key, until: now.monotonic.adding(milliseconds: configuration.beaconIntervalMilliseconds / 4))
                continue
            }
            let header = MeshFrameHeader(type: entry.key.type, priority: entry.priority, sender: id, receiver: next.node, counter: 0,
                                         route: entry.route)
            guard let datagrams = datagrams(for: MeshFrame(header: header, payload: entry.payload), link: next.link) else {
                try? relayQueue.postpone(entry.key, until: now.monotonic.adding(milliseconds: configuration.beaconIntervalMilliseconds))
                continue
            }
            switch admit(datagrams, link: next.link, priority: entry.priority, at: now.monotonic) {
            case .allowed:
                break
            case .deferred(let until):
                counters.dutyCycleDeferrals += 1
                try? relayQueue.postpone(entry.key, until: until)
                continue
            case .tooLong:
                counters.dutyCycleDeferrals += 1
                try? relayQueue.postpone(entry.key, until: now.monotonic.adding(milliseconds: 600_000))
                continue
            }
            emit(datagrams, link: next.link, to: destination(of: next), priority: entry.priority, into: &actions)
            if entry.transmissions > 0 { counters.retransmissions += 1 }
            let airtime = datagrams.reduce(Int64(0)) { $0 + configuration.links[next.link].airtimeMicroseconds(byteCount: $1.count) } / 1000
            let base = min(configuration.retransmitMaximumMilliseconds,
                           configuration.retransmitInitialMilliseconds << Int64(min(entry.transmissions, 6)))
            let backoff = Int64(Double(base) * random.uniform(0.75...1.25)) + 2 * airtime
            try? relayQueue.recordTransmission(entry.key, to: next.node, nextAttemptAt: now.monotonic.adding(milliseconds: backoff))
            actions.append(.forwarded(entry.key, nextHop: next.node))
            sent += 1
        }
    }

    /// The neighbour an entry goes to: upward along the selected route — or, for a retransmission,
    /// to the neighbour that got the last copy while its route stays feasible (so a route change
    /// does not send a second copy elsewhere); downward to the device itself when it is a
    /// neighbour, else along the reverse path its data came by.
    func nextHop(for entry: RelayQueueEntry, direction: MeshDirection, at now: Timestamp) -> MeshNeighbourKey? {
        switch direction {
        case .upward:
            if entry.transmissions > 0, let last = entry.lastNextHop, let selected = routes.selected, selected.neighbour.node != last {
                let previous = MeshNeighbourKey(node: last, link: selected.neighbour.link)
                if routes.isFeasibleNextHop(previous, at: now), neighbours.cost(previous, at: now) != MeshNeighbourTable.unusableCost {
                    return previous
                }
            }
            return routes.selected?.neighbour
        case .downward:
            let device = entry.route.destination
            if let direct = neighbours.anyLink(for: device) { return direct.key }
            guard let path = reversePaths.nextHop(toward: device), neighbours[path] != nil else { return nil }
            return path
        }
    }

    /// An entry as it leaves the mesh.
    func delivered(_ entry: RelayQueueEntry) -> MeshDeliveredMessage? {
        guard let payload = try? MeshRoutedPayload.decode(entry.payload) else { return nil }
        return MeshDeliveredMessage(key: entry.key, deviceID: payload.deviceID, attempt: entry.route.attempt, hopCount: entry.route.hopCount,
                                    body: payload.body)
    }
}
