import Archive
import ConcentratorCore
import Crypto
import Logging
import Platform
import Wire

extension UplinkService {
    // MARK: Connection

    /// Follows the connection: subscribes to acks (and commands, when a handler is set), publishes the retained online status, and lets
    /// everything unacknowledged go again after a reconnect.
    func watchConnection() async {
        var statusTask: Task<Void, Never>?
        for await event in client.connectionEvents {
            switch event {
            case .connected:
                lock.withLock {
                    inFlight.removeAll()
                    workPending = true
                    state.connected = true
                    state.lastConnected = clock.now()
                    state.lastError = nil
                }
                logger.notice("uplink: connected to \(client.settings.brokerAddress)")
                var filters = [topics.ack]
                if lock.withLock({ commandHandler != nil }) { filters.append(topics.command) }
                for filter in filters {
                    do { try await client.subscribe(filter: filter) } catch {
                        logger.error("uplink: cannot subscribe to \(filter): \(error)")
                    }
                }
                statusTask?.cancel()
                statusTask = Task { [self] in
                    while !Task.isCancelled, client.isConnected {
                        await publishStatus()
                        try? await Task.sleep(for: .seconds(60))
                    }
                }
            case .disconnected(let problem), .connectFailed(let problem):
                let first = lock.withLock { () -> Bool in
                    defer {
                        state.connected = false
                        state.lastError = problem.description
                    }
                    return state.connected || state.lastError != problem.description
                }
                if first { logger.warning("uplink: \(problem.description); retrying with back-off") }
            }
            if lock.withLock({ stopped }) { break }
        }
        statusTask?.cancel()
    }

    func publishStatus() async {
        var doc = UplinkStatusDocument(device: deviceID, state: "online")
        let s = currentState()
        doc.since = s.lastConnected.map(ISO8601.format)
        doc.agent = ConcentratorVersion.current
        doc.uptimeSeconds = (clock.now().milliseconds - startedAt.milliseconds) / 1000
        doc.buses = busHealth()
        doc.lastSequence = s.lastSequence
        doc.pending = s.outboxDepth
        doc.oldestUnacknowledgedInterval = s.oldestUnacknowledgedInterval.map(ISO8601.format)
        doc.droppedUnsent = s.droppedUnsent
        _ = try? await client.publish(topic: topics.status, payload: doc.encoded(), retain: true)
    }

    // MARK: Acks and commands

    func receiveMessages() async {
        for await message in client.messages {
            if message.topic == topics.ack {
                await handleAck(message.payload)
            } else if message.topic == topics.command, let handler = lock.withLock({ commandHandler }) {
                handler(message.payload)
            }
            if lock.withLock({ stopped }) { break }
        }
    }

    /// Deletes the entry a valid ack names, but only if the ack is signed by a head-end ack key, is for
    /// this device, and carries the digest of exactly the batch we sent under that sequence.
    func handleAck(_ bytes: [UInt8]) async {
        let ack: BatchAck
        do {
            ack = try BatchAck.verify(bytes, deviceID: deviceID, trustedKeys: headEnd.keys(withRole: "ack"))
        } catch {
            logger.warning("uplink: ignoring an ack that does not verify: \(error)")
            return
        }
        let sequence = Int64(bitPattern: ack.sequence)
        var digest = lock.withLock { inFlight[sequence]?.digest }
        if digest == nil {
            // Acked after a restart, or a late ack: compare with the stored batch.
            let stored = try? await archive.read { try $0.outboxSealedPayload(sequence: sequence) }
            digest = stored.flatMap { $0 }.map { Array(SHA256.hash(data: $0)) }
        }
        guard let digest else { return }  // already acknowledged
        guard digest == ack.batchDigest else {
            logger.warning("uplink: ack for batch \(ack.sequence) names another batch's digest; ignored")
            return
        }
        switch ack.status {
        case .accepted, .duplicate:
            do {
                _ = try await archive.perform(.acknowledgeOutbox(sequence: sequence))
                lock.withLock {
                    inFlight[sequence] = nil
                    state.lastAcknowledged = clock.now()
                    workPending = true
                    // Registered now: what was refused before goes at once.
                    if state.refusal != nil {
                        for held in refusedHolds { heldUntil[held] = nil }
                        refusedHolds.removeAll()
                        refusedSince = nil
                        state.refusal = nil
                    }
                }
            } catch {
                logger.error("uplink: batch \(ack.sequence) acknowledged but not removed from the outbox: \(error)")
            }
        case .rejected(let reason):
            lock.withLock {
                inFlight[sequence] = nil
                heldUntil[sequence] = .now + .seconds(3600)
            }
            logger.error("uplink: the head-end rejected batch \(ack.sequence): \(reason); kept in the outbox, retried hourly (check the head-end keys in uplink.headEndKeys)")
        case .refused(let code):
            let reason = BatchRefusalReason(rawValue: code)
            let text = reason?.explanation ?? "the head-end refused the batch (reason \(code))"
            let first = lock.withLock { () -> Bool in
                inFlight[sequence] = nil
                let since = refusedSince ?? .now
                refusedSince = since
                // Sent again soon: an operator may approve the device any moment.
                heldUntil[sequence] = .now + Self.refusalHold(refusedFor: .now - since)
                refusedHolds.insert(sequence)
                defer { state.refusal = text }
                return state.refusal != text
            }
            if first {
                logger.warning("uplink: \(text) (batch \(ack.sequence) refused); batches stay queued and are sent again until the head-end operator approves this device (headend devices pending)")
            }
        }
    }

    // MARK: Drain

    /// Seals new entries and publishes what is ready, events first, within the in-flight window and
    /// the byte rate; resends what the head-end did not acknowledge in time.
    func drain() async {
        var bucket = TokenBucket(bytesPerSecond: settings.drain.maxBytesPerSecond, burst: 256 * 1024)
        var nextEventFlush = ContinuousClock.now
        var nextFullCheck = ContinuousClock.now
        while !lock.withLock({ stopped }) {
            lock.withLock { progress = .now }
            if ContinuousClock.now >= nextEventFlush {
                await flushEvents()
                nextEventFlush = .now + .milliseconds(200)
            }
            let work = lock.withLock { () -> Bool in
                defer { workPending = false }
                return workPending
            }
            if work || ContinuousClock.now >= nextFullCheck {
                nextFullCheck = .now + .seconds(5)
                if await sealer.sealPending() > 0 {
                    let last = try? await archive.read { try $0.outboxPending(limit: 1, order: .newestFirst).first?.sequence }
                    lock.withLock { state.lastSequence = last.flatMap { $0 } ?? state.lastSequence }
                }
                if client.isConnected { await publishReady(bucket: &bucket) }
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    private func flushEvents() async {
        let events = lock.withLock { () -> [GatewayEvent] in
            defer { pendingEvents.removeAll() }
            return pendingEvents
        }
        guard !events.isEmpty else { return }
        let recipe = BatchRecipe.events(events)
        do {
            _ = try await archive.perform(.enqueueOutbox(OutboxItem(created: clock.now(), kind: recipe.outboxKind,
                                                                     priority: recipe.priority, payload: recipe.encoded(), sealed: false)))
            lock.withLock { workPending = true }
        } catch {
            logger.error("uplink: \(events.count) events not queued: \(error)")
        }
    }

    private func publishReady(bucket: inout TokenBucket) async {
        let order: OutboxOrder = settings.drain.order == .newestFirst ? .newestFirst : .oldestFirst
        let ackTimeout = Duration.seconds(settings.acknowledgementTimeoutSeconds)
        let candidates: [OutboxEntry]
        do {
            let listed = try await archive.read { try $0.outboxPending(limit: Self.window * 2, order: order) }
            // Events first, whatever the order of the backlog.
            candidates = listed.filter { $0.item.priority > 0 } + listed.filter { $0.item.priority <= 0 }
        } catch {
            logger.error("uplink: cannot read the outbox: \(error)")
            return
        }
        for entry in candidates {
            let now = ContinuousClock.now
            let skip = lock.withLock { () -> Bool in
                if let held = heldUntil[entry.sequence], held > now { return true }
                if let f = inFlight[entry.sequence], now - f.sentAt < ackTimeout { return true }
                return inFlight.count >= Self.window && inFlight[entry.sequence] == nil
            }
            if skip { continue }
            // Wait for the rate limit in short steps, so the watchdog sees the loop alive.
            let until = now + bucket.take(entry.item.payload.count, now: now)
            while ContinuousClock.now < until {
                if lock.withLock({ stopped }) { return }
                lock.withLock { progress = .now }
                try? await Task.sleep(for: min(until - ContinuousClock.now, .seconds(1)))
            }
            let topic = entry.item.kind == "events" ? topics.event : topics.batch
            do {
                _ = try await client.publish(topic: topic, payload: entry.item.payload, qos: .atLeastOnce)
                let digest = Array(SHA256.hash(data: entry.item.payload))
                lock.withLock { inFlight[entry.sequence] = (digest, .now) }
                _ = try? await archive.perform(.recordOutboxAttempt(sequence: entry.sequence, at: clock.now()))
            } catch {
                lock.withLock { state.lastError = "\(error)" }
                return  // disconnected or the broker refused: the connection watcher takes over
            }
        }
        lock.withLock { workPending = workPending || candidates.count >= Self.window * 2 }
    }
}
