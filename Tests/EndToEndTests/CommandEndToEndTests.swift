import Archive
import ConcentratorCore
import Foundation
import KeyFiles
import Logging
import Platform
import Testing
import TestSupport
import Wire

/// The command plane end to end (Docs/mqtt-api.md §11): `headend command` processes against the real
/// agent through mosquitto, with meter-sim on the bus. Every verb; the relay really switches the
/// simulated meter; a reader cannot disconnect; a stalled bus answers bus-busy; identical bytes run once; crafted refusals are
/// answered over the wire; a configuration that strands the device rolls itself back.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct CommandEndToEndTests {
    static let yesterday = IntervalSchedule(minutes: 60).start(containing: Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000)))
        .adding(seconds: -86_400)

    /// An archived snapshot from yesterday for bus1-m2, so that `backfill` has something to resend.
    static func archiveOldSnapshot(_ field: CommandField) throws {
        var logger = Logger(label: "seed")
        logger.logLevel = .error
        let store = try ArchiveStore.open(directory: field.dir.file("state"), clock: SystemClock(), logger: logger).store
        defer { store.close() }
        let snapshot = MeterSnapshot(meter: "bus1-m2", intervalStart: yesterday, gatewayTime: yesterday.adding(seconds: 2),
                                     values: [QuantityValue(quantity: "voltage_l1", value: 231.5),
                                              QuantityValue(quantity: "active_energy_import", value: 1234.5)])
        _ = try store.performBlocking(.commit([snapshot], source: "seed"))
    }

    @Test func everyVerbWorksThroughTheRealProcesses() async throws {
        let f = try await CommandField(beforeAgentStarts: Self.archiveOldSnapshot)
        #expect(try await f.waitUntilCommandable(), "\(f.agent.log.suffix(2000))")

        let ping = try await f.command("ping")
        #expect(ping.status == 0 && ping.code == "ok" && ping.result["agent"] is String, "\(ping)")
        // Without --json: one line for people, then the result.
        let human = try await runOnDedicatedThread {
            try runCommand(BuiltProducts.path("headend"), ["command", "--config", f.headendConfig, CommandField.device, "ping", "--id", "human-1"])
        }
        #expect(human.status == 0 && human.stdout.hasPrefix("gw-test ping human-1: ok ok — pong ("), "\(human.stdout) \(human.stderr)")
        #expect(human.stdout.contains("\"agent\""))
        let status = try await f.command("status", role: "reader")
        #expect(status.code == "ok" && status.result["device"] as? String == CommandField.device, "\(status)")

        // read: values now, with units.
        let read = try await f.command("read", [#"meters=["bus1-m1","bus1-m2"]"#, #"quantities=["voltage_l1"]"#], role: "reader")
        let meters = read.result["meters"] as? [[String: Any]] ?? []
        #expect(read.code == "ok" && meters.count == 2, "\(read)")
        for m in meters {
            let value = (m["values"] as? [[String: Any]])?.first
            #expect(value?["quantity"] as? String == "voltage_l1" && value?["unit"] as? String == "V" && value?["value"] is Double, "\(m)")
        }
        #expect(try await f.command("read", [#"meters=["bus1-m9"]"#]).code == "unknown-meter")
        // A bus that cannot start the work before the command's start deadline: bus-busy, answered at
        // the deadline, the work abandoned. The stall ends before the next command needs the bus.
        try f.stallBus(milliseconds: 2500)
        let busy = try await f.command("read", [#"meters=["bus1-m1"]"#, "startDeadlineMilliseconds=300"], role: "reader")
        #expect(busy.status == 1 && busy.code == "bus-busy" && busy.reply?["status"] as? String == "rejected", "\(busy)")

        // relay: a reader cannot disconnect; an operator can, and the meter's coil follows.
        #expect(try f.sim.control("coil 1") == "ok coil 1 on")
        let refused = try await f.command("relay", ["meter=bus1-m1", "action=disconnect"], role: "reader")
        #expect(refused.status == 1 && refused.code == "role-too-low" && refused.reply?["status"] as? String == "rejected", "\(refused)")
        #expect(try f.sim.control("coil 1") == "ok coil 1 on", "a reader key switched the relay")
        let off = try await f.command("relay", ["meter=bus1-m1", "action=disconnect"], role: "operator")
        #expect(off.code == "ok" && off.result["connected"] as? Bool == false, "\(off)")
        #expect(try f.sim.control("coil 1") == "ok coil 1 off")
        #expect(try f.sim.control("status").contains("open-relays=1"))
        let readBack = try await f.command("relay", ["meter=bus1-m1", "action=status"], role: "operator")
        #expect(readBack.code == "ok" && readBack.result["connected"] as? Bool == false, "\(readBack)")
        let on = try await f.command("relay", ["meter=bus1-m1", "action=connect"], role: "operator")
        #expect(on.result["connected"] as? Bool == true, "\(on)")
        #expect(try f.sim.control("coil 1") == "ok coil 1 on")
        #expect(try await f.command("relay", ["meter=bus1-m2", "action=disconnect"], role: "operator").code == "not-supported")

        // time.sync: the meter clock, set two minutes slow, is set to the gateway's time.
        try f.sim.control("clock 1 -120")
        let sync = try await f.command("time.sync", ["thresholdSeconds=10"], role: "operator")
        let synced = (sync.result["meters"] as? [[String: Any]])?.first
        #expect(sync.code == "ok" && sync.result["clockSynchronised"] is Bool && sync.result["offsetFromIssuedAtMilliseconds"] is Int, "\(sync)")
        #expect(synced?["meter"] as? String == "bus1-m1" && synced?["set"] as? Bool == true, "\(sync)")
        #expect(abs((synced?["driftMilliseconds"] as? Int ?? 0) + 120_000) < 3000, "\(sync)")
        #expect(abs(synced?["driftAfterMilliseconds"] as? Int ?? 99_999) < 2000, "\(sync)")
        let offset = try f.sim.control("clock 1").split(separator: " ").last.flatMap { Double($0) } ?? 999
        #expect(abs(offset) < 2, "the simulated meter's clock now follows the gateway's: offset \(offset) s")

        // scan: both meters answer on addresses 1–3.
        let scan = try await f.command("scan", ["bus=bus1", "from=1", "to=3", "timeoutMilliseconds=100"], role: "operator")
        #expect(scan.code == "ok" && (scan.result["hits"] as? [[String: Any]])?.compactMap { $0["address"] as? Int } == [1, 2], "\(scan)")

        // meters.add / meters.remove go through validation and a reload.
        let add = try await f.command("meters.add", args: #"{"meters":[{"id":"bus1-m3","bus":"bus1","address":3,"profile":"eastron-sdm120"}]}"#,
                                      role: "operator")
        #expect(add.code == "ok" && add.result["meters"] as? Int == 3, "\(add)")
        #expect(try await f.command("meters.add", args: #"{"meters":[{"id":"bus1-m4","bus":"bus9","address":4,"profile":"eastron-sdm120"}]}"#,
                                    role: "operator").code == "invalid-arguments")
        let config = try await f.command("config.get")
        let listed = ((config.result["config"] as? [String: Any])?["meters"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
        #expect(listed == ["bus1-m1", "bus1-m2", "bus1-m3"], "\(config)")
        let removed = try await f.command("meters.remove", [#"meters=["bus1-m3"]"#], role: "operator")
        #expect(removed.code == "ok" && removed.result["meters"] as? Int == 2, "\(removed)")
        #expect(try await f.command("config.get", role: "operator").code == "role-too-low")

        // backfill: yesterday's archived snapshot goes through the outbox to the head-end again.
        let backfill = try await f.command("backfill", ["from=\(ISO8601.format(Self.yesterday))", "to=\(ISO8601.format(Self.yesterday.adding(seconds: 3600)))"],
                                           role: "reader")
        #expect(backfill.code == "ok" && backfill.result["enqueued"] as? Int == 1, "\(backfill)")
        let exported = await eventuallyAsync(timeout: .seconds(30)) {
            let r = try? runCommand(BuiltProducts.path("headend"), ["export", "--config", f.headendConfig, "--device", CommandField.device,
                                                                     "--from", ISO8601.format(Self.yesterday),
                                                                     "--to", ISO8601.format(Self.yesterday.adding(seconds: 3600)), "--format", "csv"])
            return r?.stdout.contains("bus1-m2,voltage_l1,231.5,V") == true
        }
        #expect(exported, "the backfilled batch reached the head-end")

        try await craftedMessagesOverTheWire(f)

        // keys.rotate: the head-end registers the new key from the verified reply; later replies use it.
        let oldKey = try f.deviceSigningKey.id.hex
        let rotate = try await f.command("keys.rotate")
        #expect(rotate.code == "ok" && (rotate.printed?["registeredKeys"] as? [String])?.isEmpty == false, "\(rotate)")
        #expect(rotate.printed?["replyKey"] as? String == oldKey, "the rotation reply is signed with the old key")
        #expect(await eventuallyAsync(timeout: .seconds(10)) { (try? f.deviceSigningKey.id.hex) != oldKey })
        let afterRotation = try await f.command("ping")
        let newKey = try f.deviceSigningKey.id.hex
        #expect(afterRotation.code == "ok" && afterRotation.printed?["replyKey"] as? String == newKey, "\(afterRotation)")

        // restart: answered first, then the agent executes itself again (same process) and answers again.
        let restart = try await f.command("restart")
        #expect(restart.code == "ok" && restart.result["restarting"] as? Bool == true, "\(restart)")
        #expect(await eventuallyAsync(timeout: .seconds(30)) { f.agent.log.components(separatedBy: "running: device").count == 3 },
                "\(f.agent.log.suffix(2000))")
        #expect(f.agent.child.isRunning)
        #expect(try await f.waitUntilCommandable(), "no answer after the restart: \(f.agent.log.suffix(2000))")

        // The audit log has every command with its outcome.
        let audit = try await runOnDedicatedThread {
            try runCommand(BuiltProducts.path("concentrator"), ["audit", "export", "--config", f.agentConfig, "--from", "2020-01-01",
                                                                "--to", "2100-01-01", "--format", "json"])
        }
        let entries = (try? JSONSerialization.jsonObject(with: Data(audit.stdout.utf8))) as? [[String: Any]] ?? []
        #expect(audit.status == 0 && entries.count >= 25, "\(audit.stderr) \(entries.count)")
        #expect(entries.contains { $0["verb"] as? String == "relay" && $0["result"] as? String == "role-too-low" && $0["role"] as? String == "reader" })
        #expect(entries.contains { $0["verb"] as? String == "keys.rotate" && $0["result"] as? String == "ok" && $0["role"] as? String == "admin" })
        let csv = try await runOnDedicatedThread {
            try runCommand(BuiltProducts.path("concentrator"), ["audit", "export", "--config", f.agentConfig, "--from", "2020-01-01", "--to", "2100-01-01"])
        }
        #expect(csv.stdout.hasPrefix("time,command_id,key_id,role,verb,result,message,arguments\n"))
        #expect(f.agent.child.stop() == 0)
    }

    /// Crafted messages published directly: identical bytes twice run once; refusals answered with their codes.
    private func craftedMessagesOverTheWire(_ f: CommandField) async throws {
        let wire = try await CommandWire(port: f.broker.port)
        // The operator key: its later counters from `headend command` would be below the crafted ones.
        let signer = try PrivateKeyFile.loadSigningKey(path: f.keyFiles["operator"]!)
        let deviceKey = try f.deviceSigningKey
        let now = Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000))
        // Above every counter `headend command` has used so far (they are about "now" in milliseconds);
        // no `headend command` with the operator key follows.
        var counter = now.milliseconds + 60_000
        func envelope(_ verb: String, _ args: JSONValue, id: String, device: String = CommandField.device) -> CommandEnvelope {
            counter += 1
            return CommandEnvelope(device: device, id: id, issuedAt: now, expiresAt: now.adding(seconds: 300), counter: counter, verb: verb,
                                   arguments: args)
        }
        func reply(_ id: String, count: Int = 1) async -> [(CommandReply, [UInt8])] {
            _ = await eventuallyAsync(timeout: .seconds(15)) { wire.replies(to: id, key: deviceKey).count >= count }
            return wire.replies(to: id, key: deviceKey)
        }

        // The same bytes twice: the relay switches once. Between the two, a technician reconnects it on site.
        let disconnect = envelope("relay", .object([JSONMember(key: "meter", value: .string("bus1-m1")),
                                                    JSONMember(key: "action", value: .string("disconnect"))]), id: "wire-twice").signed(by: signer)
        try await wire.send(disconnect)
        #expect(await reply("wire-twice").first?.0.code == "ok")
        #expect(try f.sim.control("coil 1") == "ok coil 1 off")
        try f.sim.control("coil 1 on")
        try await wire.send(disconnect)
        let both = await reply("wire-twice", count: 2)
        #expect(both.count == 2 && both[0].1 == both[1].1, "the second answer is the stored reply, byte for byte")
        #expect(try f.sim.control("coil 1") == "ok coil 1 on", "the repeated command ran again")

        // Refusals over the wire, each answered with its code; the relay never moves.
        var tampered = envelope("relay", .object([JSONMember(key: "meter", value: .string("bus1-m1")),
                                                  JSONMember(key: "action", value: .string("disconnect"))]), id: "wire-forged").signed(by: signer)
        tampered[tampered.count - 10] ^= 0xFF
        var expired = envelope("ping", .object([]), id: "wire-expired")
        expired.issuedAt = now.adding(seconds: -7200)
        expired.expiresAt = now.adding(seconds: -3600)
        let crafted: [(String, [UInt8], String)] = [
            ("wire-forged", tampered, "bad-signature"),
            ("wire-other", envelope("ping", .object([]), id: "wire-other", device: "gw-elsewhere").signed(by: signer), "wrong-target"),
            ("wire-expired", expired.signed(by: signer), "expired"),
            ("wire-stranger", envelope("ping", .object([]), id: "wire-stranger").signed(by: SigningPrivateKey.generate()), "unknown-key"),
            ("wire-replayed", { var e = envelope("ping", .object([]), id: "wire-replayed"); e.counter = 1; return e.signed(by: signer) }(), "replayed"),
            // Signed, with a readable id and target, but without times and counter.
            ("wire-malformed", SignedCommandFrame.encode(magic: CommandEnvelope.magic,
                                                         body: Array(#"{"id":"wire-malformed","device":"\#(CommandField.device)","verb":"relay"}"#.utf8),
                                                         signedBy: signer),
             "malformed"),
        ]
        for (id, bytes, code) in crafted {
            try await wire.send(bytes)
            let answer = await reply(id)
            #expect(answer.first?.0.code == code, "\(id): \(answer.map(\.0.code))")
        }
        #expect(try f.sim.control("coil 1") == "ok coil 1 on")
        await wire.stop()
    }

    @Test func aConfigurationThatStrandsTheDeviceRollsItselfBack() async throws {
        let f = try await CommandField(trialSeconds: 6)
        #expect(try await f.waitUntilCommandable(), "\(f.agent.log.suffix(2000))")
        let original = try String(contentsOfFile: f.agentConfig, encoding: .utf8)

        // An invalid change is refused and writes nothing.
        let invalid = try await f.command("config.set", args: #"{"patch":{"buses":[{"name":"bus1","device":"relative/path"}]}}"#)
        #expect(invalid.code == "invalid-arguments" && (invalid.reply?["message"] as? String ?? "").contains("$.buses[0].device"), "\(invalid)")
        #expect(try String(contentsOfFile: f.agentConfig, encoding: .utf8) == original)

        // A good change is confirmed by the head-end's ack within the trial.
        let good = try await f.command("config.set", args: #"{"patch":{"uplink":{"drain":{"maxBytesPerSecond":5000}}}}"#)
        #expect(good.code == "ok" && good.result["trialSeconds"] as? Int == 6, "\(good)")
        #expect(await eventuallyAsync(timeout: .seconds(20)) { f.agent.log.contains("confirmed: the head-end acknowledged") },
                "\(f.agent.log.suffix(2000))")
        let confirmed = try String(contentsOfFile: f.agentConfig, encoding: .utf8)
        #expect(confirmed.contains("5000"))

        // A broker nobody listens on: the device cannot reach the head-end, and restores the previous file by itself.
        let closedPort = freeLoopbackPort()
        let stranding = try await f.command("config.set", args: #"{"patch":{"uplink":{"broker":{"port":\#(closedPort)}}}}"#,
                                            id: "strand-1")
        #expect(stranding.code == "ok", "\(stranding)")
        #expect(await eventuallyAsync(timeout: .seconds(30)) { f.agent.log.contains("rolled back (no head-end ack") },
                "\(f.agent.log.suffix(2000))")
        #expect(try await f.waitUntilCommandable(timeout: .seconds(30)), "the device answers again: \(f.agent.log.suffix(2000))")
        #expect(try String(contentsOfFile: f.agentConfig, encoding: .utf8) == confirmed, "the confirmed configuration is back")
        #expect(FileManager.default.fileExists(atPath: f.agentConfig + ".previous"))
        #expect(!FileManager.default.fileExists(atPath: f.dir.file("state/config-trial.json")))
        // The command's stored reply now says so; asking again with its id returns it without running.
        let asked = try await f.command("config.set", args: #"{"patch":{"uplink":{"broker":{"port":\#(closedPort)}}}}"#, id: "strand-1")
        #expect(asked.status == 1 && asked.code == "config-rolled-back", "\(asked)")
        #expect(try String(contentsOfFile: f.agentConfig, encoding: .utf8) == confirmed)
        #expect(f.agent.child.stop() == 0)
    }
}
