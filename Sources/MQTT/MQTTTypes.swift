/// The MQTT v5 properties the uplink reads and writes on a PUBLISH (request/response pattern, and
/// user properties such as a mesh gateway's path note).
public struct MQTTMessageProperties: Sendable, Equatable {
    public var responseTopic: String?
    public var correlationData: [UInt8]?
    /// User properties (MQTT v5, 3.3.2.3.7), name → value (a name given twice keeps the last value).
    public var userProperties: [String: String]

    public init(responseTopic: String? = nil, correlationData: [UInt8]? = nil, userProperties: [String: String] = [:]) {
        self.responseTopic = responseTopic
        self.correlationData = correlationData
        self.userProperties = userProperties
    }

    var isEmpty: Bool { responseTopic == nil && correlationData == nil && userProperties.isEmpty }
}

/// A message the broker delivered to one of the client's subscriptions. The payload is the exact
/// bytes that were published.
public struct MQTTMessage: Sendable, Equatable {
    public var topic: String
    public var payload: [UInt8]
    public var qos: MQTTQoS
    public var retain: Bool
    public var properties: MQTTMessageProperties

    public init(topic: String, payload: [UInt8], qos: MQTTQoS, retain: Bool,
                properties: MQTTMessageProperties = MQTTMessageProperties()) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = properties
    }
}

/// A received message the client dropped before its consumer saw it (libmosquitto had already
/// acknowledged it to the broker).
public struct MQTTDroppedMessage: Sendable, Equatable {
    /// Why it was dropped.
    public enum Reason: Sendable, Equatable {
        /// Larger than the maximum packet size this client announced.
        case oversized
        /// The consumer's queue (`incomingQueueLimit`) was full.
        case queueFull
    }

    public var topic: String
    public var size: Int
    /// The payload when it was copied (nil for an oversized message, which never is).
    public var payload: [UInt8]?
    public var reason: Reason
}

/// What the broker answered to a publish: for QoS 1 the PUBACK's v5 reason code, which is below
/// 0x80 here (0x00 success, 0x10 "no matching subscribers"). Codes ≥ 0x80 throw `.rejected` instead.
/// A PUBACK only says the broker has the message; the outbox waits for the head-end's signed ack.
public struct PublishReceipt: Sendable, Equatable {
    public var messageID: Int32
    public var reasonCode: UInt8

    public init(messageID: Int32, reasonCode: UInt8) {
        self.messageID = messageID
        self.reasonCode = reasonCode
    }

    /// True when the broker had no subscriber for the topic (reason code 0x10).
    public var noMatchingSubscribers: Bool { reasonCode == 0x10 }
}

/// Why a connection attempt failed or a connection ended, with what to check. Never carries a
/// password or key.
public struct MQTTConnectionProblem: Sendable, Equatable, CustomStringConvertible {
    /// The class of problem, for code that reacts to it (status, counters).
    public enum Kind: String, Sendable, Equatable {
        case brokerUnreachable = "broker unreachable"
        case hostNotFound = "host not found"
        case tlsFailed = "TLS failed"
        case badCredentials = "bad username or password"
        case notAuthorized = "not authorised"
        case refusedByBroker = "refused by broker"
        case keepaliveTimeout = "keepalive timeout"
        case connectionLost = "connection lost"
        case disconnectedByBroker = "disconnected by broker"
        case protocolError = "protocol error"
        case stoppedByClient = "stopped by client"
    }

    public var kind: Kind
    /// "host:port".
    public var broker: String
    /// The v5 reason code (CONNACK or DISCONNECT) or libmosquitto's error number, when there is one.
    public var code: Int?
    /// What happened, in words (libmosquitto's or OpenSSL's message, errno text).
    public var detail: String
    /// What to check to fix it.
    public var hint: String

    public init(kind: Kind, broker: String, code: Int? = nil, detail: String, hint: String) {
        self.kind = kind
        self.broker = broker
        self.code = code
        self.detail = detail
        self.hint = hint
    }

    public var description: String {
        "\(kind.rawValue) (\(broker)): \(detail)" + (hint.isEmpty ? "" : "; check: \(hint)")
    }
}

/// A change of the client's connection, delivered on `MQTTClient.connectionEvents`.
public enum MQTTConnectionEvent: Sendable, Equatable {
    /// CONNACK success. `sessionPresent` is false when the broker had no session for this client
    /// id (first connect, expired, or broker restarted without persistence); the client has then
    /// already re-sent its subscriptions.
    case connected(sessionPresent: Bool)
    /// An established connection ended. The client reconnects by itself unless it was stopped.
    case disconnected(MQTTConnectionProblem)
    /// A connection attempt failed. The client retries after its backoff delay.
    case connectFailed(MQTTConnectionProblem)
}

/// Errors of the MQTT client's operations. None carries a password or key.
public enum MQTTError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A setting is wrong; nothing was started.
    case invalidSettings(field: String, problem: String)
    /// The client is not connected (or not started); it fails fast instead of queueing.
    case notConnected(broker: String)
    /// No PUBACK or SUBACK within the acknowledgement timeout.
    case timeout(operation: String, after: Duration)
    /// The connection ended before the broker acknowledged. libmosquitto may still resend the
    /// message in the same session after reconnecting, so the receiver can see it twice.
    case disconnectedBeforeAck(operation: String)
    /// The broker answered with a v5 reason code ≥ 0x80 (PUBACK or SUBACK). `reason` is the
    /// broker's reason string, or the standard name of the code.
    case rejected(reasonCode: UInt8, reason: String)
    /// The request itself is invalid (topic, payload size, property).
    case invalidRequest(operation: String, problem: String)
    /// libmosquitto refused a call for another reason.
    case library(operation: String, code: Int32, message: String)
    /// The calling task was cancelled while waiting for the acknowledgement.
    case cancelled(operation: String)

    public var description: String {
        switch self {
        case .invalidSettings(let field, let problem):
            return "MQTT setting \(field) \(problem)"
        case .notConnected(let broker):
            return "not connected to the MQTT broker \(broker); the client reconnects by itself, retry later"
        case .timeout(let operation, let after):
            return "\(operation): no acknowledgement from the broker within \(after)"
        case .disconnectedBeforeAck(let operation):
            return "\(operation): the connection ended before the broker acknowledged; retry after reconnect"
        case .rejected(let code, let reason):
            return "the broker rejected the request: reason code 0x\(mqttHexByte(code)) (\(reason)); check: "
                + MQTTError.rejectionHint(code)
        case .invalidRequest(let operation, let problem):
            return "\(operation): \(problem)"
        case .library(let operation, let code, let message):
            return "\(operation): libmosquitto error \(code) (\(message))"
        case .cancelled(let operation):
            return "\(operation): cancelled while waiting for the broker"
        }
    }
}

extension MQTTError {
    /// What to check for a PUBACK or SUBACK reason code ≥ 0x80 (MQTT v5, section 3.4.2.1 and 3.9.3).
    static func rejectionHint(_ code: UInt8) -> String {
        switch code {
        case 0x87: return "the broker's ACL for this client's username and topic"
        case 0x8F, 0x90: return "the topic name or filter (wildcards, empty levels)"
        case 0x91: return "nothing (packet identifier in use); retry"
        case 0x95: return "the broker's message_size_limit against the payload size"
        case 0x97: return "the broker's quotas for this client"
        case 0x99: return "the payload format indicator"
        case 0x9E: return "that shared subscriptions are enabled on the broker"
        case 0xA1, 0xA2: return "that the broker supports the subscription feature used"
        default: return "the broker's log for this client id"
        }
    }
}

/// Two lowercase hexadecimal digits.
func mqttHexByte(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
}
