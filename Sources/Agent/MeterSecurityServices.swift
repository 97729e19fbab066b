#if canImport(Glibc)
import Glibc
#endif
import Archive
import Bus
import Commands
import ConcentratorCore
import Logging
import Platform

/// Reads the meter key files the console writes: `<state>/keys/meters/<meter id>.json`, format
/// `concentrator-meter-key/1`, mode 0600 (DESIGN rule 8). A file readable by group or others is
/// refused (its keys may have leaked; `chmod 600` it). Problems name the file, never a secret.
struct MeterKeyFileSource: MeterSecretSource {
    let stateDirectory: String

    static func path(stateDirectory: String, meter: MeterID) -> String {
        FileSystem.join(stateDirectory, "keys/meters/\(meter.rawValue).json")
    }

    func secrets(for meter: MeterID) -> Result<MeterSecrets, MeterSecretsProblem> {
        let path = Self.path(stateDirectory: stateDirectory, meter: meter)
        guard FileSystem.exists(path) else {
            return .failure(MeterSecretsProblem("no key file for meter \(meter) (\(path)); import its keys with the console (keys, meter) and apply"))
        }
        if let mode = FileSystem.mode(path), mode & 0o077 != 0 {
            return .failure(MeterSecretsProblem("the key file \(path) is readable by others (mode \(String(mode & 0o777, radix: 8))); it must be 0600: chmod 600 \(path)"))
        }
        let text: String
        do { text = try FileSystem.readText(path) } catch {
            return .failure(MeterSecretsProblem("cannot read the key file of meter \(meter): \(error)"))
        }
        switch MeterKeyDocument.secrets(in: text, meter: meter.rawValue) {
        case .success(let values): return .success(MeterSecrets(values))
        case .failure(let problem): return .failure(MeterSecretsProblem("\(problem) (\(path))"))
        }
    }
}

/// DLMS invocation counters in the archive's counters table (`dlms-ic/<meter id>`), reserved in
/// ranges whose upper bound is durable before any counter of the range is used.
struct ArchiveInvocationCounters: InvocationCounterStore {
    let archive: ArchiveStore

    static func counterName(_ meter: MeterID) -> String { "dlms-ic/\(meter.rawValue)" }

    func reserve(meter: MeterID, count: UInt32) throws -> ClosedRange<UInt32> {
        let range = try archive.performBlocking(.reserveCounterRange(Self.counterName(meter), count: Int64(count)))
        guard range.upperBound <= Int64(UInt32.max - 1), range.lowerBound >= 1 else {
            throw MeterSecretsProblem("the invocation counters of meter \(meter) are used up (\(range.upperBound)); the meter needs new keys")
        }
        return UInt32(range.lowerBound)...UInt32(range.upperBound)
    }
}

extension Agent {
    /// The bus owners' schedule: the archive's intervals, the live cadence, the meter clock policy.
    func busSchedule(_ setup: AgentSetup) -> BusSchedule {
        var schedule = BusSchedule(archive: setup.config.archive, live: setup.config.polling.live)
        schedule.meterClockThreshold = setup.config.polling.meterClock.map { .seconds($0.thresholdSeconds) }
        return schedule
    }

    /// What the bus owners need for meters with security: key files, the archive's counters, the
    /// device's DLMS system title, and an audit entry for every meter clock they set.
    func meterServices(_ setup: AgentSetup, archive: ArchiveStore) -> BusMeterServices {
        let logger = self.logger
        return BusMeterServices(
            secrets: MeterKeyFileSource(stateDirectory: setup.config.device.stateDirectory),
            invocationCounters: ArchiveInvocationCounters(archive: archive),
            clientSystemTitle: BusMeterServices.systemTitle(deviceID: setup.config.device.id),
            auditClockSet: { set in
                var arguments: [String: JSONValue] = [
                    "meter": .string(set.meter.rawValue), "bus": .string(set.bus.rawValue),
                    "driftMilliseconds": .number(Double(set.before.driftMilliseconds), text: String(set.before.driftMilliseconds)),
                    "setTo": .number(Double(set.setTo.milliseconds), text: String(set.setTo.milliseconds)),
                    "reason": .string(set.reason),
                ]
                if !set.keyIDs.isEmpty { arguments["keyIDs"] = .array(set.keyIDs.map { .string($0) }) }
                let result = set.after.map { "set; now \($0.driftMilliseconds) ms off" } ?? "set; not read back"
                let entry = AuditEntry(time: set.before.gatewayTime, keyID: "gateway", role: "gateway", verb: "meter.clock.set",
                                       arguments: JSONWriter.render(.sortedObject(arguments), pretty: false), result: "ok", message: result)
                do {
                    _ = try archive.performBlocking(.recordAudit(entry))
                } catch {
                    logger.error("the clock set of meter \(set.meter) could not be audited: \(error)")
                }
            })
    }
}
