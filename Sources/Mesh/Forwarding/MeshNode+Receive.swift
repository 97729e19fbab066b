import ConcentratorCore

extension MeshNode {
    /// One datagram from link `link`: a frame or a fragment. Anything malformed, forged, replayed or
    /// oversized is counted and dropped; the node carries on.
    public func receive(_ datagram: MeshLinkDatagram, link: Int, at now: MeshInstant) -> [MeshAction] {
        var actions: [MeshAction] = []
        guard configuration.links.indices.contains(link) else { return actions }
        do throws(MeshFrameError) {
            guard let first = datagram.bytes.first else { throw .malformed(ByteFormatError("truncated: empty datagram", at: 0)) }
            var frameBytes = datagram.bytes
            if first == MeshFragment.formatByte {
                let fragment = try MeshFragment.decode(datagram.bytes)
                if fragment.sender == id { return actions }
                guard let whole = try reassemblers[link].accept(fragment, at: now.monotonic) else { return actions }
                frameBytes = whole
            }
            let frame = try authenticator.open(frameBytes)
            let header = frame.header
            if header.sender == id { return actions }
            try replayGuard.admit(sender: header.sender, counter: header.counter)
            let from = MeshNeighbourKey(node: header.sender, link: link)
            neighbours.heardFrame(from: from, address: datagram.source, at: now.monotonic)
            switch header.type {
            case .beacon:
                let beacon: MeshBeacon
                do { beacon = try MeshBeacon.decode(frame.payload) } catch { throw .malformedPayload(type: .beacon, error) }
                heardBeacon(beacon, from: from, address: datagram.source, frameLength: frameBytes.count, at: now, into: &actions)
            case .hopAck:
                guard header.receiver == id else { return actions }
                let ack: MeshHopAck
                do { ack = try MeshHopAck.decode(frame.payload) } catch { throw .malformedPayload(type: .hopAck, error) }
                heardHopAck(ack, from: from, at: now, into: &actions)
            case .data, .commandReply, .headEndAck, .command:
                guard header.receiver == id else { return actions }
                let payload: MeshRoutedPayload
                do { payload = try MeshRoutedPayload.decode(frame.payload) } catch { throw .malformedPayload(type: header.type, error) }
                try receivedRouted(frame, payload: payload, from: from, at: now, into: &actions)
            }
        } catch {
            counters.rejections.record(error.kind)
            return actions
        }
        dispatch(at: now, into: &actions)
        return actions
    }

    private func heardBeacon(_ beacon: MeshBeacon, from: MeshNeighbourKey, address: MeshLinkAddress, frameLength: Int, at now: MeshInstant,
                             into actions: inout [MeshAction]) {
        neighbours.heardBeacon(from: from, address: address, beacon: beacon, me: id, at: now.monotonic)
        let news = routes.heard(beacon.route, from: from, at: now.monotonic)
        let transit = configuration.links[from.link].airtimeMicroseconds(byteCount: frameLength) / 1000
        clock.offer(beacon.time, from: from.node, receivedAtLocal: now.wall, transitMilliseconds: transit)
        reselect(at: now, news: news && beacon.route?.source == routes.selected?.source)
    }

    /// Re-runs route selection. A changed selection, or news of the gateway the node routes to (a
    /// new seqno: the gateway's wave), triggers a beacon soon, so the wave crosses the mesh within a
    /// small part of the interval.
    func reselect(at now: MeshInstant, news: Bool = false) {
        guard !isGateway else { return }
        let had = routes.selected
        let changed = routes.select(cost: { self.neighbours.cost($0, at: now.monotonic) }, excluding: [id], at: now.monotonic)
        guard changed || news else { return }
        if routes.selected == nil, let had {
            lastAnnounced = MeshRouteAdvertisement(source: had.source, seqno: had.seqno, metric: MeshRouteAdvertisement.infinity,
                                                   hopCount: had.hopCount)
            retractionsLeft = 1
        }
        let at = now.monotonic.adding(milliseconds: jitter(configuration.triggeredDelayFraction))
        if triggeredBeaconAt == nil || at < triggeredBeaconAt! { triggeredBeaconAt = at }
    }

    private func heardHopAck(_ ack: MeshHopAck, from: MeshNeighbourKey, at now: MeshInstant, into actions: inout [MeshAction]) {
        for entry in ack.entries {
            guard let held = relayQueue.entry(entry.key), held.lastNextHop != nil, entry.attempt >= held.route.attempt else { continue }
            let own = held.receivedFrom == nil && held.key.type.direction == .upward
            switch entry.status {
            case .accepted, .duplicate:
                _ = try? relayQueue.remove(entry.key)
                if own { actions.append(.handedOff(entry.key, to: from.node)) }
            case .busy:
                try? relayQueue.postpone(entry.key, until: now.monotonic.adding(milliseconds: configuration.beaconIntervalMilliseconds / 2))
            case .refused:
                _ = try? relayQueue.remove(entry.key)
                if own { actions.append(.refused(entry.key)) }
            }
        }
    }

    private func receivedRouted(_ frame: MeshFrame, payload: MeshRoutedPayload, from: MeshNeighbourKey, at now: MeshInstant,
                                into actions: inout [MeshAction]) throws(MeshFrameError) {
        let header = frame.header
        guard let route = header.route, let direction = header.type.direction, let key = MeshMessageKey(header) else {
            throw .invalidField("routed frame without its routed section")
        }
        guard MeshNodeID(deviceID: payload.deviceID) == key.subject else {
            throw .invalidField("device id does not match the frame's \(direction == .upward ? "origin" : "destination")")
        }
        var status = MeshHopAckStatus.accepted
        defer {
            if let ack = hopAckFrame(MeshHopAckEntry(key: key, attempt: route.attempt, status: status), to: from) {
                send(ack, to: from, priority: .control, at: now, into: &actions)
            }
        }
        if direction == .upward && route.origin == id {
            counters.loopsDetected += 1
            status = .duplicate
            return
        }
        if direction == .upward && header.type == .data {
            reversePaths.learn(device: route.origin, via: from, sequence: route.sequence, at: now.monotonic)
        }
        if let held = relayQueue.entry(key), held.route.attempt >= route.attempt {
            counters.duplicates += 1
            status = .duplicate
            return
        }
        let arrived = direction == .downward && route.destination == id
        if seen.hasSeen(key, attempt: route.attempt), arrived || seenFrom[key] == nil || seenFrom[key] == from.node {
            counters.duplicates += 1
            status = .duplicate
            return
        }
        if arrived {
            seen.remember(key, attempt: route.attempt)
            seenFrom[key] = from.node
            counters.deliveredLocally += 1
            actions.append(.deliverLocally(MeshDeliveredMessage(key: key, deviceID: payload.deviceID, attempt: route.attempt,
                                                                hopCount: route.hopCount &+ 1, body: payload.body)))
            return
        }
        let atGateway = direction == .upward && isGateway
        guard route.ttl > 1 || atGateway else {
            counters.ttlExpired += 1
            status = .refused
            return
        }
        if !admits(key.subject, bytes: frame.payload.count) {
            counters.busy += 1
            status = .busy
            return
        }
        var forwarded = route
        forwarded.ttl = route.ttl - 1
        forwarded.hopCount = route.hopCount &+ 1
        let entry = RelayQueueEntry(key: key, route: forwarded, priority: header.priority, payload: frame.payload, receivedFrom: from.node,
                                    receivedAt: now.monotonic, nextAttemptAt: now.monotonic)
        do {
            _ = try relayQueue.insert(entry)
        } catch {
            // Not stored, so not acknowledged: the previous hop keeps its copy and tries again.
            status = .busy
            counters.busy += 1
            return
        }
        counters.relayed += 1
        seen.remember(key, attempt: route.attempt)
        seenFrom[key] = from.node
        if seenFrom.count > seen.capacity * 2 { seenFrom = seenFrom.filter { seen.hasSeen($0.key, attempt: 0) } }
    }

    /// The fair-share admission of one more message of `subject`: refused when the queue is full,
    /// and, once it is half full, when the subject already holds more than its share.
    private func admits(_ subject: MeshNodeID, bytes: Int) -> Bool {
        let capacity = configuration.relayCapacity
        guard relayQueue.count < capacity, relayQueue.payloadBytes + bytes <= configuration.relayPayloadCapacityBytes else { return false }
        guard relayQueue.count >= capacity / 2 else { return true }
        let share = max(configuration.relayMinimumShare, capacity / (2 * max(1, relayQueue.subjectCount)))
        return relayQueue.count(subject: subject) < share
    }

    /// A hop-ack frame for one entry, addressed to `neighbour`.
    private func hopAckFrame(_ entry: MeshHopAckEntry, to neighbour: MeshNeighbourKey) -> MeshFrame? {
        let header = MeshFrameHeader(type: .hopAck, priority: .control, sender: id, receiver: neighbour.node, counter: 0)
        return MeshFrame(header: header, payload: MeshHopAck(entries: [entry]).encoded())
    }

    /// Seals and sends a link-local frame to one neighbour (hop-acks), within the radio budget.
    func send(_ frame: MeshFrame, to neighbour: MeshNeighbourKey, priority: MeshPriority, at now: MeshInstant,
              into actions: inout [MeshAction]) {
        guard let datagrams = datagrams(for: frame, link: neighbour.link) else { return }
        guard admit(datagrams, link: neighbour.link, priority: priority, at: now.monotonic) == .allowed else {
            counters.dutyCycleDeferrals += 1
            return
        }
        emit(datagrams, link: neighbour.link, to: destination(of: neighbour), priority: priority, into: &actions)
    }
}
