import Bus
import Commands
import ConcentratorCore
import FoundationEssentials
import Platform
import Uplink

/// Runs verified commands against the running agent (Docs/mqtt-api.md §11.4): on-demand reads,
/// relays and meter clocks through the bus owners (queued to them, rule 1), backfill through the
/// uplink, configuration changes through the same validation as at start, keys and restart.
final class AgentCommandExecutor: CommandExecutor, CommandReplyChannel, @unchecked Sendable {
    private unowned let agent: Agent

    init(agent: Agent) { self.agent = agent }

    // MARK: CommandReplyChannel

    func replySigningKey() -> SigningPrivateKey? { agent.keys?.signing }

    func headEndSigningKeys() -> [(role: String, key: SigningPublicKey)] { agent.uplink?.headEnd.signingKeys ?? [] }

    func publishReply(_ bytes: [UInt8], timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        // Right after a reload the uplink may still be connecting: wait for it, within the timeout.
        while ContinuousClock.now < deadline {
            if let uplink = agent.uplink, uplink.isConnected {
                let sent = awaitBlocking { () async -> Bool in
                    do { try await uplink.publishReply(bytes) } catch { return false }
                    return true
                }
                if sent { return true }
            }
            sleepThread(.milliseconds(200))
        }
        return false
    }

    // MARK: CommandExecutor

    func commandContext() -> CommandContext {
        let setup = agent.setup
        var meters: [MeterID: CommandContext.Meter] = [:]
        for m in setup.config.meters {
            let profile = setup.profiles.profile(id: m.profile)
            meters[m.id] = CommandContext.Meter(bus: m.bus, hasRelay: profile?.modbus?.relay != nil, hasClock: profile?.modbus?.clock != nil)
        }
        var series: Set<SeriesKind> = [.interval]
        if setup.config.archive.profileIntervalMinutes != nil { series.insert(.profile) }
        return CommandContext(meters: meters, buses: setup.config.buses.map(\.name), series: series)
    }

    func execute(_ action: CommandAction, envelope: CommandEnvelope, signer: KeyID) -> CommandOutcome {
        switch action {
        case .ping:
            return CommandOutcome(message: "pong", result: jsonObject(["agent": .string(ConcentratorVersion.current),
                                                                   "time": CanonicalJSON.integer(agent.options.clock.now().milliseconds)]))
        case .status:
            return CommandOutcome(message: "status", result: encodedJSON(agent.status()))
        case .read(let meters, let quantities, let deadline):
            return read(meters, quantities: quantities, startDeadline: deadline)
        case .backfill(let from, let to, let meters, let series):
            guard let uplink = agent.uplink else { return .failed(.notSupported, "no uplink is running") }
            let enqueued = awaitBlocking { () async -> Result<Int, ArchiveErrorBox> in
                do { return .success(try await uplink.backfill(from: from, to: to, meters: meters, series: series)) } catch {
                    return .failure(ArchiveErrorBox(description: "\(error)"))
                }
            }
            switch enqueued {
            case .success(let n):
                return CommandOutcome(message: "\(n) backfill batches queued for \(ISO8601.format(from)) – \(ISO8601.format(to))",
                                      result: jsonObject(["enqueued": CanonicalJSON.integer(n)]))
            case .failure(let e): return .failed(.internalError, "backfill not queued: \(e.description)")
            }
        case .relay(let meter, let operation, let deadline):
            guard let bus = bus(owning: meter) else { return .failed(.unknownMeter, "meter \(meter) is on no running bus") }
            let wanted: Bool? = switch operation {
            case .connect: true
            case .disconnect: false
            case .status: nil
            }
            switch bus.setRelay(meter: meter, connected: wanted, startDeadline: deadline) {
            case .success(let connected):
                return CommandOutcome(message: "meter \(meter) relay \(connected ? "connected" : "disconnected")",
                                      result: jsonObject(["meter": .string(meter.rawValue), "connected": .bool(connected)]))
            case .failure(let e): return failure(e)
            }
        case .timeSync(let meters, let threshold, let deadline):
            return timeSync(meters, threshold: threshold, startDeadline: deadline, envelope: envelope)
        case .scan(let busName, let addresses, let timeout):
            guard let bus = agent.currentBuses.first(where: { $0.name == busName }) else {
                return .failed(.invalidArguments, "bus \(busName) is not running")
            }
            let profiles = agent.setup.profiles.profiles.values.filter { $0.protocolKind == .modbus }.sorted { $0.id < $1.id }
            switch bus.scan(addresses: addresses, profiles: profiles, timeout: timeout) {
            case .success(let hits):
                let list = hits.map { hit in
                    var members: [String: JSONValue] = ["address": CanonicalJSON.integer(hit.address),
                                                        "profile": hit.profile.map(JSONValue.string) ?? .null, "detail": .string(hit.detail)]
                    if hit.isGarbled { members["garbled"] = .bool(true) }
                    return jsonObject(members)
                }
                return CommandOutcome(message: "\(hits.count) meters answered on \(busName) \(addresses.lowerBound)–\(addresses.upperBound)",
                                      result: jsonObject(["bus": .string(busName.rawValue), "hits": .array(list)]))
            case .failure(let e): return failure(e)
            }
        case .configGet:
            return configuration()
        case .configSet(let change):
            return agent.changeConfiguration(envelope: envelope, signer: signer, trial: true) { ConfigurationEdit.applying(change, to: $0) }
        case .metersAdd(let meters):
            return agent.changeConfiguration(envelope: envelope, signer: signer, trial: false) { (document) throws(CommandRejection) -> JSONValue in
                try ConfigurationEdit.addingMeters(meters, to: document)
            }
        case .metersRemove(let ids):
            return agent.changeConfiguration(envelope: envelope, signer: signer, trial: false) { ConfigurationEdit.removingMeters(ids, from: $0) }
        case .keysRotate:
            return agent.rotateKeys()
        case .restart:
            return CommandOutcome(message: "restarting now", result: jsonObject(["restarting": .bool(true)])) { [agent] in
                agent.requestRestart()
            }
        }
    }

    // MARK: Verbs

    private func read(_ meters: [MeterID], quantities: [QuantityID]?, startDeadline: Duration) -> CommandOutcome {
        var results: [JSONValue] = []
        var answered = 0
        for meter in meters {
            guard let bus = bus(owning: meter) else { return .failed(.unknownMeter, "meter \(meter) is on no running bus") }
            switch bus.readNow(meter: meter, quantities: quantities.map(Set.init), startDeadline: startDeadline) {
            case .success(let snapshot):
                answered += 1
                results.append(snapshotJSON(snapshot))
            case .failure(.busBusy(let name, let waited)):
                return .failed(.busBusy, "bus \(name) stayed busy for \(waited) ms (start deadline); nothing was read")
            case .failure(.transaction(let id, let error)):
                results.append(jsonObject(["meter": .string(id.rawValue), "error": .string(error.description),
                                       "errorCode": CanonicalJSON.integer(error.rawValue)]))
            case .failure(let e):
                return failure(e)
            }
        }
        let code: CommandReplyCode = answered == 0 ? .meterError : .ok
        return CommandOutcome(code: code, message: "\(answered) of \(meters.count) meters answered", result: jsonObject(["meters": .array(results)]))
    }

    private func timeSync(_ meters: [MeterID], threshold: Duration, startDeadline: Duration, envelope: CommandEnvelope) -> CommandOutcome {
        let now = agent.options.clock.now()
        var results: [JSONValue] = []
        var set = 0
        for meter in meters {
            guard let bus = bus(owning: meter) else { return .failed(.unknownMeter, "meter \(meter) is on no running bus") }
            switch bus.synchroniseClock(meter: meter, threshold: threshold, startDeadline: startDeadline) {
            case .success(let sync):
                var members: [String: JSONValue] = ["meter": .string(meter.rawValue),
                                                    "driftMilliseconds": CanonicalJSON.integer(sync.before.driftMilliseconds),
                                                    "set": .bool(sync.after != nil)]
                if let after = sync.after {
                    set += 1
                    members["driftAfterMilliseconds"] = CanonicalJSON.integer(after.driftMilliseconds)
                }
                results.append(jsonObject(members))
            case .failure(.busBusy(let name, let waited)):
                return .failed(.busBusy, "bus \(name) stayed busy for \(waited) ms (start deadline); no clock was touched")
            case .failure(.transaction(let id, let error)):
                results.append(jsonObject(["meter": .string(id.rawValue), "error": .string(error.description)]))
            case .failure(let e):
                return failure(e)
            }
        }
        let synchronised = ClockSynchronisation.isSynchronised()
        let offset = now.milliseconds - envelope.issuedAt.milliseconds
        return CommandOutcome(message: "gateway clock \(synchronised ? "synchronised" : "NOT synchronised"); \(set) of \(meters.count) meter clocks set",
                              result: jsonObject(["gatewayTime": CanonicalJSON.integer(now.milliseconds),
                                              "clockSynchronised": .bool(synchronised),
                                              "offsetFromIssuedAtMilliseconds": CanonicalJSON.integer(offset),
                                              "thresholdSeconds": CanonicalJSON.integer(Int64(threshold.inSeconds)),
                                              "meters": .array(results)]))
    }

    private func configuration() -> CommandOutcome {
        let setup = agent.setup
        let document: JSONValue
        do { document = try JSONParser.parse(try FileSystem.readText(setup.configPath)) } catch {
            return .failed(.internalError, "cannot read \(setup.configPath): \(error)")
        }
        var result: [String: JSONValue] = ["path": .string(setup.configPath), "config": document]
        if let trial = agent.configTrial {
            result["trialDeadline"] = CanonicalJSON.integer(trial.deadline.milliseconds)
        }
        return CommandOutcome(message: "configuration of \(setup.config.device.id)", result: jsonObject(result))
    }

    // MARK: Helpers

    private func bus(owning meter: MeterID) -> BusOwner? { agent.currentBuses.first { $0.owns(meter) } }

    private func failure(_ error: BusError) -> CommandOutcome {
        switch error {
        case .unknownMeter(let m): return .failed(.unknownMeter, "no meter \(m) on its bus")
        case .busBusy: return .failed(.busBusy, error.description)
        case .unsupported: return .failed(.notSupported, error.description)
        case .transaction, .portUnavailable: return .failed(.meterError, error.description)
        case .stopping, .cancelled: return .failed(.internalError, error.description)
        }
    }

    private func snapshotJSON(_ s: MeterSnapshot) -> JSONValue {
        var members: [String: JSONValue] = ["meter": .string(s.meter.rawValue), "time": CanonicalJSON.integer(s.gatewayTime.milliseconds)]
        if let meterTime = s.meterTime { members["meterTime"] = CanonicalJSON.integer(meterTime.milliseconds) }
        members["values"] = .array(s.readings.map { r in
            var v: [String: JSONValue] = ["quantity": .string(r.quantity.rawValue), "unit": .string(r.unit.rawValue)]
            if let value = r.value, value.isFinite { v["value"] = .number(value, text: "\(value)") }
            if let error = r.quality.error {
                v["error"] = .string(error.description)
                v["errorCode"] = CanonicalJSON.integer(error.rawValue)
            }
            return jsonObject(v)
        })
        return jsonObject(members)
    }

    private func encodedJSON<T: Encodable>(_ value: T) -> JSONValue {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(value), let json = try? JSONParser.parse(Array(data)) else { return .object([]) }
        return json
    }
}

/// A JSON object from a dictionary (members sorted by key, as the canonical form wants them anyway).
func jsonObject(_ members: [String: JSONValue]) -> JSONValue {
    .object(members.sorted { $0.key < $1.key }.map { JSONMember(key: $0.key, value: $0.value) })
}

/// An archive error's text, sendable across the async bridge.
struct ArchiveErrorBox: Error, Sendable {
    let description: String
}

/// A value handed from a task to a waiting thread.
private final class BlockingBox<T>: @unchecked Sendable {
    var value: T?
}

/// Runs async work from a dedicated (non-pool) thread and blocks that thread until it finishes.
func awaitBlocking<T: Sendable>(_ work: @escaping @Sendable () async -> T) -> T {
    let box = BlockingBox<T>()
    let done = ConditionLock()
    Task {
        let value = await work()
        done.withLock { box.value = value }
        done.broadcast()
    }
    done.lock()
    defer { done.unlock() }
    while box.value == nil { done.wait(for: .seconds(1)) }
    return box.value!
}
