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
        var enrolment: (installer: String, note: String, fingerprint: String?)?
        if agent.isRunning {
            if !ConfigDiff.same(working.uplink ?? .null, applied.uplink ?? .null) || !pendingFiles.isEmpty {
                ui.warning("Step 5 tests the uplink the agent runs; the working copy's changes are not applied yet "
                    + "(\(MenuItem.apply.reference)).")
            }
            let who = try askInstaller()
            let fingerprint = (try? services.keys.deviceKeyList(stateDirectory: working.stateDirectory).get())?
                .first { $0.algorithm == "ed25519" }?.fingerprint
            enrolment = (who.installer, who.note ?? "", fingerprint)
        }
        let steps = connectivitySteps(settings, enrolment: enrolment)
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
        let last = results.last { $0.outcome != nil }
        switch last?.outcome {
        case .passed(let detail)? where !failed && !unavailable: lastUplinkTest = ("passed", detail)
        case .failed(let detail, _)?: lastUplinkTest = ("failed", "\(last?.name ?? ""): \(detail)")
        default: lastUplinkTest = ("failed", results.compactMap { r -> String? in
            if case .unavailable(let why)? = r.outcome { return "\(r.name): \(why)" } else { return nil } }.first ?? "not complete")
        }
        if failed {
            ui.problem("the uplink test failed at the step marked FAIL; fix what it says to check and test again")
        } else if unavailable {
            ui.warning("The steps that ran passed; the steps marked -- could not be run (see why above).")
        } else {
            ui.good("Every step passed.")
        }
    }

    private func connectivitySteps(_ settings: UplinkSettings,
                                   enrolment: (installer: String, note: String, fingerprint: String?)?) -> [ConnectivityStep] {
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
            ConnectivityStep(name: "head-end enrolment and ack") { [ui] cancellation in
                guard agent.isRunning, let enrolment else {
                    return .unavailable("needs the running agent (it sends a test batch and waits for the head-end's signed ack)")
                }
                let waiter = ApprovalWaiter(ui: ui, fingerprint: enrolment.fingerprint, limit: Self.approvalWait)
                let request = ControlRequest(op: "uplink.check", timeoutMilliseconds: Int(Self.approvalWait.inMilliseconds),
                                             installer: enrolment.installer, note: enrolment.note, enrol: true)
                let result = agent.call(request, timeout: .seconds(60), cancellation: cancellation) { reply in
                    waiter.update(code: reply.error?.code ?? "waiting", message: reply.message ?? "")
                }
                waiter.finish()
                switch result {
                case .success(let reply):
                    return .passed(reply.message ?? "the head-end acknowledged")
                case .failure(let failure):
                    return UplinkFailureText.outcome(failure)
                }
            },
        ]
    }
}

extension ConsoleSession {
    /// How long the uplink test waits for the head-end operator's approval.
    static let approvalWait = Duration.seconds(600)
}

/// The uplink test's failures in words: the precise cause the agent reports, and what to check.
enum UplinkFailureText {
    static func outcome(_ failure: ControlFailure) -> StepOutcome {
        switch failure.code {
        case "unknown-op":
            return .unavailable("not available in this build: the agent does not answer uplink.check yet")
        case "not-registered":
            return .failed(failure.message, check: "that the head-end operator approved this device (headend devices pending, "
                + "then approve) after comparing the fingerprint shown above")
        case "not-connected":
            return .failed(failure.message, check: "the agent's uplink: apply the tested settings (\(MenuItem.apply.reference)); "
                + "steps 1-4 test the working copy, this step the running agent")
        case "no-uplink":
            return .failed(failure.message, check: "that the uplink is applied (\(MenuItem.apply.reference)) and the agent's log")
        case "cancelled":
            return .failed("stopped waiting (Ctrl-C)", check: "nothing; run the test again")
        default:
            return .failed(failure.message, check: "that the head-end runs and that the head-end keys in \(MenuItem.keys.reference) "
                + "are its sealing and ack keys")
        }
    }
}

/// The live part of the uplink test's last step: each new cause on its own line (the fingerprint
/// to read out when the head-end does not know the device), and a countdown redrawn in place.
final class ApprovalWaiter: @unchecked Sendable {
    private let ui: ConsoleUI
    private let fingerprint: String?
    private let limit: Duration
    private let started = ContinuousClock.now
    private let lock = ConditionLock()
    private var code: String?
    private var line: ProgressLine?
    private var shownFingerprint = false

    init(ui: ConsoleUI, fingerprint: String?, limit: Duration) {
        self.ui = ui
        self.fingerprint = fingerprint
        self.limit = limit
    }

    func update(code newCode: String, message: String) {
        lock.withLock {
            if newCode != code {
                line?.finish()
                line = nil
                code = newCode
                ui.say("       " + message, newCode == "not-registered" ? .warning : .quiet)
                if newCode == "not-registered", !shownFingerprint, let fingerprint {
                    shownFingerprint = true
                    ui.say("       Read this fingerprint to the head-end operator (headend devices pending):")
                    for part in Self.groups(fingerprint) { ui.say("       " + part, .heading) }
                }
                line = ui.statusLine()
            }
            let left = limit - (ContinuousClock.now - started)
            let what = newCode == "not-registered" ? "waiting for the approval" : newCode == "connecting" ? "connecting" : "waiting for the ack"
            line?.show("       \(what): \(ProgressText.clock(left)) left (Ctrl-C stops)")
        }
    }

    func finish() { lock.withLock { line?.finish() } }

    /// `sha256:1a2b…` as two lines of four groups of eight digits.
    static func groups(_ fingerprint: String) -> [String] {
        let hex = Array(fingerprint.hasPrefix("sha256:") ? String(fingerprint.dropFirst(7)) : fingerprint)
        let groups = stride(from: 0, to: hex.count, by: 8).map { String(hex[$0..<min($0 + 8, hex.count)]) }
        return [("sha256: " + groups.prefix(4).joined(separator: " ")), "        " + groups.dropFirst(4).joined(separator: " ")]
    }
}
