import CMosquitto

/// libmosquitto's callbacks. They run on the network thread (the log callback also on a thread
/// that is publishing); each finds its `MQTTConnection` through the user-data pointer given to
/// `mosquitto_new`. The connection outlives the handle: the network thread holds it until it has
/// destroyed the handle.
enum MQTTCallbacks {
    static func install(on handle: OpaquePointer) {
        mosquitto_connect_v5_callback_set(handle) { handle, userdata, reasonCode, flags, properties in
            MQTTCallbacks.connection(userdata).handleConnack(handle, reasonCode: Int(reasonCode),
                                                             sessionPresent: flags & 1 != 0, properties: properties)
        }
        mosquitto_disconnect_v5_callback_set(handle) { _, userdata, code, _ in
            MQTTCallbacks.connection(userdata).markDisconnected(code: code)
        }
        mosquitto_publish_v5_callback_set(handle) { _, userdata, messageID, reasonCode, properties in
            MQTTCallbacks.connection(userdata).handleAck(messageID: messageID, reasonCode: reasonCode,
                                                         reasonString: MQTTPropertyList.string(properties, MQTTPropertyList.reasonString))
        }
        mosquitto_subscribe_v5_callback_set(handle) { _, userdata, messageID, count, granted, properties in
            // One filter per SUBSCRIBE, so one SUBACK reason code (MQTT v5, section 3.9.3).
            let code = count > 0 && granted != nil ? granted![0] : 0x80
            MQTTCallbacks.connection(userdata).handleSuback(messageID: messageID, reasonCode: code,
                                                            reasonString: MQTTPropertyList.string(properties, MQTTPropertyList.reasonString))
        }
        mosquitto_message_v5_callback_set(handle) { _, userdata, message, properties in
            guard let message else { return }
            MQTTCallbacks.connection(userdata).handleMessage(message.pointee, properties: properties)
        }
        mosquitto_log_callback_set(handle) { _, userdata, level, text in
            guard let text else { return }
            MQTTCallbacks.connection(userdata).handleLibraryLog(level: level, text: String(cString: text))
        }
    }

    private static func connection(_ userdata: UnsafeMutableRawPointer?) -> MQTTConnection {
        Unmanaged<MQTTConnection>.fromOpaque(userdata!).takeUnretainedValue()
    }
}

extension MQTTConnection {
    /// CONNACK: success marks the connection up and re-sends the subscriptions when the broker
    /// lost the session; a refusal is remembered for the attempt's `connectFailed` event.
    func handleConnack(_ handle: OpaquePointer?, reasonCode: Int, sessionPresent: Bool, properties: OpaquePointer?) {
        guard reasonCode == 0 else {
            let reason = MQTTPropertyList.string(properties, MQTTPropertyList.reasonString)
            lock.withLock {
                attempt.connackReasonCode = reasonCode
                attempt.connackReasonString = reason
            }
            return
        }
        let resend = markConnected(sessionPresent: sessionPresent)
        for subscription in resend {
            var messageID: Int32 = 0
            let rc = mosquitto_subscribe_v5(handle, &messageID, subscription.filter, subscription.qos.rawValue, 0, nil)
            if rc == MosquittoCode.success {
                lock.withLock { resubscriptions[messageID] = subscription.filter }
            } else {
                logger.error("MQTT could not re-subscribe to '\(subscription.filter)': \(MosquittoCode.message(rc))")
            }
        }
        if !resend.isEmpty {
            logger.info("MQTT broker had no session: re-subscribed to \(resend.count) filter(s)")
        }
        noteConnected(sessionPresent: sessionPresent)
        eventSink.yield(.connected(sessionPresent: sessionPresent))
    }

    /// PUBACK (or the write of a QoS 0 message): a v5 reason code ≥ 0x80 is a failure.
    func handleAck(messageID: Int32, reasonCode: Int32, reasonString: String?) {
        deliver(Self.ackResult(messageID: messageID, reasonCode: reasonCode, reasonString: reasonString), messageID: messageID)
    }

    func handleSuback(messageID: Int32, reasonCode: Int32, reasonString: String?) {
        let resubscribed: String? = lock.withLock { resubscriptions.removeValue(forKey: messageID) }
        if let filter = resubscribed {
            if reasonCode >= 0x80 {
                let reason = reasonString ?? MosquittoCode.reasonName(Int(reasonCode))
                logger.error("MQTT re-subscription to '\(filter)' rejected: reason code \(reasonCode) (\(reason))")
            }
            return
        }
        deliver(Self.ackResult(messageID: messageID, reasonCode: reasonCode, reasonString: reasonString), messageID: messageID)
    }

    static func ackResult(messageID: Int32, reasonCode: Int32, reasonString: String?) -> Result<BrokerAck, MQTTError> {
        let code = UInt8(truncatingIfNeeded: reasonCode)
        if code >= 0x80 {
            return .failure(.rejected(reasonCode: code, reason: reasonString ?? MosquittoCode.reasonName(Int(code))))
        }
        return .success(BrokerAck(messageID: messageID, reasonCode: code))
    }

    /// A received PUBLISH: checked against the maximum packet size before anything is copied, then
    /// queued for the consumer unless the queue is full.
    func handleMessage(_ message: mosquitto_message, properties: OpaquePointer?) {
        if let limit = settings.maximumPacketSize, Int(message.payloadlen) > Int(limit) {
            noteDropped("a \(message.payloadlen)-byte message on a subscribed topic exceeds the maximum packet size of \(limit) bytes (a broker that ignores MQTT v5 Maximum Packet Size)")
            return
        }
        let topic = message.topic.map { String(cString: $0) } ?? ""
        var payload: [UInt8] = []
        if let bytes = message.payload, message.payloadlen > 0 {
            payload = Array(UnsafeRawBufferPointer(start: bytes, count: Int(message.payloadlen)))
        }
        let qos: MQTTQoS = message.qos == 0 ? .atMostOnce : .atLeastOnce
        let result = messageSink.yield(MQTTMessage(topic: topic, payload: payload, qos: qos, retain: message.retain,
                                                   properties: MQTTPropertyList.messageProperties(properties)))
        if case .dropped = result {
            noteDropped("\(settings.incomingQueueLimit) received messages are already waiting for the consumer")
        }
    }

    /// Counts a dropped message; one log line per minute at most.
    private func noteDropped(_ reason: String) {
        let report = lock.withLock { () -> Int? in
            droppedMessages += 1
            let now = ContinuousClock.now
            guard lastDropReport.map({ now - $0 >= .seconds(60) }) ?? true else { return nil }
            lastDropReport = now
            return droppedMessages
        }
        if let total = report { logger.warning("MQTT dropped a received message: \(reason); \(total) dropped since start") }
    }

    /// Keeps the attempt's first error line (OpenSSL's reason for a TLS failure) and passes
    /// warnings and errors to the logger at debug level. libmosquitto never logs the password.
    func handleLibraryLog(level: Int32, text: String) {
        let important = level & Int32(MOSQ_LOG_ERR | MOSQ_LOG_WARNING) != 0
        guard important else { return }
        lock.withLock {
            if attempt.libraryLog == nil { attempt.libraryLog = text }
        }
        logger.debug("libmosquitto: \(text)")
    }
}
