import ConcentratorCore
import Platform

extension ConsoleSession {
    func uplinkScreen() throws(ConsoleStop) {
        ui.heading("Uplink")
        try ui.show(uplinkLines())
        let action = try ui.ask("edit, test, remove, or Enter to go back", default: "back",
                                help: ["edit: broker, TLS, credentials, topic prefix (head-end keys: \(MenuItem.keys.reference));",
                                       "test: name resolution, TCP, TLS, MQTT CONNACK, head-end ack round trip;",
                                       "remove: no uplink (archive only)."]) { text in
            Parse.oneOf(text.lowercased(), ["edit", "test", "remove", "back"], what: "the action")
        }
        switch action {
        case "edit": try editUplink()
        case "test": try connectivityTest()
        case "remove":
            guard working.uplink != nil else { return }
            if try ui.confirm("Remove the uplink (the gateway keeps archiving)?", default: false) {
                working.setUplink(nil)
                ui.good("Uplink removed. " + notAppliedNote)
            }
        default: return
        }
    }

    private func uplinkLines() -> [String] {
        guard let uplink = working.uplink else { return ["No uplink configured: the gateway archives only."] }
        let broker = uplink["broker"] ?? .object([])
        let tls = broker["tls"]
        var lines = ["broker      \(broker["host"]?.stringValue ?? "(none)"):\(broker["port"]?.intValue ?? (tls == nil ? 1883 : 8883))",
                     "TLS         " + (tls == nil ? "off" : tls?["pskIdentity"] != nil ? "pre-shared key \(tls?["pskIdentity"]?.stringValue ?? "")"
                                        : "CA \(tls?["caFile"]?.stringValue ?? "?")"),
                     "username    \(broker["username"]?.stringValue ?? "(none)")",
                     "password    " + (broker["passwordFile"]?.stringValue.map { "in \($0)" } ?? "(none)"),
                     "topics      \(uplink["topicPrefix"]?.stringValue ?? UplinkSettings.defaultTopicPrefix)/\(working.deviceID ?? "?")/..."]
        lines.append("head-end keys: \(working.headEndKeyFiles.count) files (\(MenuItem.keys.reference) lists and imports them)")
        return lines
    }

    private func editUplink() throws(ConsoleStop) {
        let uplink = working.uplink ?? .object([])
        var broker = uplink["broker"] ?? .object([])
        let host = try ui.ask("Broker host", default: broker["host"]?.stringValue,
                              help: ["The MQTT broker's DNS name or IP address, e.g. mqtt.example.net."]) { text -> Result<String, InputProblem> in
            if text.isEmpty || text.contains(" ") || text.contains("/") || text.count > 253 {
                return .failure(InputProblem("a DNS name or an IP address is needed, without spaces or slashes"))
            }
            return .success(text)
        }
        broker = broker.setting("host", .string(host))
        let oldTLS = broker["tls"]
        let currentMode = oldTLS == nil ? "none" : oldTLS?["pskIdentity"] != nil ? "psk" : "ca"
        let mode = try ui.ask("TLS: none, ca or psk", default: currentMode,
                              help: ["none: plain MQTT (only on a private network);",
                                     "ca: TLS with the broker's CA certificate (optionally a client certificate);",
                                     "psk: TLS with a pre-shared key."]) { text in
            Parse.oneOf(text.lowercased(), ["none", "ca", "psk"], what: "the TLS mode")
        }
        var tls: JSONValue?
        switch mode {
        case "ca":
            var t = (currentMode == "ca" ? oldTLS : nil) ?? .object([])
            t = t.setting("caFile", .string(try askFile("CA certificate file", current: t["caFile"]?.stringValue,
                                                        help: "The PEM file of the CA that signed the broker's certificate.")))
            let certificate = try askOptionalFile("Client certificate (- for none)", current: t["certificateFile"]?.stringValue)
            t = t.setting("certificateFile", certificate.map { .string($0) })
            let key = certificate == nil ? nil : try askFile("Client key file", current: t["keyFile"]?.stringValue,
                                                             help: "The PEM private key of the client certificate (mode 0600).")
            tls = t.setting("keyFile", key.map { .string($0) })
        case "psk":
            var t = (currentMode == "psk" ? oldTLS : nil) ?? .object([])
            let identity = try ui.ask("PSK identity", default: t["pskIdentity"]?.stringValue,
                                      help: ["The identity the broker's psk_file lists for this gateway."]) { text -> Result<String, InputProblem> in
                text.isEmpty ? .failure(InputProblem("an identity is needed")) : .success(text)
            }
            t = t.setting("pskIdentity", .string(identity))
            tls = t.setting("pskFile", .string(try askFile("PSK file", current: t["pskFile"]?.stringValue,
                                                           help: "A file holding the key in hex (mode 0600); the key is never shown.")))
        default:
            tls = nil
        }
        broker = broker.setting("tls", tls)
        let defaultPort = tls == nil ? 1883 : 8883
        let port = try ui.ask("Broker port", default: String(broker["port"]?.intValue ?? defaultPort),
                              help: ["1883 is plain MQTT, 8883 MQTT over TLS."]) { text in
            Parse.integer(text, in: 1...65_535, what: "the port")
        }
        broker = broker.setting("port", port == defaultPort && broker["port"] == nil ? nil : .integer(port))
        let username = try ui.askOptionalText("Username", current: broker["username"]?.stringValue, maxLength: 256,
                                              help: ["The MQTT username, if the broker wants one."])
        broker = broker.setting("username", username.map { .string($0) })
        let passwordFile = username == nil ? nil : try askOptionalFile("Password file (- for none)", current: broker["passwordFile"]?.stringValue)
        broker = broker.setting("passwordFile", passwordFile.map { .string($0) })
        var updated = uplink.setting("broker", broker)
        let prefix = try ui.ask("Topic prefix", default: uplink["topicPrefix"]?.stringValue ?? UplinkSettings.defaultTopicPrefix,
                                help: ["Topics are <prefix>/<device id>/<kind>; the head-end's setting."]) { text in
            text.isEmpty || text.hasPrefix("$") || text.contains("+") || text.contains("#") || text.contains("//")
                ? .failure(InputProblem("MQTT topic levels without +, #, empty levels or a leading $")) : .success(text)
        }
        updated = updated.setting("topicPrefix", prefix == UplinkSettings.defaultTopicPrefix && uplink["topicPrefix"] == nil ? nil : .string(prefix))
        var candidate = working
        candidate.setUplink(updated)
        let issues = problems(with: candidate)?.issues.filter { $0.path.hasPrefix("$.uplink") } ?? []
        let blocking = issues.filter { $0.path.hasPrefix("$.uplink.broker") || $0.path.hasPrefix("$.uplink.topicPrefix") }
        guard blocking.isEmpty else {
            ui.problem("uplink not changed:")
            try showIssues(ValidationFailure(source: configPath, issues: blocking))
            return
        }
        working = candidate
        ui.good("Uplink settings saved. " + notAppliedNote)
        for issue in issues { ui.warning("Still needed before apply: \(IssueText.describe(issue, in: candidate))") }
    }

    private func askFile(_ label: String, current: String?, help: String) throws(ConsoleStop) -> String {
        let path = try ui.ask(label, default: current, help: [help, "An absolute path."], longAnswer: true) { text in
            Parse.absolutePath(text, what: "the file")
        }
        if !FileSystem.exists(path) { ui.warning("Note: \(path) does not exist yet.") }
        return path
    }

    private func askOptionalFile(_ label: String, current: String?) throws(ConsoleStop) -> String? {
        let path = try ui.ask(label, default: current ?? "-", help: ["An absolute path, or - for none."],
                              longAnswer: true) { text -> Result<String?, InputProblem> in
            text == "-" ? .success(nil) : Parse.absolutePath(text, what: "the file").map { $0 }
        }
        if let path, !FileSystem.exists(path) { ui.warning("Note: \(path) does not exist yet.") }
        return path
    }
}
