/// The MQTT uplink to the head-end (the `uplink` configuration section).
public struct UplinkSettings: Hashable, Sendable {
    public var broker: BrokerSettings
    /// Topics are `<topicPrefix>/<device id>/<batch|event|status|reply|cmd|ack>` (Docs/mqtt-api.md).
    public var topicPrefix: String
    /// Head-end public key files: exactly one sealing key, one or more ack keys, command keys with roles.
    public var headEndKeyFiles: [String]
    public var drain: DrainSettings
    /// A batch published but not acknowledged by the head-end within this time is sent again.
    public var acknowledgementTimeoutSeconds: Int
    /// After a configuration change by command (`config.set`), the agent must receive a head-end ack
    /// within this time, or it restores the previous configuration by itself.
    public var configTrialSeconds: Int

    public init(broker: BrokerSettings, topicPrefix: String = UplinkSettings.defaultTopicPrefix, headEndKeyFiles: [String],
                drain: DrainSettings = DrainSettings(), acknowledgementTimeoutSeconds: Int = 120, configTrialSeconds: Int = 300) {
        self.broker = broker
        self.topicPrefix = topicPrefix
        self.headEndKeyFiles = headEndKeyFiles
        self.drain = drain
        self.acknowledgementTimeoutSeconds = acknowledgementTimeoutSeconds
        self.configTrialSeconds = configTrialSeconds
    }

    public static let defaultTopicPrefix = "concentrator/v1"
}

/// Where the MQTT broker is and how to authenticate to it. Secrets live in files, never here.
public struct BrokerSettings: Hashable, Sendable {
    public var host: String
    public var port: Int
    /// The MQTT client id; the device id when absent.
    public var clientID: String?
    public var keepaliveSeconds: Int
    public var sessionExpirySeconds: Int
    public var username: String?
    /// A file holding the password (mode 0600), so the password never appears in the configuration.
    public var passwordFile: String?
    public var tls: BrokerTLSSettings?

    public init(host: String, port: Int? = nil, clientID: String? = nil, keepaliveSeconds: Int = 60,
                sessionExpirySeconds: Int = 604_800, username: String? = nil, passwordFile: String? = nil,
                tls: BrokerTLSSettings? = nil) {
        self.host = host
        self.port = port ?? (tls == nil ? 1883 : 8883)
        self.clientID = clientID
        self.keepaliveSeconds = keepaliveSeconds
        self.sessionExpirySeconds = sessionExpirySeconds
        self.username = username
        self.passwordFile = passwordFile
        self.tls = tls
    }
}

/// TLS to the broker: a CA to verify it, optionally a client certificate, or a pre-shared key.
public struct BrokerTLSSettings: Hashable, Sendable {
    public var caFile: String?
    public var certificateFile: String?
    public var keyFile: String?
    public var pskIdentity: String?
    /// A file holding the PSK in hex (mode 0600).
    public var pskFile: String?

    public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, pskIdentity: String? = nil,
                pskFile: String? = nil) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.pskIdentity = pskIdentity
        self.pskFile = pskFile
    }
}

/// Which backlog goes first when the uplink returns after an outage.
public enum DrainOrder: String, Hashable, Sendable, CaseIterable {
    /// The oldest unacknowledged batch first: the head-end's data fills in chronologically.
    case oldestFirst = "oldest-first"
    /// The newest first: the head-end sees the present at once, history follows.
    case newestFirst = "newest-first"
}

/// How fast the outbox drains after an outage, so a backlog never saturates a cellular link.
public struct DrainSettings: Hashable, Sendable {
    public var maxBytesPerSecond: Int
    public var order: DrainOrder

    public init(maxBytesPerSecond: Int = 20_000, order: DrainOrder = .oldestFirst) {
        self.maxBytesPerSecond = maxBytesPerSecond
        self.order = order
    }
}
