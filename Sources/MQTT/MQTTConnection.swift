#if canImport(Glibc)
import Glibc
#endif
import CMosquitto
import Logging
import Platform

/// Process-wide libmosquitto initialisation (`mosquitto_lib_init`), done exactly once.
enum MosquittoLibrary {
    static let initialised: Bool = {
        mosquitto_lib_init()
        return true
    }()
}

/// One caller waiting for a PUBACK or SUBACK. Every field is guarded by `MQTTConnection.lock`.
final class AckWaiter: @unchecked Sendable {
    let operation: String
    let deadline: ContinuousClock.Instant
    var messageID: Int32?
    var cancelled = false
    private var continuation: CheckedContinuation<Result<BrokerAck, MQTTError>, Never>?

    init(operation: String, deadline: ContinuousClock.Instant) {
        self.operation = operation
        self.deadline = deadline
    }

    func attach(_ continuation: CheckedContinuation<Result<BrokerAck, MQTTError>, Never>) {
        self.continuation = continuation
    }

    /// Resumes the caller once; later calls do nothing.
    func finish(_ result: Result<BrokerAck, MQTTError>) {
        continuation?.resume(returning: result)
        continuation = nil
    }
}

/// The broker's acknowledgement of one packet: its message id and v5 reason code (< 0x80).
struct BrokerAck: Sendable {
    var messageID: Int32
    var reasonCode: UInt8
}

/// What one connection attempt has seen so far. Guarded by `MQTTConnection.lock`.
struct AttemptState {
    var everConnected = false
    var connectedAt: ContinuousClock.Instant?
    var connackReasonCode: Int?
    var connackReasonString: String?
    var disconnectCode: Int32?
    var libraryLog: String?
}

/// The engine behind `MQTTClient`: owns the libmosquitto handle and the network thread.
///
/// Threading: libmosquitto's network loop (`mosquitto_loop`) runs on one dedicated thread started
/// with `DedicatedThread`; every libmosquitto callback happens there. `publish`, `subscribe` and
/// `stop` only queue packets (`mosquitto_threaded_set(true)` makes libmosquitto wake the loop through
/// its socket pair) and wait for the acknowledgement through a continuation, so async callers never
/// block. `lock` is never held while calling into libmosquitto, so a callback (which takes `lock`)
/// cannot deadlock against a caller.
final class MQTTConnection: @unchecked Sendable {
    enum Phase { case created, running, stopping, stopped }

    let settings: MQTTClientSettings
    let logger: Logger
    let diagnosis: MQTTDiagnosis
    let messageSink: AsyncStream<MQTTMessage>.Continuation
    let eventSink: AsyncStream<MQTTConnectionEvent>.Continuation

    let lock = ConditionLock()
    // Everything below is guarded by `lock`.
    var phase = Phase.created
    var connected = false
    /// Bumped whenever a connection ends, so a call that raced with a disconnect notices it.
    var generation = 0
    /// Callers currently inside a libmosquitto call; the network thread waits for zero before it
    /// reconnects (which recreates libmosquitto's socket pair) or destroys the handle.
    var callsInProgress = 0
    var handle: OpaquePointer?
    var waiters: [Int32: AckWaiter] = [:]
    /// Acknowledgements that arrived before the caller learned its message id.
    var earlyAcks: [Int32: Result<BrokerAck, MQTTError>] = [:]
    var subscriptions: [(filter: String, qos: MQTTQoS)] = []
    var resubscriptions: [Int32: String] = [:]
    var attempt = AttemptState()
    var disconnectQueued = false
    var haltedForTesting = false
    var threadFinished = false
    var stopWaiters: [OneShot<Void>] = []
    var lastLoggedProblem: String?
    var droppedMessages = 0
    var lastDropReport: ContinuousClock.Instant?

    init(settings: MQTTClientSettings, logger: Logger, messageSink: AsyncStream<MQTTMessage>.Continuation,
         eventSink: AsyncStream<MQTTConnectionEvent>.Continuation) {
        self.settings = settings
        self.logger = logger
        self.messageSink = messageSink
        self.eventSink = eventSink
        diagnosis = MQTTDiagnosis(settings: settings)
    }

    var isConnected: Bool { lock.withLock { connected } }
    var stopRequested: Bool { lock.withLock { phase == .stopping || phase == .stopped } }

    // MARK: Start

    func start() throws(MQTTError) {
        try settings.validate()
        let alreadyStarted = lock.withLock { phase != .created }
        if alreadyStarted {
            throw .invalidRequest(operation: "start", problem: "the client was already started; create a new client")
        }
        _ = MosquittoLibrary.initialised
        let userdata = Unmanaged.passUnretained(self).toOpaque()
        guard let handle = mosquitto_new(settings.clientID, settings.cleanStart, userdata) else {
            throw .library(operation: "create the MQTT client", code: MosquittoCode.errno,
                           message: String(cString: strerror(errno)))
        }
        do {
            try configure(handle)
        } catch {
            mosquitto_destroy(handle)
            throw error
        }
        lock.withLock {
            self.handle = handle
            phase = .running
        }
        logger.info("MQTT client starting: \(settings)")
        if settings.tls?.insecureSkipHostnameVerification == true {
            logger.warning("MQTT TLS host name verification is OFF (tls.insecureSkipHostnameVerification)")
        }
        // The handle belongs to the network thread from here on; other threads reach it only
        // through `send` and `requestStop`, which count themselves in `callsInProgress`.
        nonisolated(unsafe) let threadHandle = handle
        DedicatedThread.start(name: "mqtt-net") { [self] in runNetworkLoop(threadHandle) }
    }

    private func configure(_ handle: OpaquePointer) throws(MQTTError) {
        func check(_ rc: Int32, _ operation: String) throws(MQTTError) {
            if rc != MosquittoCode.success {
                throw .library(operation: operation, code: rc, message: MosquittoCode.message(rc))
            }
        }
        try check(mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5), "select MQTT v5")
        try check(mosquitto_threaded_set(handle, true), "enable thread safety")
        MQTTCallbacks.install(on: handle)
        if let username = settings.username {
            try check(mosquitto_username_pw_set(handle, username, settings.password?.value), "set the username")
        }
        if let will = settings.will {
            let rc = will.payload.withUnsafeBytes {
                mosquitto_will_set_v5(handle, will.topic, Int32(will.payload.count), $0.baseAddress, will.qos.rawValue,
                                      will.retain, nil)
            }
            if rc != MosquittoCode.success {
                throw .invalidSettings(field: "will", problem: "was refused by libmosquitto (\(MosquittoCode.message(rc)))")
            }
        }
        if let tls = settings.tls { try configureTLS(tls, handle) }
    }

    private func configureTLS(_ tls: MQTTTLSSettings, _ handle: OpaquePointer) throws(MQTTError) {
        if let psk = tls.preSharedKey {
            let rc = mosquitto_tls_psk_set(handle, psk.keyHex.value, psk.identity, nil)
            if rc != MosquittoCode.success {
                throw .invalidSettings(field: "tls.preSharedKey", problem: "was refused by libmosquitto (\(MosquittoCode.message(rc)))")
            }
            return
        }
        for (field, path) in [("tls.caFile", tls.caFile), ("tls.certificateFile", tls.certificateFile), ("tls.keyFile", tls.keyFile)] {
            guard let path else { continue }
            if access(path, R_OK) != 0 {
                throw .invalidSettings(field: field, problem: "'\(path)' cannot be read (\(String(cString: strerror(errno))))")
            }
        }
        let rc = mosquitto_tls_set(handle, tls.caFile, nil, tls.certificateFile, tls.keyFile, nil)
        if rc != MosquittoCode.success {
            throw .invalidSettings(field: "tls", problem: "files were refused by libmosquitto (\(MosquittoCode.message(rc))); "
                                   + "check that the CA file, certificate and key are PEM and that the key matches the certificate")
        }
        if tls.insecureSkipHostnameVerification {
            _ = mosquitto_tls_insecure_set(handle, true)
        }
    }

    // MARK: Calls from other threads

    /// Runs `call` with the handle when connected, then registers `waiter` under the message id it
    /// returned. Fails the waiter at once when not connected or when the call fails.
    func send(_ waiter: AckWaiter, payloadSize: Int,
              _ call: (OpaquePointer, UnsafeMutablePointer<Int32>) -> Int32) {
        lock.lock()
        guard phase == .running, connected, let handle else {
            lock.unlock()
            lock.withLock { waiter.finish(.failure(.notConnected(broker: settings.brokerAddress))) }
            return
        }
        if waiter.cancelled {
            waiter.finish(.failure(.cancelled(operation: waiter.operation)))
            lock.unlock()
            return
        }
        callsInProgress += 1
        let startGeneration = generation
        lock.unlock()

        var messageID: Int32 = 0
        let rc = call(handle, &messageID)

        lock.withLock {
            callsInProgress -= 1
            defer {
                if callsInProgress == 0 {
                    earlyAcks.removeAll()
                    lock.broadcast()
                }
            }
            if rc != MosquittoCode.success {
                waiter.finish(.failure(diagnosis.callFailure(code: rc, operation: waiter.operation, payloadSize: payloadSize)))
                return
            }
            waiter.messageID = messageID
            if let early = earlyAcks.removeValue(forKey: messageID) {
                waiter.finish(early)
            } else if generation != startGeneration || !connected {
                waiter.finish(.failure(.disconnectedBeforeAck(operation: waiter.operation)))
            } else if waiter.cancelled {
                waiter.finish(.failure(.cancelled(operation: waiter.operation)))
            } else {
                waiters[messageID] = waiter
            }
        }
    }

    /// Delivers an acknowledgement from the network thread to its waiter.
    func deliver(_ result: Result<BrokerAck, MQTTError>, messageID: Int32) {
        lock.withLock {
            if let waiter = waiters.removeValue(forKey: messageID) {
                waiter.finish(result)
            } else if callsInProgress > 0 {
                earlyAcks[messageID] = result
            }
        }
    }

    func cancel(_ waiter: AckWaiter) {
        lock.withLock {
            waiter.cancelled = true
            if let id = waiter.messageID, waiters[id] === waiter {
                waiters.removeValue(forKey: id)
                waiter.finish(.failure(.cancelled(operation: waiter.operation)))
            }
        }
    }

    /// Marks the connection up (from the CONNACK callback) and returns the subscriptions to send
    /// again when the broker has no session for us.
    func markConnected(sessionPresent: Bool) -> [(filter: String, qos: MQTTQoS)] {
        lock.withLock {
            connected = true
            attempt.everConnected = true
            attempt.connectedAt = .now
            return sessionPresent ? [] : subscriptions
        }
    }

    func markDisconnected(code: Int32) {
        lock.withLock {
            connected = false
            attempt.disconnectCode = code
        }
    }

    func remember(subscription filter: String, qos: MQTTQoS) {
        lock.withLock {
            subscriptions.removeAll { $0.filter == filter }
            subscriptions.append((filter, qos))
        }
    }

    // MARK: Stop

    /// Asks the network thread to send DISCONNECT and end. Does not wait.
    func requestStop() {
        let handleToDisconnect: OpaquePointer? = lock.withLock {
            switch phase {
            case .created:
                phase = .stopped
                threadFinished = true
                eventSink.finish()
                messageSink.finish()
                return nil
            case .stopping, .stopped:
                return nil
            case .running:
                phase = .stopping
                lock.broadcast()
                guard connected, !haltedForTesting, let handle else { return nil }
                disconnectQueued = true
                callsInProgress += 1
                return handle
            }
        }
        guard let handleToDisconnect else { return }
        _ = mosquitto_disconnect_v5(handleToDisconnect, 0, nil)
        lock.withLock {
            callsInProgress -= 1
            lock.broadcast()
        }
    }

    /// Stops and waits until the network thread has sent DISCONNECT and destroyed the handle, at most
    /// `timeout` (a connect blocked in the kernel can take longer; the thread then finishes alone).
    func stop(timeout: Duration) async {
        requestStop()
        // Whichever comes first: the network thread's exit or the timeout.
        let stopped = OneShot<Void>()
        let finished = lock.withLock {
            if !threadFinished { stopWaiters.append(stopped) }
            return threadFinished
        }
        if finished { stopped.set(()) }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            stopped.set(())
        }
        await stopped.value()
        timer.cancel()
        eventSink.finish()
        messageSink.finish()
    }

    /// Test hook: the network thread stops servicing the socket without sending DISCONNECT, as if
    /// the device lost power or its link went dead. The broker notices after 1.5 × keepalive.
    func haltNetworkForTesting() {
        lock.withLock { haltedForTesting = true }
    }
}
