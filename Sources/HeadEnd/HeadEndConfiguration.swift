import ConcentratorCore

/// The head-end's configuration (`headend.json`, Docs/headend.md).
public struct HeadEndConfiguration: Hashable, Sendable {
    /// Where the head-end looks for its configuration unless `--config` says otherwise.
    public static let defaultPath = "/etc/headend/headend.json"

    /// The broker: the same object as the agent's `uplink.broker`; `clientId` is required here.
    public var broker: BrokerSettings
    /// Topics are `<topicPrefix>/<device>/<leaf>` (Docs/mqtt-api.md).
    public var topicPrefix: String
    /// With a group, batches and events are read through the MQTT v5 shared subscription
    /// `$share/<group>/…`, so that the head-ends of one group split the messages between them.
    public var sharedSubscriptionGroup: String?
    /// The `database` setting: the SQLite file (registry, batches, values, events, device status), or
    /// a `postgresql://` URL of the database that the head-end workers of a fleet share.
    public var databasePath: String

    /// The database setting read: SQLite or PostgreSQL.
    public var databaseLocation: HeadEndDatabaseLocation {
        HeadEndDatabaseLocation(setting: databasePath) ?? .sqlite(path: databasePath)
    }
    /// X25519 private key files: the current sealing key and retired ones still needed to open
    /// batches sealed before a rotation.
    public var sealingKeyFiles: [String]
    /// The Ed25519 private key file that signs acks.
    public var ackKeyFile: String
    /// The command key `headend command` signs with unless `--key` names another.
    public var commandKeyFile: String?
    public var ingest: IngestSettings

    public init(broker: BrokerSettings, topicPrefix: String = UplinkSettings.defaultTopicPrefix, sharedSubscriptionGroup: String? = nil,
                databasePath: String, sealingKeyFiles: [String], ackKeyFile: String, commandKeyFile: String? = nil,
                ingest: IngestSettings = IngestSettings()) {
        self.broker = broker
        self.topicPrefix = topicPrefix
        self.sharedSubscriptionGroup = sharedSubscriptionGroup
        self.databasePath = databasePath
        self.sealingKeyFiles = sealingKeyFiles
        self.ackKeyFile = ackKeyFile
        self.commandKeyFile = commandKeyFile
        self.ingest = ingest
    }

    /// The subscription filter for one topic leaf of all devices, shared when a group is set.
    /// Status is never shared: a broker sends retained messages only to non-shared subscriptions
    /// (MQTT 5.0 §4.8.2), and every head-end may keep the status table current.
    public func subscriptionFilter(leaf: String) -> String {
        let filter = "\(topicPrefix)/+/\(leaf)"
        guard let group = sharedSubscriptionGroup, leaf != "status" else { return filter }
        return "$share/\(group)/\(filter)"
    }
}

/// How the head-end ingests batches and sends acks.
public struct IngestSettings: Hashable, Sendable {
    /// Batches whose body is declared larger than this are rejected (reason bodyTooLarge) before
    /// anything is decrypted or decompressed.
    public var maximumBodyBytes: Int
    /// How often the device registry is checked for changes made by `headend devices …` while the
    /// head-end runs. An unknown device or key triggers a check at once.
    public var registryPollSeconds: Int
    /// How long to wait for the broker's PUBACK of an ack (and of a subscription).
    public var brokerAcknowledgementTimeoutSeconds: Int
    /// How long a write waits for another head-end sharing the database to release its lock.
    public var databaseBusyTimeoutMilliseconds: Int

    public init(maximumBodyBytes: Int = 16 << 20, registryPollSeconds: Int = 10, brokerAcknowledgementTimeoutSeconds: Int = 30,
                databaseBusyTimeoutMilliseconds: Int = 10_000) {
        self.maximumBodyBytes = maximumBodyBytes
        self.registryPollSeconds = registryPollSeconds
        self.brokerAcknowledgementTimeoutSeconds = brokerAcknowledgementTimeoutSeconds
        self.databaseBusyTimeoutMilliseconds = databaseBusyTimeoutMilliseconds
    }
}

/// Turns the text of `headend.json` into a `HeadEndConfiguration`, or throws one `ValidationFailure`
/// listing every problem with its JSON path and line. Pure: no file access.
public enum HeadEndConfigurationLoader {
    static let maximumBodyRange = 1024...(256 << 20)
    static let registryPollRange = 1...3600
    static let brokerTimeoutRange = 1...600
    static let busyTimeoutRange = 100...600_000
    static let sealingKeyCountRange = 1...16

    /// `database`: an absolute SQLite path, or a `postgresql://` URL (no control characters, no spaces).
    private static func databaseSetting(_ top: JSONObjectReader) -> String? {
        guard let s = top.string("database", required: true, maxLength: 2048) else { return nil }
        if HeadEndDatabaseLocation(setting: s) != nil, !s.contains(where: { $0.isWhitespace || ($0.asciiValue.map { $0 < 32 } ?? false) }) {
            return s
        }
        top.collector.add(path: top.path + ".database", line: top.member("database")?.line, problem: "not a database",
                          value: .string(HeadEndDatabaseLocation.redacted(s)),
                          expected: "an absolute path of a SQLite file, or a postgresql:// URL")
        return nil
    }

    public static func load(text: String, source: String) throws(ValidationFailure) -> HeadEndConfiguration {
        try ConfigurationLoader.readDocument(text: text, source: source, read)
    }

    private static func read(_ top: JSONObjectReader) -> HeadEndConfiguration? {
        let brokerReader = top.object("broker", required: true)
        let broker = brokerReader.flatMap(ConfigurationLoader.readBroker)
        if let b = brokerReader, !b.has("clientId") {
            top.collector.add(path: b.path + ".clientId", line: b.line, problem: "missing required key",
                              expected: "a client id unique to this head-end (\(ConfigurationLoader.identifierRule))")
        }
        let prefix = top.string("topicPrefix", maxLength: 128) ?? UplinkSettings.defaultTopicPrefix
        if !ConfigurationLoader.isTopicPrefix(prefix) {
            top.collector.add(path: top.path + ".topicPrefix", line: top.member("topicPrefix")?.line,
                              problem: "not a usable topic prefix", value: .string(prefix),
                              expected: "MQTT topic levels without '+', '#', a leading '$', or empty levels")
        }
        let group = ConfigurationLoader.identifier(top, "sharedSubscriptionGroup", required: false)
        let database = databaseSetting(top)
        var sealing: [String] = []
        var ack: String?
        var command: String?
        if let keys = top.object("keys", required: true) {
            if let items = keys.array("sealing", required: true) {
                if !sealingKeyCountRange.contains(items.count) {
                    keys.collector.add(ValidationIssue(path: keys.path + ".sealing", line: keys.member("sealing")?.line,
                                                       problem: items.isEmpty ? "too few entries" : "too many entries",
                                                       value: "\(items.count) files",
                                                       expected: "1–\(sealingKeyCountRange.upperBound) private key files"))
                }
                for item in items {
                    guard let s = item.value.stringValue else {
                        keys.collector.add(path: item.path, line: item.line, problem: "wrong type", value: item.value,
                                           expected: "an absolute path")
                        continue
                    }
                    if let p = ConfigurationLoader.checkedAbsolutePath(s, path: item.path, line: item.line, collector: keys.collector) {
                        sealing.append(p)
                    }
                }
            }
            ack = ConfigurationLoader.absolutePath(keys, "ack", required: true)
            command = ConfigurationLoader.absolutePath(keys, "command", required: false)
            keys.finish()
        }
        var ingest = IngestSettings()
        if let i = top.object("ingest") {
            ingest.maximumBodyBytes = i.int("maximumBodyBytes", in: maximumBodyRange) ?? ingest.maximumBodyBytes
            ingest.registryPollSeconds = i.int("registryPollSeconds", in: registryPollRange) ?? ingest.registryPollSeconds
            ingest.brokerAcknowledgementTimeoutSeconds = i.int("brokerAcknowledgementTimeoutSeconds", in: brokerTimeoutRange)
                ?? ingest.brokerAcknowledgementTimeoutSeconds
            ingest.databaseBusyTimeoutMilliseconds = i.int("databaseBusyTimeoutMilliseconds", in: busyTimeoutRange)
                ?? ingest.databaseBusyTimeoutMilliseconds
            i.finish()
        }
        guard let broker, broker.clientID != nil, let database, let ack, !sealing.isEmpty else { return nil }
        return HeadEndConfiguration(broker: broker, topicPrefix: prefix, sharedSubscriptionGroup: group, databasePath: database,
                                    sealingKeyFiles: sealing, ackKeyFile: ack, commandKeyFile: command, ingest: ingest)
    }
}
