/// The `uplink` section: the broker, the head-end's keys, the outbox drain and the configuration trial.
extension ConfigurationLoader {
    static let portRange = 1...65_535
    static let keepaliveRange = 5...3600
    static let sessionExpiryRange = 0...2_592_000
    static let headEndKeyCountRange = 1...16
    static let drainRateRange = 100...10_000_000
    static let acknowledgementTimeoutRange = 10...3600
    static let configTrialRange = 5...86_400

    static func readUplink(_ input: ConfigurationSectionInput, into draft: inout ConfigurationDraft) {
        guard let r = input.object() else { return }
        let broker = r.object("broker", required: true).flatMap(readBroker)
        let prefix = r.string("topicPrefix", maxLength: 128) ?? UplinkSettings.defaultTopicPrefix
        if !isTopicPrefix(prefix) {
            r.collector.add(path: r.path + ".topicPrefix", line: r.member("topicPrefix")?.line, problem: "not a usable topic prefix",
                            value: .string(prefix), expected: "MQTT topic levels without '+', '#', a leading '$', or empty levels")
        }
        var keyFiles: [String] = []
        if let items = r.array("headEndKeys", required: true) {
            if !headEndKeyCountRange.contains(items.count) {
                r.collector.add(ValidationIssue(path: r.path + ".headEndKeys", line: r.member("headEndKeys")?.line,
                                                problem: items.isEmpty ? "too few entries" : "too many entries",
                                                value: "\(items.count) files", expected: "\(headEndKeyCountRange.lowerBound)–\(headEndKeyCountRange.upperBound) key files"))
            }
            for item in items {
                guard let s = item.value.stringValue else {
                    r.collector.add(path: item.path, line: item.line, problem: "wrong type", value: item.value, expected: "an absolute path")
                    continue
                }
                if let p = checkedAbsolutePath(s, path: item.path, line: item.line, collector: r.collector) { keyFiles.append(p) }
            }
        }
        var drain = DrainSettings()
        if let d = r.object("drain") {
            drain.maxBytesPerSecond = d.int("maxBytesPerSecond", in: drainRateRange) ?? drain.maxBytesPerSecond
            if let order = d.string("order", allowed: DrainOrder.allCases.map(\.rawValue)) { drain.order = DrainOrder(rawValue: order)! }
            d.finish()
        }
        let ackTimeout = r.int("acknowledgementTimeoutSeconds", in: acknowledgementTimeoutRange) ?? 120
        let trial = r.int("configTrialSeconds", in: configTrialRange) ?? 300
        r.finish()
        guard let broker else { return }
        draft.uplink = UplinkSettings(broker: broker, topicPrefix: prefix, headEndKeyFiles: keyFiles, drain: drain,
                                      acknowledgementTimeoutSeconds: ackTimeout, configTrialSeconds: trial)
    }

    /// Reads a `broker` object (also used by the head-end's configuration, which has the same broker section).
    public static func readBroker(_ b: JSONObjectReader) -> BrokerSettings? {
        let host = b.string("host", required: true, maxLength: 253)
        if let host, host.contains(where: { $0 == " " || $0 == "/" }) || containsControlCharacters(host) {
            b.collector.add(path: b.path + ".host", line: b.member("host")?.line, problem: "not a host name or address",
                            value: .string(host), expected: "a DNS name or an IP address")
        }
        let port = b.int("port", in: portRange)
        let clientID = identifier(b, "clientId", required: false)
        let keepalive = b.int("keepaliveSeconds", in: keepaliveRange) ?? 60
        let expiry = b.int("sessionExpirySeconds", in: sessionExpiryRange) ?? 604_800
        let username = text(b, "username", maxLength: 256)
        let passwordFile = absolutePath(b, "passwordFile", required: false)
        if b.has("password") {
            b.collector.add(path: b.path + ".password", line: b.member("password")?.line,
                            problem: "passwords do not belong in the configuration",
                            expected: "passwordFile: a file only the agent can read (mode 0600)")
        }
        var tls: BrokerTLSSettings?
        if let t = b.object("tls") {
            var settings = BrokerTLSSettings()
            settings.caFile = absolutePath(t, "caFile", required: false)
            settings.certificateFile = absolutePath(t, "certificateFile", required: false)
            settings.keyFile = absolutePath(t, "keyFile", required: false)
            settings.pskIdentity = text(t, "pskIdentity", maxLength: 128)
            settings.pskFile = absolutePath(t, "pskFile", required: false)
            if t.has("certificateFile") != t.has("keyFile") {
                t.collector.add(path: t.path, line: t.line, problem: "certificateFile and keyFile go together",
                                expected: "both (a client certificate) or neither")
            }
            if t.has("pskIdentity") != t.has("pskFile") {
                t.collector.add(path: t.path, line: t.line, problem: "pskIdentity and pskFile go together", expected: "both or neither")
            }
            if t.has("pskFile"), t.has("certificateFile") || t.has("caFile") {
                t.collector.add(path: t.path, line: t.line, problem: "a pre-shared key excludes certificates",
                                expected: "either caFile (and a client certificate) or pskIdentity with pskFile")
            }
            t.finish()
            tls = settings
        }
        b.finish()
        guard let host else { return nil }
        return BrokerSettings(host: host, port: port, clientID: clientID, keepaliveSeconds: keepalive, sessionExpirySeconds: expiry,
                              username: username, passwordFile: passwordFile, tls: tls)
    }

    /// MQTT topic levels: no wildcards, no empty level, no leading '$' (reserved for the broker).
    public static func isTopicPrefix(_ s: String) -> Bool {
        guard !s.isEmpty, !s.hasPrefix("$"), !containsControlCharacters(s) else { return false }
        return s.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { !$0.isEmpty && !$0.contains("+") && !$0.contains("#") }
    }
}
