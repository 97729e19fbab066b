import Foundation
import Testing
import ConcentratorCore
import MeterProtocols
import MeterSimulator
import Platform
import TestSupport

/// Timing, collisions and the vanishing port, on real PTYs.
@Suite(.serialized) struct LineTimingTests {
    /// An answer arrives no earlier than request wire time + turnaround + answer wire time, and not
    /// much later. Prints the measured numbers as JSON; the ratio is measured / computed for the total.
    @Test(arguments: [LineSettings(baud: 9600), LineSettings(baud: 19_200, parity: .even), LineSettings(baud: 38_400, stopBits: 2)])
    func answersArriveAfterTurnaroundAndWireTime(line: LineSettings) throws {
        let turnaround = 30
        let fixture = try BusFixture(addresses: [1], turnaround: turnaround...turnaround, line: line)
        let client = try fixture.client()
        // 36 registers: a 77-byte answer (at 9600 8N1: 80.2 ms on the wire) to an 8-byte request.
        let request = ModbusRequest(slave: 1, pdu: .readInputRegisters(start: 0, count: 36))
        let characters = 8 + ModbusRTUFrame.expectedResponseLength(to: request)
        #expect(characters == 85)
        let expected = Double(turnaround) + line.wireMicroseconds(characters: characters) / 1000
        var elapsed: [Double] = []
        for _ in 0..<10 {
            let (answer, exchange) = try client.transact(request)
            guard case .registers(let regs) = answer, regs.count == 36 else { Issue.record("\(answer)"); return }
            elapsed.append(exchange.elapsedMilliseconds)
        }
        let sorted = elapsed.sorted()
        let median = sorted[sorted.count / 2]
        let ratio = elapsed.reduce(0, +) / (expected * Double(elapsed.count))
        print(#"{"test":"meter-sim-pacing","line":"\#(line.summary)","expected_ms":\#(rounded(expected)),"#
            + #""min_ms":\#(rounded(sorted.first!)),"median_ms":\#(rounded(median)),"max_ms":\#(rounded(sorted.last!)),"#
            + #""total_ratio":\#(rounded(ratio, places: 4))}"#)
        #expect(sorted.first! >= expected - 0.01, "an answer arrived before its wire time: \(sorted.first!) < \(expected) ms")
        #expect(median <= expected + 30, "median \(median) ms vs \(expected) ms")
        #expect(sorted.last! <= expected + 150, "max \(sorted.last!) ms vs \(expected) ms")
    }

    func rounded(_ v: Double, places: Int = 2) -> Double {
        let f = pow(10.0, Double(places))
        return (v * f).rounded() / f
    }

    @Test func talkingDuringTheTurnaroundCollides() throws {
        let fixture = try BusFixture(addresses: [5], turnaround: 200...200)
        let client = try fixture.client()
        let frame = ModbusRTUFrame.encode(ModbusRequest(slave: 5, pdu: .readInputRegisters(start: 0, count: 2)))
        let first = client.exchange(frame, timeout: .milliseconds(60))
        #expect(first.bytes.isEmpty)
        let second = client.exchange(frame, timeout: .milliseconds(600))
        #expect(second.bytes.isEmpty, "the answer was dropped and the colliding request ignored")
        #expect(fixture.records.count == 1)
        #expect(fixture.records.first?["fault"]?.stringValue == "collision")
        #expect(fixture.records.first?["values"] == nil, "a cut answer carries no values")
        #expect(try client.readRegisters(slave: 5, start: 0, count: 2).count == 2, "the line recovers")
    }

    @Test func talkingOverAnAnswerCutsIt() throws {
        // 1200 baud: 8.3 ms per character, so the 77-byte answer takes 640 ms.
        let fixture = try BusFixture(addresses: [5], turnaround: 5...5, line: LineSettings(baud: 1200))
        let client = try fixture.client()
        let request = ModbusRequest(slave: 5, pdu: .readInputRegisters(start: 0, count: 36))
        let first = client.exchange(ModbusRTUFrame.encode(request), timeout: .milliseconds(250))
        #expect(!first.bytes.isEmpty)
        let rest = client.exchange(ModbusRTUFrame.encode(request), timeout: .milliseconds(900), quiet: .milliseconds(200))
        let received = first.bytes.count + rest.bytes.count
        #expect(received < 77, "received \(received) bytes of a 77-byte answer")
        #expect(fixture.records.last?["fault"]?.stringValue == "collision")
    }

    @Test func vanishingCutsAnAnswerInFlight() throws {
        let fixture = try BusFixture(addresses: [5], turnaround: 5...5, line: LineSettings(baud: 1200))
        let client = try fixture.client()
        let first = client.exchange(ModbusRTUFrame.encode(ModbusRequest(slave: 5, pdu: .readInputRegisters(start: 0, count: 36))),
                                    timeout: .milliseconds(200))
        #expect(!first.bytes.isEmpty && first.bytes.count < 77)
        #expect(try fixture.control("vanish 0.2") == "ok vanish 0.2")
        #expect(waitUntil(timeout: .seconds(2)) { fixture.records.last?["fault"]?.stringValue == "port-closed" })
        #expect(fixture.records.count == 1)
    }

    @Test func portVanishesAndComesBackBehindTheLink() throws {
        let fixture = try BusFixture(addresses: [5])
        let old = try fixture.client()
        #expect(try old.readRegisters(slave: 5, start: 0, count: 2).count == 2)
        #expect(try fixture.control("vanish 1.5") == "ok vanish 1.5")
        #expect(waitUntil(timeout: .seconds(2)) { !FileManager.default.fileExists(atPath: fixture.linkPath) })
        #expect(try fixture.control("status").hasPrefix("ok line=vanished"))
        let dead = old.exchange(ModbusRTUFrame.encode(ModbusRequest(slave: 5, pdu: .readInputRegisters(start: 0, count: 2))),
                                timeout: .milliseconds(200))
        #expect(dead.bytes.isEmpty)
        #expect(dead.errnoCode == EIO, "errno \(dead.errnoCode)")
        #expect(throws: (any Error).self) { _ = try LineClient(path: fixture.linkPath) }
        #expect(waitUntil(timeout: .seconds(5)) { fixture.bus.endpoint != nil })
        let target = try FileManager.default.destinationOfSymbolicLink(atPath: fixture.linkPath)
        #expect(target == fixture.bus.endpoint?.ptyPath)
        let fresh = try fixture.client()
        #expect(try fresh.readRegisters(slave: 5, start: 0, count: 2).count == 2)
    }

    @Test func portCanStartVanished() throws {
        let fixture = try BusFixture(addresses: [5], faults: [.vanish(seconds: 0.5)])
        #expect(fixture.bus.endpoint == nil)
        #expect(!FileManager.default.fileExists(atPath: fixture.linkPath))
        #expect(waitUntil(timeout: .seconds(5)) { FileManager.default.fileExists(atPath: fixture.linkPath) })
        #expect(try fixture.client().readRegisters(slave: 5, start: 0, count: 2).count == 2)
    }

    @Test func stopRemovesTheLinkAndTheSocket() throws {
        let fixture = try BusFixture(addresses: [5])
        #expect(FileManager.default.fileExists(atPath: fixture.linkPath))
        fixture.bus.stop()
        #expect(!FileManager.default.fileExists(atPath: fixture.linkPath))
        #expect(!FileManager.default.fileExists(atPath: fixture.controlPath))
        #expect(throws: SimulatorError.self) { _ = try fixture.control("status") }
    }
}
