import Foundation
import Testing
import TestSupport

/// Issue 11 §4 acceptance: "disconnect and reconnect by a signed command reach the meter's
/// output_state". Real processes: meter-sim serving a Landis+Gyr E450 (HLS-GMAC, disconnect control
/// class 70 at 0-0:96.3.10.255) on a PTY next to two Modbus meters, mosquitto on loopback, the agent,
/// the head-end, and `headend command … relay …` signed with the operator's key. The simulated
/// meter's output_state follows each command, the reply arrives verified, and the audit has each one.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct DLMSDisconnectEndToEndTests {
    @Test func aSignedRelayCommandDrivesTheDisconnectControl() async throws {
        let f = try await CommandField(dlmsMeter: true)
        #expect(try await f.waitUntilCommandable(), "\(f.agent.log.suffix(2000))")
        #expect(try f.sim.control("coil 21") == "ok coil 21 on", "the simulated E450 starts connected")

        // A reader may not switch; the meter's output_state does not move.
        let refused = try await f.command("relay", ["meter=bus1-d21", "action=disconnect"], role: "reader")
        #expect(refused.code == "role-too-low", "\(refused)")
        #expect(try f.sim.control("coil 21") == "ok coil 21 on")

        // remote_disconnect: the reply carries the output_state read back after the method.
        let off = try await f.command("relay", ["meter=bus1-d21", "action=disconnect"], role: "operator", timeout: 30)
        #expect(off.status == 0 && off.code == "ok" && off.result["connected"] as? Bool == false, "\(off) \(f.agent.log.suffix(1500))")
        #expect(try f.sim.control("coil 21") == "ok coil 21 off", "the meter's output_state is false")
        #expect(try f.sim.control("status").contains("open-relays=21"))
        let readBack = try await f.command("relay", ["meter=bus1-d21", "action=status"], role: "operator", timeout: 30)
        #expect(readBack.code == "ok" && readBack.result["connected"] as? Bool == false, "\(readBack)")

        // remote_reconnect.
        let on = try await f.command("relay", ["meter=bus1-d21", "action=connect"], role: "operator", timeout: 30)
        #expect(on.code == "ok" && on.result["connected"] as? Bool == true, "\(on)")
        #expect(try f.sim.control("coil 21") == "ok coil 21 on")

        // The meter saw exactly one remote_disconnect (method 1) and one remote_reconnect (method 2).
        let methods = f.sim.served.filter { $0.slave == 21 }.compactMap(\.object).filter { $0.hasPrefix("0-0:96.3.10.255/m") }
        #expect(methods == ["0-0:96.3.10.255/m1", "0-0:96.3.10.255/m2"], "\(methods)")

        // Every command is in the agent's audit log with its outcome.
        let audit = try await runOnDedicatedThread {
            try runCommand(BuiltProducts.path("concentrator"), ["audit", "export", "--config", f.agentConfig, "--from", "2020-01-01",
                                                                "--to", "2100-01-01", "--format", "json"])
        }
        let entries = (try? JSONSerialization.jsonObject(with: Data(audit.stdout.utf8))) as? [[String: Any]] ?? []
        let relays = entries.filter { $0["verb"] as? String == "relay" && "\($0["arguments"] ?? "")".contains("bus1-d21") }
        #expect(relays.compactMap { $0["result"] as? String } == ["role-too-low", "ok", "ok", "ok"], "\(audit.stderr) \(relays)")
        #expect(relays.filter { $0["result"] as? String == "ok" }.allSatisfy { $0["role"] as? String == "operator" })
        // The meter's keys never appear in the agent's log.
        #expect(!f.agent.log.lowercased().contains(hex(MixedBusEndToEndTests.encryptionKey)))
    }
}
