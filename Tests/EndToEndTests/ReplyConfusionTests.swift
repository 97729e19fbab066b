import Foundation
import Logging
import Testing
import ConcentratorCore
import MQTT
import Platform
import TestSupport
import Wire

/// Issue 17 #6 with the real programs: an attacker at the broker delivers a copy of a command with one
/// signature bit flipped ahead of the real one. The head-end (`headend command`) must report the real
/// outcome, not the device's refusal of the copy, and asking again with the same id must not run the
/// command twice.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ReplyConfusionTests {
    /// The attacker: the head-end publishes under `intercept/v1`; this relay forwards each command to
    /// the device's real topic, preceded by a tampered copy, and forwards every device reply back.
    final class AttackerRelay: @unchecked Sendable {
        let client: MQTTClient
        private let lock = ConditionLock()
        private var commands = 0
        private var replies = 0

        init(port: UInt16, device: String) async throws {
            client = try await CommandField.connectedClient(port: port, name: "attacker")
            try await client.subscribe(filter: "intercept/v1/\(device)/cmd")
            try await client.subscribe(filter: "concentrator/v1/\(device)/reply")
            Task { [self] in
                for await message in client.messages {
                    if message.topic.hasSuffix("/cmd") {
                        var tampered = message.payload
                        tampered[tampered.count - 1] ^= 0x01  // one bit of the signature
                        _ = try? await client.publish(topic: "concentrator/v1/\(device)/cmd", payload: tampered)
                        _ = try? await client.publish(topic: "concentrator/v1/\(device)/cmd", payload: message.payload)
                        lock.withLock { commands += 1 }
                    } else {
                        _ = try? await client.publish(topic: "intercept/v1/\(device)/reply", payload: message.payload)
                        lock.withLock { replies += 1 }
                    }
                }
            }
        }

        var relayedCommands: Int { lock.withLock { commands } }
        var relayedReplies: Int { lock.withLock { replies } }
        func stop() async { await client.stop() }
    }

    @Test func aTamperedCopyAheadOfTheRealCommandDoesNotConfuseTheHeadEnd() async throws {
        let f = try await CommandField()
        #expect(try await f.waitUntilCommandable(), "\(f.agent.log.suffix(2000))")
        let relay = try await AttackerRelay(port: f.broker.port, device: CommandField.device)
        // From now on `headend command` talks through the attacker.
        var config = try String(contentsOfFile: f.headendConfig, encoding: .utf8)
        config = config.replacingOccurrences(of: #"{"broker":"#, with: #"{"topicPrefix": "intercept/v1", "broker":"#)
        try config.write(toFile: f.headendConfig, atomically: true, encoding: .utf8)
        #expect(try f.sim.control("coil 1") == "ok coil 1 on")

        let first = try await f.command("relay", ["meter=bus1-m1", "action=disconnect"], role: "operator", id: "confuse-1")
        #expect(first.status == 0 && first.code == "ok" && first.result["connected"] as? Bool == false,
                "the head-end must report the real outcome: \(first)")
        #expect(try f.sim.control("coil 1") == "ok coil 1 off", "the real command ran")
        #expect(relay.relayedCommands == 1 && relay.relayedReplies >= 2, "the device answered the copy too: \(relay.relayedReplies) replies")

        // Someone reconnects the meter by hand; asking again with the same id must not switch it again.
        #expect(try f.sim.control("coil 1 on") == "ok coil 1 on")
        let again = try await f.command("relay", ["meter=bus1-m1", "action=disconnect"], role: "operator", id: "confuse-1")
        #expect(again.code == "ok" && again.result["connected"] as? Bool == false, "the stored outcome: \(again)")
        #expect(try f.sim.control("coil 1") == "ok coil 1 on", "a retry with the same id ran the command twice")
        let audit = try await runOnDedicatedThread {
            try ControlClient.connectIfRunning(path: f.dir.file("run/control.sock"))!.call(ControlRequest(op: "audit", limit: 50))
        }
        let entries = (audit.audit ?? []).filter { $0.commandID == "confuse-1" }
        #expect(entries.filter { $0.result == "ok" }.count == 1, "ran once: \(entries.map(\.result))")
        #expect(entries.contains { $0.result == "bad-signature" }, "the tampered copy is in the audit: \(entries.map(\.result))")
        FaultMatrix.record(fault: "reply confusion (tampered copy first)", expected: 1, delivered: entries.filter { $0.result == "ok" }.count,
                           duplicated: max(0, entries.filter { $0.result == "ok" }.count - 1))
        await relay.stop()
    }
}
