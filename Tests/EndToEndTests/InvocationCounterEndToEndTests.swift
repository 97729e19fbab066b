import Foundation
import Testing
import ConcentratorCore
import TestSupport

/// Issue 11: a DLMS HLS-GMAC meter's invocation counter is never used twice across 100 agent
/// restarts, half of them kill -9 at a random moment (often in the middle of an association).
/// meter-sim runs throughout and logs every counter the meter saw (the APDUs' and f(StoC)'s).
@Suite(.serialized) struct InvocationCounterEndToEndTests {
    @Test(.timeLimit(.minutes(8))) func countersNeverRepeatAcrossAHundredRestartsWithKillNine() async throws {
        let broker = try await MosquittoBroker()
        let meters = MixedBusEndToEndTests.meters(modbus: 0, iec: 0).filter { $0.key == "21" || $0.key == "28" }
        let chain = try MixedBusEndToEndTests.Chain(name: "e2e-ic", meters: meters, broker: broker)
        defer { chain.headEnd.stop() }
        let (origin, _) = originBeforeNextHour(secondsBefore: 1)
        let sim = try chain.startSimulator(origin: origin)
        defer { _ = sim.child.stop(signal: SIGTERM) }
        var generator = SystemRandomNumberGenerator()
        var killed = 0
        for k in 0..<100 {
            // Each start is one virtual hour later, just before a boundary: every run reads the meters.
            let agent = try AgentProcess(config: chain.config, directory: chain.dir, name: "agent-\(k)",
                                         clockOrigin: origin.adding(seconds: Int64(k) * 3600), clockRate: 1, logLevel: "warning")
            if k % 2 == 1 {
                try await Task.sleep(for: .milliseconds(Int.random(in: 300...2500, using: &generator)))
                _ = try await runOnDedicatedThread { agent.child.stop(signal: SIGKILL) }
                killed += 1
            } else {
                let deadline = ContinuousClock.now + .seconds(15)
                while ContinuousClock.now < deadline, sim.served.filter({ $0.slave == 21 }).count < 1 + k {
                    try await Task.sleep(for: .milliseconds(100))
                }
                try await Task.sleep(for: .milliseconds(1500))
                _ = try await runOnDedicatedThread { agent.child.stop(signal: SIGTERM) }
            }
        }
        var associations = 0
        for address in [21, 28] {
            let lines = sim.served.filter { $0.slave == address }
            let counters = lines.flatMap(\.invocationCounters)
            associations += lines.filter { $0.object == "0-0:40.0.0.255/m1" }.count
            #expect(!counters.isEmpty)
            #expect(Set(counters).count == counters.count, "meter \(address): a counter was used twice: \(Dictionary(grouping: counters, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted().prefix(5))")
        }
        #expect(killed == 50)
        #expect(associations >= 100, "HLS associations completed: \(associations)")
    }
}
