#if canImport(Glibc)
import Glibc
#endif
import CMosquitto

/// The network thread: connect, run libmosquitto's loop until the connection ends, report it, wait
/// the backoff delay, and again, until `stop`. Everything here runs on that one dedicated thread.
extension MQTTConnection {
    func runNetworkLoop(_ handle: OpaquePointer) {
        let backoff = MQTTReconnectBackoff(policy: settings.reconnect)
        var random = SystemRandomNumberGenerator()
        var retry = 0
        var connectProperties = MQTTPropertyList.connect(sessionExpirySeconds: settings.sessionExpirySeconds,
                                                         maximumPacketSize: settings.maximumPacketSize)
        defer { mosquitto_property_free_all(&connectProperties) }

        while !stopRequested {
            waitForCallsToDrain()
            lock.withLock { attempt = AttemptState() }
            // Blocking TCP connect on this dedicated thread; the CONNECT packet is only queued and
            // goes out from the loop below. Every attempt passes the v5 CONNECT properties again.
            let rc = mosquitto_connect_bind_v5(handle, settings.host, Int32(settings.port), Int32(settings.keepaliveSeconds),
                                               nil, connectProperties)
            let connectErrno = errno
            var failure: (code: Int32, errnoValue: Int32)?
            if rc == MosquittoCode.success {
                // Stopped while connecting: close without ever sending the queued CONNECT, so a
                // replacement client with the same id is not kicked off by a session takeover.
                if stopRequested { break }
                failure = serviceConnection(handle)
                if failure == nil { break } // halted for testing
            } else {
                failure = (rc, connectErrno)
            }
            // The backoff starts over only after a connection that stayed up for a while, so a
            // broker that accepts and then drops us at once (a client id clash) is not hammered.
            if let connectedAt = endAttempt(failure: failure), ContinuousClock.now - connectedAt >= settings.reconnect.maxDelay {
                retry = 0
            }
            if stopRequested { break }
            let delay = backoff.delay(attempt: retry, using: &random)
            retry += 1
            logger.info("MQTT reconnecting to \(settings.brokerAddress) in \(Int(delay.inMilliseconds)) ms")
            sleepUnlessStopped(delay)
        }
        if lock.withLock({ haltedForTesting }) {
            lock.withLock { while phase == .running { lock.wait() } }
        }
        teardown(handle)
    }

    /// Runs the loop for one connection until it ends. Returns the code and errno that ended it,
    /// or nil when the test hook halted the thread (the socket stays open, nothing more is sent).
    private func serviceConnection(_ handle: OpaquePointer) -> (code: Int32, errnoValue: Int32)? {
        var disconnectStarted: ContinuousClock.Instant?
        while true {
            let (halted, stopping, queued) = lock.withLock { (haltedForTesting, phase != .running, disconnectQueued) }
            if halted { return nil }
            if stopping && disconnectStarted == nil {
                if !queued { _ = mosquitto_disconnect_v5(handle, 0, nil) }
                disconnectStarted = .now
            }
            let rc = mosquitto_loop(handle, 1000, 1)
            let loopErrno = errno
            expireWaiters()
            if rc != MosquittoCode.success { return (rc, loopErrno) }
            if let started = disconnectStarted, ContinuousClock.now - started > .seconds(2) {
                return (MosquittoCode.noConnection, 0)
            }
        }
    }

    /// Ends one attempt: fails waiting callers, reports the event and logs it. Returns when the
    /// attempt reached CONNACK success, or nil.
    private func endAttempt(failure: (code: Int32, errnoValue: Int32)?) -> ContinuousClock.Instant? {
        let (state, stopping, waiting) = lock.withLock {
            connected = false
            generation += 1
            let waiting = waiters
            waiters.removeAll()
            resubscriptions.removeAll()
            return (attempt, phase != .running, waiting)
        }
        for waiter in waiting.values {
            lock.withLock { waiter.finish(.failure(.disconnectedBeforeAck(operation: waiter.operation))) }
        }
        let event: MQTTConnectionEvent?
        if stopping {
            event = state.everConnected ? .disconnected(diagnosis.stoppedByClient()) : nil
        } else if state.everConnected {
            if let code = state.disconnectCode, code >= 0x80 {
                event = .disconnected(diagnosis.disconnectedByBroker(reasonCode: Int(code)))
            } else {
                let code = failure?.code ?? MosquittoCode.connectionLost
                event = .disconnected(diagnosis.libraryFailure(code: code, errnoValue: failure?.errnoValue ?? 0,
                                                               libraryLog: state.libraryLog))
            }
        } else if let reason = state.connackReasonCode {
            event = .connectFailed(diagnosis.connectRefused(reasonCode: reason, reasonString: state.connackReasonString))
        } else {
            let code = failure?.code ?? MosquittoCode.connectionLost
            event = .connectFailed(diagnosis.libraryFailure(code: code, errnoValue: failure?.errnoValue ?? 0,
                                                            libraryLog: state.libraryLog))
        }
        if let event {
            log(event)
            eventSink.yield(event)
        }
        return state.connectedAt
    }

    private func log(_ event: MQTTConnectionEvent) {
        let text: String
        let kind: MQTTConnectionProblem.Kind
        switch event {
        case .connected: return
        case .disconnected(let problem): (text, kind) = ("MQTT disconnected: \(problem)", problem.kind)
        case .connectFailed(let problem): (text, kind) = ("MQTT connection failed: \(problem)", problem.kind)
        }
        let repeated = lock.withLock {
            defer { lastLoggedProblem = text }
            return lastLoggedProblem == text
        }
        if kind == .stoppedByClient {
            logger.info("\(text)")
        } else if repeated {
            logger.debug("\(text)")
        } else {
            logger.warning("\(text)")
        }
    }

    func noteConnected(sessionPresent: Bool) {
        lock.withLock { lastLoggedProblem = nil }
        logger.info("MQTT connected to \(settings.brokerAddress) (session present: \(sessionPresent))")
    }

    private func waitForCallsToDrain() {
        lock.withLock { while callsInProgress > 0 { lock.wait() } }
    }

    private func sleepUnlessStopped(_ delay: Duration) {
        let deadline = ContinuousClock.now + delay
        lock.withLock {
            while phase == .running {
                let remaining = deadline - ContinuousClock.now
                if remaining <= .zero { return }
                lock.wait(for: remaining)
            }
        }
    }

    private func expireWaiters() {
        let now = ContinuousClock.now
        lock.withLock {
            for (id, waiter) in waiters where waiter.deadline <= now {
                waiters.removeValue(forKey: id)
                waiter.finish(.failure(.timeout(operation: waiter.operation, after: settings.acknowledgementTimeout)))
            }
        }
    }

    private func teardown(_ handle: OpaquePointer) {
        lock.withLock {
            while callsInProgress > 0 { lock.wait() }
            self.handle = nil
        }
        mosquitto_destroy(handle)
        let signals = lock.withLock {
            phase = .stopped
            threadFinished = true
            defer { stopWaiters.removeAll() }
            return stopWaiters
        }
        for signal in signals { signal.set(()) }
        eventSink.finish()
        messageSink.finish()
        logger.info("MQTT client stopped (\(settings.brokerAddress))")
    }
}
