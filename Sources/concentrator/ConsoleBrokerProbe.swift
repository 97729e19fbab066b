import ConcentratorCore
import Console
import MQTT
import Platform

/// One MQTT connection attempt with the uplink settings, for the console's connectivity test.
/// It uses its own client id (`<client id>-test`), a clean start and no session expiry, so it never
/// takes over or leaves behind the agent's session.
struct ConsoleBrokerProbe: BrokerProbe {
    func connect(uplink: UplinkSettings, deviceID: String, timeout: Duration, cancellation: ActionCancellation) -> BrokerProbeResult {
        let broker = uplink.broker
        let settings: MQTTClientSettings
        switch clientSettings(broker, deviceID: deviceID) {
        case .success(let s): settings = s
        case .failure(let problem): return .failed(.settings, detail: problem.detail, check: problem.check)
        }
        let client = MQTTClient(settings: settings, logger: consoleLogger)
        do {
            try client.start()
        } catch {
            return .failed(.settings, detail: error.description, check: "the uplink settings (menu 7)")
        }
        let first = OneShot<MQTTConnectionEvent>()
        let watcher = Task {
            for await event in client.connectionEvents {
                first.set(event)
                return
            }
        }
        let deadline = ContinuousClock.now + timeout
        // In steps of 100 ms, so that Ctrl-C is noticed.
        while first.current == nil, ContinuousClock.now < deadline, !cancellation.isCancelled {
            _ = first.wait(timeout: .milliseconds(100))
        }
        watcher.cancel()
        let stopped = OneShot<Void>()
        Task {
            await client.stop(timeout: .seconds(3))
            stopped.set(())
        }
        _ = stopped.wait(timeout: deadline + .seconds(5) - ContinuousClock.now)
        switch first.current {
        case .connected(let sessionPresent)?:
            return .connected("CONNACK accepted for client id \(settings.clientID)" + (sessionPresent ? " (session present)" : ""))
        case .connectFailed(let problem)?, .disconnected(let problem)?:
            return .failed(stage(problem.kind), detail: "\(problem.kind.rawValue): \(problem.detail)", check: problem.hint)
        case nil where cancellation.isCancelled:
            return .failed(.mqtt, detail: "cancelled", check: "nothing; run the test again")
        case nil:
            return .failed(.mqtt, detail: "no CONNACK within \(timeout.components.seconds) s",
                           check: "that port \(broker.port) is an MQTT listener\(broker.tls == nil ? " without TLS" : " with TLS"), and the broker's load")
        }
    }

    private func stage(_ kind: MQTTConnectionProblem.Kind) -> BrokerProbeStage {
        switch kind {
        case .hostNotFound, .brokerUnreachable: return .network
        case .tlsFailed: return .tls
        default: return .mqtt
        }
    }

    /// The MQTT client's settings from the configuration, reading the password and PSK files.
    private func clientSettings(_ broker: BrokerSettings, deviceID: String) -> Result<MQTTClientSettings, SettingsProblem> {
        func secret(_ path: String, what: String) -> Result<MQTTSecret, SettingsProblem> {
            do {
                var text = try FileSystem.readText(path)
                while let last = text.last, last == "\n" || last == "\r" || last == " " { text.removeLast() }
                return .success(MQTTSecret(text))
            } catch {
                return .failure(SettingsProblem(detail: "cannot read the \(what) file: \(error)",
                                                check: "that \(path) exists and this account may read it (the agent's group)"))
            }
        }
        var password: MQTTSecret?
        if let path = broker.passwordFile {
            switch secret(path, what: "password") {
            case .success(let s): password = s
            case .failure(let f): return .failure(f)
            }
        }
        var tls: MQTTTLSSettings?
        if let t = broker.tls {
            var psk: MQTTPreSharedKey?
            if let identity = t.pskIdentity, let file = t.pskFile {
                switch secret(file, what: "pre-shared key") {
                case .success(let s): psk = MQTTPreSharedKey(identity: identity, keyHex: s)
                case .failure(let f): return .failure(f)
                }
            }
            tls = MQTTTLSSettings(caFile: t.caFile, certificateFile: t.certificateFile, keyFile: t.keyFile, preSharedKey: psk)
        }
        let clientID = (broker.clientID ?? deviceID) + "-test"
        return .success(MQTTClientSettings(host: broker.host, port: UInt16(broker.port), clientID: clientID,
                                           keepaliveSeconds: broker.keepaliveSeconds, sessionExpirySeconds: 0, cleanStart: true,
                                           username: broker.username, password: password, tls: tls,
                                           reconnect: MQTTReconnectPolicy(initialDelay: .seconds(60), maxDelay: .seconds(60))))
    }
}

/// A password or key file that cannot be used.
struct SettingsProblem: Error {
    let detail: String
    let check: String
}

