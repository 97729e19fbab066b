import ConcentratorCore
import Platform

extension ConsoleSession {
    /// The working copy's uplink settings, read by the configuration loader itself (the same rules
    /// as the agent), or the problems with them. Head-end keys are not needed for the test.
    func uplinkSettings() -> Result<UplinkSettings, ValidationFailure> {
        guard var uplink = working.uplink else {
            return .failure(ValidationFailure(source: configPath, issues: [ValidationIssue(path: "$.uplink", problem: "no uplink configured",
                                                                                           expected: "edit the uplink settings first")]))
        }
        if (uplink["headEndKeys"]?.arrayValue ?? []).isEmpty { uplink = uplink.setting("headEndKeys", .array([.string("/dev/null")])) }
        let probe = JSONValue.object([
            JSONMember(key: "device", value: .object([JSONMember(key: "id", value: .string(working.deviceID ?? "gateway"))])),
            JSONMember(key: "buses", value: .array([.object([JSONMember(key: "name", value: .string("probe")),
                                                             JSONMember(key: "device", value: .string("/dev/null"))])])),
            JSONMember(key: "meters", value: .array([])),
            JSONMember(key: "uplink", value: uplink),
        ])
        do throws(ValidationFailure) {
            let config = try ConfigurationLoader.load(text: JSONWriter.render(probe, pretty: true), source: "uplink settings",
                                                      context: ConfigurationContext(profiles: [String: ConfigurationContext.ProfileFacts]()))
            guard let settings = config.uplink else { throw ValidationFailure(source: configPath, issues: []) }
            return .success(settings)
        } catch {
            return .failure(error)
        }
    }

    func connectivityTest() throws(ConsoleStop) {
        let settings: UplinkSettings
        switch uplinkSettings() {
        case .success(let s): settings = s
        case .failure(let failure):
            ui.problem("the uplink settings cannot be tested yet:")
            try showIssues(failure)
            return
        }
        ui.say("Testing \(settings.broker.host):\(settings.broker.port) with the working copy's settings. Ctrl-C stops.", .quiet)
        let steps = connectivitySteps(settings)
        let results = ui.terminal.runCancellable { cancellation in
            ConnectivityCheck.run(steps, cancellation: cancellation) { index, name, outcome in
                let tone: Tone
                switch outcome {
                case .passed?: tone = .good
                case .failed?: tone = .bad
                default: tone = .warning
                }
                for line in ConnectivityCheck.lines(index: index, name: name, outcome: outcome) { ui.say(line, tone) }
            }
        }
        let failed = results.contains { if case .failed? = $0.outcome { return true } else { return false } }
        let unavailable = results.contains { if case .unavailable? = $0.outcome { return true } else { return false } }
        if failed {
            ui.problem("the uplink test failed at the step marked FAIL; fix what it says to check and test again")
        } else if unavailable {
            ui.warning("The steps that ran passed; the steps marked -- could not be run (see why above).")
        } else {
            ui.good("Every step passed.")
        }
    }

    private func connectivitySteps(_ settings: UplinkSettings) -> [ConnectivityStep] {
        let broker = settings.broker
        let deviceID = working.deviceID ?? "gateway"
        let probe = services.broker
        let agent = self.agent
        let resolved = Locked<[NetworkProbe.Address]>([])
        let brokerResult = Locked<BrokerProbeResult?>(nil)
        @Sendable func connectBroker(_ cancellation: ActionCancellation) -> BrokerProbeResult {
            if let done = brokerResult.value { return done }
            let result = probe.connect(uplink: settings, deviceID: deviceID, timeout: .seconds(15), cancellation: cancellation)
            brokerResult.value = result
            return result
        }
        return [
            ConnectivityStep(name: "name resolution") { _ in
                switch NetworkProbe.resolve(host: broker.host, port: broker.port) {
                case .success(let addresses):
                    resolved.value = addresses
                    return .passed("\(broker.host) -> " + addresses.prefix(3).map(\.text).joined(separator: ", "))
                case .failure(let problem):
                    return .failed("cannot resolve \(broker.host): \(problem)",
                                   check: "the host name in the uplink settings, the DNS servers (/etc/resolv.conf), and that the network link is up")
                }
            },
            ConnectivityStep(name: "TCP connection") { cancellation in
                var last = ServiceProblem("no address")
                for address in resolved.value {
                    switch NetworkProbe.connect(address, timeout: .seconds(5), cancellation: cancellation) {
                    case .success(let took):
                        return .passed("\(address.text) port \(broker.port) answered in \(Int(took.inMilliseconds)) ms")
                    case .failure(let problem): last = problem
                    }
                }
                return .failed("no TCP connection to port \(broker.port): \(last)",
                               check: "that the broker runs and listens on port \(broker.port), firewalls on the way, and the gateway's "
                                   + "route (modem APN or Ethernet)")
            },
            ConnectivityStep(name: "TLS handshake") { cancellation in
                guard let tls = broker.tls else { return .skipped("TLS is off in the uplink settings (plain MQTT)") }
                switch connectBroker(cancellation) {
                case .connected:
                    return .passed(tls.pskIdentity != nil ? "pre-shared key accepted" : "broker certificate verified against \(tls.caFile ?? "the CA")")
                case .failed(.mqtt, _, _):
                    return .passed("handshake completed (the MQTT step below says what the broker answered)")
                case .failed(_, let detail, let check):
                    return .failed(detail, check: check)
                }
            },
            ConnectivityStep(name: "MQTT CONNACK") { cancellation in
                switch connectBroker(cancellation) {
                case .connected(let text): return .passed(text)
                case .failed(let stage, let detail, let check):
                    if stage == .tls { return .failed("not reached: TLS failed", check: check) }
                    return .failed(detail, check: check)
                }
            },
            ConnectivityStep(name: "head-end ack round trip") { cancellation in
                guard agent.isRunning else {
                    return .unavailable("needs the running agent (it sends a test batch and waits for the head-end's signed ack)")
                }
                switch agent.call(ControlRequest(op: "uplink.check", timeoutMilliseconds: 60_000), timeout: .seconds(90),
                                  cancellation: cancellation, progress: { _ in }) {
                case .success(let reply):
                    return .passed(reply.message ?? "the head-end acknowledged")
                case .failure(let failure) where failure.code == "unknown-op":
                    return .unavailable("not available in this build: the agent does not answer uplink.check yet")
                case .failure(let failure):
                    return .failed(failure.message, check: "that the head-end runs, knows this device's keys (menu 8 shows the "
                        + "fingerprints), and that the ack keys in menu 8 are the head-end's")
                }
            },
        ]
    }
}
