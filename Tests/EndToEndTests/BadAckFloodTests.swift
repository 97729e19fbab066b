import Foundation
import Logging
import Testing
import ConcentratorCore
import MQTT
import Platform
import TestSupport

/// Issue 17 #12: bad acks used to write one warning each (2,000 acks gave 2,066 lines). Now they are
/// rate-limited like unverifiable commands: one line each up to 60 a minute, then one line saying the
/// rest are only counted. Through mosquitto, at the real agent.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct BadAckFloodTests {
    static let flood = 2000

    @Test func twoThousandBadAcksWriteABoundedNumberOfLines() async throws {
        let f = try await CommandField()
        #expect(try await f.waitUntilCommandable(), "\(f.agent.log.suffix(2000))")
        let client = try await CommandField.connectedClient(port: f.broker.port, name: "flooder")
        // The allowance is per minute of the wall clock: start the flood early in a minute.
        let second = Int(Date().timeIntervalSince1970) % 60
        if second > 50 { try await Task.sleep(for: .seconds(61 - second)) }
        let before = Self.ackLines(f.agent.log)
        for i in 0..<Self.flood {
            // Junk of ack size, each different (QoS 1: the broker has it before the next goes).
            let junk = (0..<120).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }
            _ = try await client.publish(topic: "concentrator/v1/\(CommandField.device)/ack", payload: junk, qos: .atLeastOnce)
            if i % 100 == 99 { try await Task.sleep(for: .milliseconds(20)) }  // let the agent keep up (its queue holds 16)
        }
        await client.stop()
        // The agent is still fine and has read the flood.
        #expect(try await f.command("ping").code == "ok")
        try await Task.sleep(for: .seconds(1))
        let lines = Self.ackLines(f.agent.log) - before
        let logged = f.agent.log.components(separatedBy: "\n").filter { $0.contains("ignoring an ack that does not verify") }.count
        #expect(f.agent.log.contains("more than \(60) bad acks this minute"), "the flood reached the agent: \(logged) lines")
        #expect(lines <= 60 + 2, "\(lines) log lines about acks for \(Self.flood) bad acks")
        FaultMatrix.record(fault: "2000 bad acks (log lines)", expected: 0, delivered: 0, measured: ["logLines": Double(lines)])
    }

    /// Lines the agent wrote about acks (each bad one, the rate-limit notice, the summary).
    static func ackLines(_ log: String) -> Int {
        log.components(separatedBy: "\n").filter { $0.contains("ignoring an ack") || $0.contains("bad acks") || $0.contains("another batch's digest") }.count
    }
}
