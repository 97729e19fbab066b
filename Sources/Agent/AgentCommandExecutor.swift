import Bus
import Commands
import ConcentratorCore
import Platform
import Wire

/// The agent as commands see it (Docs/mqtt-api.md §11.4): on-demand reads, relays and meter clocks
/// through the bus owners (queued to them, rule 1), backfill through the uplink, configuration
/// changes through the same validation as at start, keys and restart. Each verb's own file in
/// `Commands/Verbs` decides what to do with these and what its reply holds.
final class AgentCommandExecutor: CommandDevice, CommandReplyChannel, @unchecked Sendable {
    private unowned let agent: Agent
    /// Edge monitoring in force (Agent+Monitoring.swift).
    var agentMonitoring: MonitoringService? { agent.monitoring.flatMap { $0.isConfigured ? $0 : nil } }

    init(agent: Agent) { self.agent = agent }

    // MARK: CommandReplyChannel

    func replySigningKey() -> SigningPrivateKey? { agent.keys?.signing }

    func headEndSigningKeys() -> [(role: String, key: SigningPublicKey)] { agent.uplink?.headEnd.signingKeys ?? [] }

    func publishReply(_ bytes: [UInt8], timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        // Right after a reload the uplink may still be connecting: wait for it, within the timeout.
        while ContinuousClock.now < deadline {
            if let uplink = agent.uplink, uplink.isConnected {
                let sent = waitForAsync { () async -> Bool in
                    do { try await uplink.publishReply(bytes) } catch { return false }
                    return true
                }
                if sent { return true }
            } else if let mesh = agent.mesh, mesh.sendReply(bytes) {
                return true  // the broker is unreachable: the reply goes over the mesh
            }
            sleepThread(.milliseconds(200))
        }
        return false
    }

    // MARK: CommandDevice

    func commandContext() -> CommandContext {
        let setup = agent.setup
        var meters: [MeterID: CommandContext.Meter] = [:]
        for m in setup.config.meters {
            let profile = setup.profiles.profile(id: m.profile)
            let relay = profile?.hasRelay ?? false
            let clock = profile?.modbus?.clock != nil || profile?.dlms?.clock != nil || profile?.iec?.clock?.writeCommand != nil
            meters[m.id] = CommandContext.Meter(bus: m.bus, hasRelay: relay, hasClock: clock)
        }
        var series: Set<SeriesKind> = [.interval]
        if setup.config.archive.profileIntervalMinutes != nil { series.insert(.profile) }
        return CommandContext(meters: meters, buses: setup.config.buses.map(\.name), series: series,
                              outputs: setup.config.monitoring?.outputs.map(\.id) ?? [])
    }

    func now() -> Timestamp { agent.options.clock.now() }

    func status() -> AgentStatus { agent.status() }

    func gatewayClockSynchronised() -> Bool { ClockSynchronisation.isSynchronised() }

    func readMeter(_ meter: MeterID, quantities: Set<QuantityID>?, startDeadline: Duration) -> Result<MeterSnapshot, BusError>? {
        bus(owning: meter)?.readNow(meter: meter, quantities: quantities, startDeadline: startDeadline)
    }

    func setRelay(meter: MeterID, connected: Bool?, startDeadline: Duration) -> Result<Bool, BusError>? {
        bus(owning: meter)?.setRelay(meter: meter, connected: connected, startDeadline: startDeadline)
    }

    func synchroniseClock(meter: MeterID, threshold: Duration, startDeadline: Duration) -> Result<MeterClockSync, BusError>? {
        bus(owning: meter)?.synchroniseClock(meter: meter, threshold: threshold, startDeadline: startDeadline)
    }

    func scan(bus name: BusName, addresses: ClosedRange<UInt8>, timeout: Duration) -> Result<[ScanHit], BusError>? {
        guard let bus = agent.currentBuses.first(where: { $0.name == name }) else { return nil }
        let profiles = agent.setup.profiles.profiles.values.filter { $0.protocolKind == .modbus }.sorted { $0.id < $1.id }
        return bus.scan(addresses: addresses, profiles: profiles, timeout: timeout)
    }

    func queueBackfill(from: Timestamp, to: Timestamp, meters: [MeterID], series: [SeriesKind]) -> Result<Int, CommandOperationFailure>? {
        guard let uplink = agent.uplink else { return nil }
        return waitForAsync { () async -> Result<Int, CommandOperationFailure> in
            do { return .success(try await uplink.backfill(from: from, to: to, meters: meters, series: series)) } catch {
                return .failure(CommandOperationFailure("\(error)"))
            }
        }
    }

    func configurationInForce() -> (path: String, deviceID: String, trialDeadline: Timestamp?) {
        let setup = agent.setup
        return (setup.configPath, setup.config.device.id, agent.configTrial?.deadline)
    }

    func changeConfiguration(envelope: CommandEnvelope, signer: KeyID, trial: Bool,
                             edit: (JSONValue) throws(CommandRejection) -> JSONValue) -> CommandOutcome {
        agent.changeConfiguration(envelope: envelope, signer: signer, trial: trial, edit: edit)
    }

    func rotateKeys() -> CommandOutcome { agent.rotateKeys() }

    func requestRestart() { agent.requestRestart() }

    private func bus(owning meter: MeterID) -> BusOwner? { agent.currentBuses.first { $0.owns(meter) } }
}
