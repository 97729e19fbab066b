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
                    machine.connected(now: .now)
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
                    machine.disconnected(now: .now)
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
        lock.withLock { statusDecorator }?(&doc)
        _ = try? await client.publish(topic: topics.status, payload: doc.encoded(), retain: true)
    }

    // MARK: Acks and commands

    func receiveMessages() async {
        for await message in client.messages {
            if message.retain {
                // The head-end never retains acks or commands (Docs/operator-guide.md, broker ACL); a
                // retained one would come again at every subscription. Not read at all.
                logger.warning("uplink: ignored a retained \(message.payload.count)-byte message on \(message.topic); nobody may retain on it (remove it at the broker: mosquitto_pub -r -n -t \(message.topic))")
                continue
            }
            if message.topic == topics.ack {
                await handleAck(message.payload)
            } else if message.topic == topics.command, let handler = lock.withLock({ commandHandler }) {
                handler(message.payload)
            }
            if lock.withLock({ stopped }) { break }
        }
    }

    /// Verifies an ack (signed by a head-end ack key, for this device) and hands it to the drain
    /// machine with the digest of the stored entry when it is not in flight (acked after a restart,
    /// or late); the machine decides, this performs.
    func handleAck(_ bytes: [UInt8]) async {
        let ack: BatchAck
        do {
            ack = try BatchAck.verify(bytes, deviceID: deviceID, trustedKeys: headEnd.keys(withRole: "ack"))
        } catch {
            reportBadAck("ignoring an ack that does not verify: \(error)")
            return
        }
        let sequence = Int64(bitPattern: ack.sequence)
        var stored: [UInt8]?
        if lock.withLock({ machine.digestInFlight(sequence) }) == nil {
            let payload = try? await archive.read { try $0.outboxSealedPayload(sequence: sequence) }
            stored = payload.flatMap { $0 }.map { Array(SHA256.hash(data: $0)) }
        }
        let actions = lock.withLock { machine.acked(ack, storedDigest: stored, now: .now) }
        await perform(actions)
    }

    // MARK: Performing the machine's actions

    /// Performs what the drain machine decided, in order. A publish goes to the broker here (the
    /// machine does not know where batches go); `payloads` holds the bytes of the entries listed.
    /// Returns the earliest wake-up asked for.
    @discardableResult
    func perform(_ actions: [DrainAction], payloads: [Int64: OutboxEntry] = [:]) async -> ContinuousClock.Instant? {
        var wake: ContinuousClock.Instant?
        var publishing = true
        for action in actions {
            switch action {
            case .publish(let sequence):
                guard publishing, let entry = payloads[sequence] else {
                    lock.withLock { machine.publishFailed(sequence: sequence) }
                    continue
                }
                let topic = entry.item.kind == "events" ? topics.event : topics.batch
                do {
                    if !client.isConnected, let route = lock.withLock({ alternateRoute }), route.isAvailable {
                        try await route.send(sealedBatch: entry.item.payload, sequence: sequence, attempt: entry.attempts,
                                             isEvent: entry.item.kind == "events", isBackfill: entry.item.kind.hasPrefix("backfill-"))
                    } else {
                        _ = try await client.publish(topic: topic, payload: entry.item.payload, qos: .atLeastOnce)
                    }
                    lock.withLock { machine.published(sequence: sequence, now: .now) }
                    _ = try? await archive.perform(.recordOutboxAttempt(sequence: sequence, at: clock.now()))
                } catch {
                    // Disconnected or the broker refused: the connection watcher takes over.
                    lock.withLock {
                        machine.publishFailed(sequence: sequence)
                        state.lastError = "\(error)"
                    }
                    publishing = false
                }
            case .delete(let sequence):
                do {
                    _ = try await archive.perform(.acknowledgeOutbox(sequence: sequence))
                    lock.withLock {
                        state.lastAcknowledged = clock.now()
                        workPending = true
                    }
                } catch {
                    logger.error("uplink: batch \(sequence) acknowledged but not removed from the outbox: \(error)")
                }
            case .reseal(let sequence):
                let outcome: Result<Bool, ArchiveError>
                do { outcome = .success(try await archive.perform(.unsealOutbox(sequence: sequence))) } catch { outcome = .failure(error) }
                switch outcome {
                case .success(true):
                    lock.withLock {
                        machine.resealStarted(sequence: sequence)
                        workPending = true
                    }
                case .success(false):
                    await perform(lock.withLock { machine.resealFailed(sequence: sequence, reason: "it was sealed before the agent kept recipes") })
                case .failure(let error):
                    await perform(lock.withLock { machine.resealFailed(sequence: sequence, reason: "\(error)") })
                }
            case .raise(let kind, let severity, let message):
                let event = GatewayEvent(time: clock.now(), kind: kind, severity: severity, message: message)
                if let sink = lock.withLock({ eventSink }) { sink(event) } else { enqueue(event: event) }
            case .log(let level, let message):
                switch level {
                case .notice: logger.notice("\(message)")
                case .warning: logger.warning("\(message)")
                case .error: logger.error("\(message)")
                case .badAck: reportBadAck(message)
                }
            case .wake(let at), .rateLimited(let at):
                wake = min(wake ?? at, at)
            }
        }
        return wake
    }

    /// A bad ack: one warning each, up to `badAcksLoggedPerMinute` a minute; then one line saying the
    /// rest are only counted, and their number in the first line of a later minute (issue 17 #12).
    func reportBadAck(_ text: @autoclosure () -> String) {
        let (decision, counted) = lock.withLock { () -> (MinuteAllowance.Decision, Int) in
            let decision = badAcks.take(at: clock.now())
            return (decision, badAcks.takeCountedInPreviousMinute())
        }
        if counted > 0 { logger.warning("uplink: \(counted) more bad acks in the previous minute were not logged") }
        switch decision {
        case .admitted: logger.warning("uplink: \(text())")
        case .exhausted:
            logger.warning("uplink: more than \(Self.badAcksLoggedPerMinute) bad acks this minute; the rest are ignored without a line each (their number follows)")
        case .counted: break
        }
    }

    // MARK: Drain

    /// Whether batches can go now: through the broker, or (while it is unreachable) through the
    /// alternate route (the mesh). The drain machine sees the route's availability as a connection.
    func routeIsUsable() async -> Bool {
        if client.isConnected {
            lock.withLock { routeActive = false }
            return true
        }
        let route = lock.withLock { alternateRoute }
        let usable = route?.isAvailable ?? false
        lock.withLock {
            // The broker's reconnect attempts report `disconnected` again and again while the route
            // carries the batches: whenever the machine was told so, the route's availability counts.
            if usable, !machine.isConnected {
                routeActive = true
                machine.connected(now: .now)
            } else if !usable, routeActive {
                routeActive = false
                machine.disconnected(now: .now)
            }
        }
        return usable
    }

    /// Seals new entries and offers the outbox to the drain machine, which decides what goes (events
    /// first, within the in-flight window and the byte rate, resends after the ack timeout).
    func drain() async {
        var nextEventFlush = ContinuousClock.now
        var nextFullCheck = ContinuousClock.now
        while !lock.withLock({ stopped }) {
            lock.withLock { progress = .now }
            if ContinuousClock.now >= nextEventFlush {
                // After a failed enqueue the events wait (kept) and the next try is 5 s away.
                nextEventFlush = .now + (await flushEvents() ? .milliseconds(200) : .seconds(5))
            }
            let work = lock.withLock { () -> Bool in
                defer { workPending = false }
                return workPending
            }
            if work || ContinuousClock.now >= nextFullCheck {
                nextFullCheck = .now + .seconds(5)
                if await sealer.sealPending() > 0 {
                    let last = try? await archive.read { try $0.outboxPending(limit: 1, order: .newestFirst).first?.sequence }
                    // More may wait: the sealer does a bounded round per call (publishing goes between).
                    lock.withLock { state.lastSequence = last.flatMap { $0 } ?? state.lastSequence; workPending = true }
                }
                if await routeIsUsable(), let wake = await offerOutbox() { nextFullCheck = min(nextFullCheck, wake) }
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Queues the pending events as one outbox entry (which may use the archive's disk reserve).
    /// Returns false when the archive refused: the events stay pending (at most `pendingEventLimit`).
    func flushEvents() async -> Bool {
        let events = lock.withLock { () -> [GatewayEvent] in
            defer { pendingEvents.removeAll() }
            return pendingEvents
        }
        guard !events.isEmpty else { return true }
        let recipe = BatchRecipe.events(events)
        do {
            _ = try await archive.perform(.enqueueOutbox(OutboxItem(created: clock.now(), kind: recipe.outboxKind, priority: recipe.priority,
                                                                     payload: recipe.encoded(), sealed: false), essential: true))
            lock.withLock { workPending = true }
            return true
        } catch {
            let dropped = lock.withLock { () -> Int in
                pendingEvents = events + pendingEvents
                let excess = max(0, pendingEvents.count - Self.pendingEventLimit)
                pendingEvents.removeFirst(excess)
                return excess
            }
            // The archive logged the failure itself (once a minute for a full disk).
            if dropped > 0 { logger.warning("uplink: \(dropped) events not queued for the head-end (more than \(Self.pendingEventLimit) waiting); they stay in the archive's event log") }
            return false
        }
    }

    /// Lists the sealed outbox, lets the machine decide and performs its decisions; waits for the
    /// byte rate in short steps (the watchdog sees the loop alive) and offers again. Returns when the
    /// machine wants to be asked again at the latest. `eventsOnly`: the last offer before stopping.
    func offerOutbox(eventsOnly: Bool = false, until deadline: ContinuousClock.Instant? = nil) async -> ContinuousClock.Instant? {
        let order: OutboxOrder = settings.drain.order == .newestFirst ? .newestFirst : .oldestFirst
        while true {
            let listed: [OutboxEntry]
            let eventsWaiting: Bool
            do {
                listed = try await archive.read { try $0.outboxPending(limit: Self.window * 2, order: order) }
                let unsealedEvent = try await archive.read { try $0.outboxUnsealed(limit: 1, order: .priorityThenOldest).first?.item.priority ?? 0 } > 0
                eventsWaiting = unsealedEvent || lock.withLock { !pendingEvents.isEmpty }
            } catch {
                logger.error("uplink: cannot read the outbox: \(error)")
                return nil
            }
            let entries = listed.map {
                DrainEntry(sequence: $0.sequence, isEvent: $0.item.priority > 0, byteCount: $0.item.payload.count,
                           digest: Array(SHA256.hash(data: $0.item.payload)))
            }
            let payloads = Dictionary(listed.map { ($0.sequence, $0) }, uniquingKeysWith: { a, _ in a })
            let actions = lock.withLock { machine.listed(entries, eventsWaiting: eventsWaiting, eventsOnly: eventsOnly, now: .now) }
            let wake = await perform(actions, payloads: payloads)
            lock.withLock { workPending = workPending || listed.count >= Self.window * 2 }
            // The byte rate holds the next batch back: wait it out (in short steps), then offer again.
            guard case .rateLimited(let until)? = actions.last else { return wake }
            if let deadline, until >= deadline { return nil }
            while ContinuousClock.now < until {
                if lock.withLock({ stopped }) && !eventsOnly { return nil }
                lock.withLock { progress = .now }
                try? await Task.sleep(for: min(until - ContinuousClock.now, .seconds(1)))
            }
        }
    }

    /// At stop: queues the pending events (agent_stopping) in the outbox, seals them and, when
    /// connected, sends them and waits up to `finalEventsWait` for their acks. What is not
    /// acknowledged stays queued and goes first after the next start.
    func sendFinalEvents() async {
        _ = await flushEvents()
        _ = await sealer.sealPending()
        guard client.isConnected else { return }
        let deadline = ContinuousClock.now + Self.finalEventsWait
        _ = await offerOutbox(eventsOnly: true, until: deadline)
        while ContinuousClock.now < deadline, lock.withLock({ machine.inFlightCount > 0 }) {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}
