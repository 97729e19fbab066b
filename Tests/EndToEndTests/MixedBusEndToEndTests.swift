import Foundation
import Testing
import ConcentratorCore
import TestSupport

/// Issue 11's acceptance with real processes: meter-sim serving Modbus RTU, IEC 62056-21 mode C
/// and DLMS/COSEM (HLS-GMAC, LLS and no security) meters on ONE PTY, the agent reading them with
/// one bus owner, mosquitto on loopback, the head-end storing what arrives.
@Suite(.serialized) struct MixedBusEndToEndTests {
    static let encryptionKey: [UInt8] = [0x4B, 0x1A, 0x77, 0x02, 0xE3, 0x90, 0x5C, 0x21, 0x88, 0x3F, 0xD6, 0x14, 0x6E, 0xA9, 0x07, 0xC5]
    static let authenticationKey: [UInt8] = [0xD1, 0x29, 0x8E, 0x4F, 0x03, 0xB7, 0x6A, 0x95, 0x1C, 0xE2, 0x58, 0x0D, 0xF4, 0x33, 0x9B, 0x66]
    static let password = "5ecr3tLL"
    static let iecPassword = "73915"

    /// The meters on the line: address (or IEC device address) → meter id, profile, protocol.
    struct Meter {
        var id: String
        var key: String
        var profile: String
        var protocolKind: String
        var address: String
    }

    static func meters(modbus: Int = 20, dlms: Bool = true, iec: Int = 20, iecProfile: String = "iskraemeco-me162") -> [Meter] {
        var out: [Meter] = []
        for a in 1...max(1, modbus) where modbus > 0 {
            out.append(Meter(id: "bus1-m\(a)", key: String(a), profile: a <= modbus / 2 ? "eastron-sdm630" : "abb-b23", protocolKind: "modbus", address: String(a)))
        }
        if dlms {
            for a in 21...40 {
                let profile = switch a {
                case 21...27: "landis-gyr-e450"
                case 28...33: "iskraemeco-am550"
                case 34...37: "kamstrup-omnipower"
                default: "test-e450-lls"
                }
                out.append(Meter(id: "bus1-d\(a)", key: String(a), profile: profile, protocolKind: "dlms", address: String(a)))
            }
        }
        for n in stride(from: 1, through: iec, by: 1) {
            let device = String(format: "%08d", n)
            out.append(Meter(id: "bus1-i\(n)", key: device, profile: iecProfile, protocolKind: "iec62056-21", address: "\"\(device)\""))
        }
        return out
    }

    /// The E450 as a reading client with an LLS password (client 32), written as a profile file.
    static func writeLLSProfile(_ dir: TemporaryDirectory) throws -> String {
        let profiles = dir.file("profiles")
        try FileManager.default.createDirectory(atPath: profiles, withIntermediateDirectories: true)
        let data = try Data(contentsOf: URL(fileURLWithPath: BuiltProducts.profilesDirectory + "/landis-gyr-e450.json"))
        var profile = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        profile["id"] = "test-e450-lls"
        profile["name"] = "E450 read by an LLS client (test)"
        var dlms = try #require(profile["dlms"] as? [String: Any])
        dlms["clientAddress"] = 32
        dlms["security"] = ["level": "lls", "passwordKey": "lls"]
        profile["dlms"] = dlms
        try JSONSerialization.data(withJSONObject: profile).write(to: URL(fileURLWithPath: profiles + "/test-e450-lls.json"))
        // A mode C meter on a multidrop line with a clock, a P1 password and a 15-minute P.01 of
        // counters (the shipped ME162 has no load profile on its interface).
        try """
        {"id": "test-iec-p01", "name": "Mode C meter with a P.01 load profile (test)", "manufacturer": "test", "source": "test",
         "protocol": "iec62056-21",
         "iec": {"mode": "C", "signOnBaud": 300, "maximumBaud": 9600, "identification": {"manufacturer": "SIM", "identPrefix": "TC"},
                 "passwordId": "p1",
                 "registers": [{"obis": "1.8.0", "quantity": "active_energy_import", "unit": "kWh"},
                               {"obis": "2.8.0", "quantity": "active_energy_export", "unit": "kWh"}],
                 "clock": {},
                 "loadProfile": {"obis": "P.01", "periodMinutes": 15, "channels": [
                     {"obis": "1.8.0", "quantity": "active_energy_import", "unit": "kWh", "kind": "counter"},
                     {"obis": "2.8.0", "quantity": "active_energy_export", "unit": "kWh", "kind": "counter"}]}}}
        """.write(toFile: profiles + "/test-iec-p01.json", atomically: true, encoding: .utf8)
        return profiles
    }

    /// meter-sim for the meters, the agent's configuration and key files, the head-end.
    struct Chain {
        let dir: TemporaryDirectory
        let meters: [Meter]
        let headEnd: ChainHeadEnd
        let config: String
        let profiles: String

        init(name: String, meters: [Meter], broker: MosquittoBroker) throws {
            dir = TemporaryDirectory(name)
            self.meters = meters
            profiles = try writeLLSProfile(dir)
            headEnd = try ChainHeadEnd(directory: dir, brokerPort: Int(broker.port))
            var config = ProtocolAgentConfig(
                buses: [#"{"name": "bus1", "device": "\#(dir.file("bus1.tty"))", "baud": 38400, "responseTimeoutMilliseconds": {"min": 100, "max": 800}}"#],
                meters: meters.map { #"{"id": "\#($0.id)", "bus": "bus1", "protocol": "\#($0.protocolKind)", "address": \#($0.address), "profile": "\#($0.profile)"}"# })
            config.profileDirectories = [profiles]
            config.extraSections["uplink"] = headEnd.uplinkSection
            self.config = try config.write(to: dir)
            for m in meters where m.protocolKind == "iec62056-21" {
                try ProtocolAgentConfig.writeKeyFile(directory: dir, meter: m.id, secrets: ["p1": Array(MixedBusEndToEndTests.iecPassword.utf8)])
            }
            for m in meters where m.protocolKind == "dlms" {
                if m.profile == "test-e450-lls" {
                    try ProtocolAgentConfig.writeKeyFile(directory: dir, meter: m.id, secrets: ["password": Array(MixedBusEndToEndTests.password.utf8)])
                } else if m.profile != "kamstrup-omnipower" {
                    try ProtocolAgentConfig.writeKeyFile(directory: dir, meter: m.id, secrets: ["encryption": encryptionKey, "authentication": authenticationKey])
                }
            }
            try """
            password=\(MixedBusEndToEndTests.password)
            encryption-key=\(hex(encryptionKey))
            authentication-key=\(hex(authenticationKey))

            """.write(toFile: dir.file("dlms-secrets"), atomically: true, encoding: .utf8)
            try headEnd.enrolAndStart(agentConfig: self.config)
        }

        /// meter-sim serving the chain's meters with its clock at `origin` (real time rate).
        func startSimulator(origin: Timestamp) throws -> MeterSimProcess {
            var modbus: [String] = [], iec: [String] = []
            for m in meters {
                switch m.protocolKind {
                case "iec62056-21": iec.append("\(m.key):\(m.profile)")
                default: modbus.append("\(m.key):\(m.profile)")
                }
            }
            var extra = ["--profiles", profiles, "--dlms-secrets", dir.file("dlms-secrets"), "--clock-origin", ISO8601.format(origin), "--seed", "11",
                         "--iec-password", MixedBusEndToEndTests.iecPassword]
            for i in iec { extra += ["--iec-meters", i] }
            return try MeterSimProcess(name: "bus1", directory: dir, meters: modbus, baud: 38_400, turnaround: "5-10", extra: extra)
        }
    }

    /// Every value of every meter in one cycle reaches the head-end once and equals what was served;
    /// no key appears in any log.
    @Test(.timeLimit(.minutes(5))) func sixtyMixedMetersOnOneLineReachTheHeadEndExactlyOnce() async throws {
        let broker = try await MosquittoBroker()
        let chain = try Chain(name: "e2e-mixed", meters: Self.meters(), broker: broker)
        defer { chain.headEnd.stop() }
        let (origin, boundary) = originBeforeNextHour(secondsBefore: 3)
        let sim = try chain.startSimulator(origin: origin)
        let agent = try AgentProcess(config: chain.config, directory: chain.dir, clockOrigin: origin, clockRate: 1)
        #expect(agent.waitUntilRunning(), "\(agent.log.suffix(2000))")
        let interval = ISO8601.format(boundary)
        let exported = await chain.headEnd.waitForExport(timeout: .seconds(200)) { e in
            Set(e.filter { $0.interval_start == interval }.map(\.meter)).count >= chain.meters.count
        }
        _ = try await runOnDedicatedThread { agent.child.stop(signal: SIGTERM) }
        let served = ServedLogReader.servedValues(sim.served)
        var compared = 0
        var seen: Set<String> = []
        for s in exported {
            #expect(seen.insert("\(s.meter)/\(s.interval_start)").inserted, "\(s.meter) \(s.interval_start) stored twice at the head-end")
        }
        for m in chain.meters {
            let snapshots = exported.filter { $0.meter == m.id && $0.interval_start == interval }
            guard let snapshot = snapshots.first else {
                Issue.record("\(m.id) (\(m.protocolKind), \(m.profile)) did not reach the head-end: \(agent.log.split(separator: "\n").filter { $0.contains(m.id) }.suffix(3))")
                continue
            }
            #expect(!snapshot.values.isEmpty)
            for v in snapshot.values {
                guard let value = v.value else {
                    Issue.record("\(m.id) \(v.quantity): no value")
                    continue
                }
                #expect(served["\(m.key)/\(v.quantity)"]?.contains(value) == true, "\(m.id) \(v.quantity) = \(value) was not served")
                compared += 1
            }
        }
        #expect(Set(chain.meters.map(\.protocolKind)) == ["modbus", "dlms", "iec62056-21"])
        #expect(compared >= 60 * 3, "values compared: \(compared)")
        // The keys and the password never appear in what the agent or the head-end logged.
        let logs = agent.log + chain.headEnd.log
        for secret in [hex(Self.encryptionKey), hex(Self.authenticationKey), hex(Array(Self.password.utf8))] {
            #expect(!logs.lowercased().contains(secret), "a secret appears in a log")
        }
        #expect(!logs.contains(Self.password))
    }

    /// The agent is off for three virtual days; on restart the DLMS and IEC meters' own load
    /// profiles fill every missing hour, and the head-end has no gap.
    @Test(.timeLimit(.minutes(5))) func threeDaysOffAreBackfilledFromTheMetersProfiles() async throws {
        let broker = try await MosquittoBroker()
        let meters = Self.meters(modbus: 0, iec: 2, iecProfile: "test-iec-p01").filter { $0.protocolKind != "dlms" || [21, 28, 34, 38].contains(Int($0.key)!) }
        let chain = try Chain(name: "e2e-backfill", meters: meters, broker: broker)
        defer { chain.headEnd.stop() }
        let (origin, first) = originBeforeNextHour(secondsBefore: 3)
        let sim = try chain.startSimulator(origin: origin)
        var agent = try AgentProcess(config: chain.config, directory: chain.dir, name: "agent-1", clockOrigin: origin, clockRate: 1)
        #expect(agent.waitUntilRunning())
        let firstText = ISO8601.format(first)
        _ = await chain.headEnd.waitForExport(timeout: .seconds(60)) { e in Set(e.filter { $0.interval_start == firstText }.map(\.meter)).count == meters.count }
        let one = agent
        #expect(try await runOnDedicatedThread { one.child.stop(signal: SIGTERM) } == 0)
        _ = sim.child.stop(signal: SIGTERM)

        // Three days later (virtual): the meters went on recording their profiles.
        let later = first.adding(seconds: 3 * 86_400)
        let sim2 = try chain.startSimulator(origin: later.adding(seconds: -3))
        defer { _ = sim2.child.stop(signal: SIGTERM) }
        agent = try AgentProcess(config: chain.config, directory: chain.dir, name: "agent-2", clockOrigin: later.adding(seconds: -3), clockRate: 1)
        #expect(agent.waitUntilRunning())
        let hours = (0...72).map { ISO8601.format(first.adding(seconds: Int64($0) * 3600)) }
        let exported = await chain.headEnd.waitForExport(timeout: .seconds(200)) { e in
            let have = Set(e.map { "\($0.meter)/\($0.interval_start)" })
            return meters.allSatisfy { m in hours.allSatisfy { have.contains("\(m.id)/\($0)") } }
        }
        let last = agent
        _ = try await runOnDedicatedThread { last.child.stop(signal: SIGTERM) }
        let have = Dictionary(grouping: exported, by: { "\($0.meter)/\($0.interval_start)" })
        for m in meters {
            let missing = hours.filter { have["\(m.id)/\($0)"] == nil }
            #expect(missing.isEmpty, "\(m.id) (\(m.profile)) has no gap at the head-end; missing \(missing.count): \(missing.prefix(3)) \(agent.log.split(separator: "\n").filter { $0.contains(m.id) }.suffix(6))")
            #expect(hours.allSatisfy { (have["\(m.id)/\($0)"]?.count ?? 0) <= 1 }, "\(m.id): every hour once")
            let energy = hours.compactMap { have["\(m.id)/\($0)"]?.first?.values.first { $0.quantity == "active_energy_import" }?.value ?? nil }
            #expect(energy.count == hours.count, "\(m.id): active energy in every hour (\(energy.count))")
            #expect(energy == energy.sorted(), "\(m.id): the backfilled register only grows")
        }
        #expect(agent.log.contains("backfill"), "the agent logged its backfill")
    }
}
