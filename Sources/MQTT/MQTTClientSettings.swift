/// A secret string (an MQTT password or a TLS pre-shared key). It never shows in a description, a
/// debug description, a `dump` or a log line; only the MQTT client reads the value.
public struct MQTTSecret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    let value: String

    public init(_ value: String) { self.value = value }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}

/// The MQTT quality of service levels the uplink uses. QoS 2 is not offered: the outbox resends
/// unacknowledged batches and the head-end deduplicates, so QoS 1 is enough.
public enum MQTTQoS: Int32, Sendable, Equatable {
    case atMostOnce = 0
    case atLeastOnce = 1
}

/// The last will: published by the broker when the client vanishes without a clean DISCONNECT
/// (crash, power cut, dead link after 1.5 × keepalive).
public struct MQTTWill: Sendable, Equatable {
    public var topic: String
    public var payload: [UInt8]
    public var qos: MQTTQoS
    public var retain: Bool

    public init(topic: String, payload: [UInt8], qos: MQTTQoS = .atLeastOnce, retain: Bool = true) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }
}

/// A TLS pre-shared key: the identity sent to the broker and the key as hexadecimal digits.
public struct MQTTPreSharedKey: Sendable, Equatable {
    public var identity: String
    public var keyHex: MQTTSecret

    public init(identity: String, keyHex: MQTTSecret) {
        self.identity = identity
        self.keyHex = keyHex
    }
}

/// TLS settings. Either certificates (a CA file, optionally a client certificate and key) or a
/// pre-shared key, never both. The broker's certificate is always verified against the CA file;
/// its host name is verified too unless `insecureSkipHostnameVerification` is set (off by default,
/// and the client logs a warning at every start when it is on).
public struct MQTTTLSSettings: Sendable, Equatable {
    public var caFile: String?
    public var certificateFile: String?
    public var keyFile: String?
    public var preSharedKey: MQTTPreSharedKey?
    public var insecureSkipHostnameVerification: Bool

    public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil,
                preSharedKey: MQTTPreSharedKey? = nil, insecureSkipHostnameVerification: Bool = false) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.preSharedKey = preSharedKey
        self.insecureSkipHostnameVerification = insecureSkipHostnameVerification
    }
}

/// How the client waits between connection attempts: `initialDelay` doubling up to `maxDelay`, each
/// delay moved by a random ±`jitterFraction` so that many gateways do not reconnect in lockstep after
/// a broker restart. It retries forever.
public struct MQTTReconnectPolicy: Sendable, Equatable {
    public var initialDelay: Duration
    public var maxDelay: Duration
    public var jitterFraction: Double

    public init(initialDelay: Duration = .seconds(1), maxDelay: Duration = .seconds(60), jitterFraction: Double = 0.2) {
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.jitterFraction = jitterFraction
    }
}

/// Everything the MQTT client needs to reach a broker. The password and the pre-shared key are
/// `MQTTSecret`s: they never appear in `description` or in any error.
public struct MQTTClientSettings: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: UInt16
    public var clientID: String
    /// Seconds between keepalive pings; libmosquitto needs at least 5. The broker declares the
    /// client dead (and publishes the will) after 1.5 × this without traffic.
    public var keepaliveSeconds: Int
    /// How long the broker keeps the session (subscriptions, queued QoS 1 messages) after a disconnect.
    public var sessionExpirySeconds: UInt32
    /// Off by default: the session survives reconnects.
    public var cleanStart: Bool
    public var username: String?
    public var password: MQTTSecret?
    public var tls: MQTTTLSSettings?
    public var will: MQTTWill?
    public var reconnect: MQTTReconnectPolicy
    /// How long `publish` and `subscribe` wait for the broker's PUBACK or SUBACK.
    public var acknowledgementTimeout: Duration
    /// The largest packet this client accepts, sent as MQTT v5 Maximum Packet Size in CONNECT (the
    /// broker then never sends more: a v5 broker drops what would not fit). A larger message that
    /// arrives anyway is dropped before it is copied. Nil: no limit announced.
    public var maximumPacketSize: UInt32?
    /// Received messages waiting for the consumer, at most; more are dropped (and counted in the log).
    public var incomingQueueLimit: Int

    public init(host: String, port: UInt16, clientID: String, keepaliveSeconds: Int = 60,
                sessionExpirySeconds: UInt32 = 86_400, cleanStart: Bool = false,
                username: String? = nil, password: MQTTSecret? = nil, tls: MQTTTLSSettings? = nil,
                will: MQTTWill? = nil, reconnect: MQTTReconnectPolicy = MQTTReconnectPolicy(),
                acknowledgementTimeout: Duration = .seconds(30), maximumPacketSize: UInt32? = nil, incomingQueueLimit: Int = 4096) {
        self.host = host
        self.port = port
        self.clientID = clientID
        self.keepaliveSeconds = keepaliveSeconds
        self.sessionExpirySeconds = sessionExpirySeconds
        self.cleanStart = cleanStart
        self.username = username
        self.password = password
        self.tls = tls
        self.will = will
        self.reconnect = reconnect
        self.acknowledgementTimeout = acknowledgementTimeout
        self.maximumPacketSize = maximumPacketSize
        self.incomingQueueLimit = incomingQueueLimit
    }

    /// "host:port", as used in errors and logs.
    public var brokerAddress: String { "\(host):\(port)" }

    /// A one-line summary without secrets: broker, client id, user, TLS mode, session settings.
    public var description: String {
        var parts = ["broker=\(brokerAddress)", "client=\(clientID)", "keepalive=\(keepaliveSeconds)s",
                     "session-expiry=\(sessionExpirySeconds)s", "clean-start=\(cleanStart)"]
        if let username { parts.append("user=\(username)" + (password == nil ? "" : " (password set)")) }
        if let tls {
            if let psk = tls.preSharedKey {
                parts.append("tls=psk identity=\(psk.identity)")
            } else {
                parts.append("tls=certificates ca=\(tls.caFile ?? "-")"
                             + (tls.certificateFile.map { " cert=\($0)" } ?? ""))
            }
            if tls.insecureSkipHostnameVerification { parts.append("hostname-verification=OFF") }
        } else {
            parts.append("tls=off")
        }
        if let will { parts.append("will=\(will.topic)") }
        return parts.joined(separator: " ")
    }

    /// Checks the settings before any connection attempt. Files are checked by libmosquitto at start.
    public func validate() throws(MQTTError) {
        func fail(_ field: String, _ problem: String) -> MQTTError { .invalidSettings(field: field, problem: problem) }
        if host.isEmpty { throw fail("host", "is empty; set the broker's host name or IP address") }
        if port == 0 { throw fail("port", "is 0; use the broker's port (1883 plain, 8883 TLS)") }
        if clientID.isEmpty { throw fail("clientID", "is empty; a persistent session needs a stable client id") }
        if clientID.utf8.count > 65_535 { throw fail("clientID", "is longer than 65535 bytes") }
        if keepaliveSeconds < 5 || keepaliveSeconds > 65_535 {
            throw fail("keepaliveSeconds", "is \(keepaliveSeconds); use 5…65535 seconds")
        }
        if password != nil && username == nil { throw fail("password", "is set without a username") }
        if let will {
            if will.topic.isEmpty || will.topic.contains("#") || will.topic.contains("+") {
                throw fail("will.topic", "'\(will.topic)' is not a valid topic name (empty or with wildcards)")
            }
        }
        let policy = reconnect
        if policy.initialDelay <= .zero { throw fail("reconnect.initialDelay", "must be positive") }
        if policy.maxDelay < policy.initialDelay {
            throw fail("reconnect.maxDelay", "is shorter than reconnect.initialDelay")
        }
        if !(0.0..<1.0).contains(policy.jitterFraction) {
            throw fail("reconnect.jitterFraction", "is \(policy.jitterFraction); use 0 ≤ jitter < 1 (0.2 = ±20 %)")
        }
        if acknowledgementTimeout <= .zero { throw fail("acknowledgementTimeout", "must be positive") }
        if let size = maximumPacketSize, size < 1024 { throw fail("maximumPacketSize", "is \(size); use at least 1024 bytes") }
        if incomingQueueLimit < 1 { throw fail("incomingQueueLimit", "must be at least 1") }
        if let tls { try tls.validate() }
    }
}

extension MQTTTLSSettings {
    func validate() throws(MQTTError) {
        func fail(_ field: String, _ problem: String) -> MQTTError { .invalidSettings(field: "tls." + field, problem: problem) }
        if let psk = preSharedKey {
            if caFile != nil || certificateFile != nil || keyFile != nil {
                throw fail("preSharedKey", "cannot be combined with certificate files; choose one TLS mode")
            }
            if psk.identity.isEmpty { throw fail("preSharedKey.identity", "is empty") }
            let hex = psk.keyHex.value
            if hex.isEmpty || hex.utf8.count % 2 != 0 || !hex.utf8.allSatisfy({ isHexDigit($0) }) {
                throw fail("preSharedKey.keyHex", "is not an even number of hexadecimal digits (the key is not shown)")
            }
            return
        }
        guard let caFile, !caFile.isEmpty else {
            throw fail("caFile", "is missing; TLS needs the CA certificate that signed the broker's certificate")
        }
        if (certificateFile == nil) != (keyFile == nil) {
            throw fail(certificateFile == nil ? "certificateFile" : "keyFile",
                       "is missing; a client certificate needs both the certificate and its key")
        }
    }

    private func isHexDigit(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
    }
}
