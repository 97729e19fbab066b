import ConcentratorCore
@testable import Mesh
import Testing

/// The acceptance run and its variations, on the deterministic simulator with the real
/// routing and store-and-forward code.
@Suite("Mesh simulation", .serialized)
struct MeshSimulationTests {
    /// 200 nodes, 10 % loss, 3 gateways, gateway 1 loses power halfway through the traffic, on a
    /// LAN or Wi-Fi mesh (UDP profile: no duty cycle, so the run is about routing and forwarding).
    static func acceptance(seed: UInt64 = 1) -> MeshSimulationConfiguration {
        var c = MeshSimulationConfiguration()
        c.nodes = 200
        c.gateways = 3
        c.loss = 0.1
        c.killGateway = 1
        c.killMode = .power
        c.link = .lan
        c.seed = seed
        c.trafficMinutes = 120
        c.drainMinutes = 240
        return c
    }

    static func check(_ report: MeshSimulationReport, maximumConvergence: Double = 3) throws {
        #expect(report.lost == 0, "lost \(report.lost) of \(report.batchesGenerated)")
        #expect(report.batchesDelivered == report.batchesGenerated)
        let convergence = try #require(report.convergenceIntervals, "routes never converged after the kill")
        #expect(convergence <= maximumConvergence, "converged after \(convergence) beacon intervals")
        #expect(report.loopsObserved == 0 && report.forwardingChecks > 500)
        #expect(report.routeGraphLoops == 0 && report.routeGraphChecks > 100)
        #expect(report.commandsSent > 0 && report.commandsDelivered == report.commandsSent && report.repliesReceived == report.commandsSent)
        #expect(report.maximumRelayQueueDepth > 0 && report.overheadBytesPerValue > 0)
        // Duplicate arrivals (a batch whose hop-ack was lost while its relay changed route, or whose
        // head-end ack died with the gateway) are dropped by the head-end; they stay rare.
        #expect(Double(report.duplicates) <= 0.05 * Double(report.batchesGenerated), "\(report.duplicates) duplicates")
        #expect(report.clockErrorMaxMilliseconds < 500, "clock error \(report.clockErrorMaxMilliseconds) ms")
    }

    @Test("200 nodes, 10 % loss, 3 gateways, one killed: every batch exactly once at the head-end, convergence ≤ 3 intervals, no loop")
    func acceptance() throws {
        let report = try MeshSimulation(configuration: Self.acceptance()).run()
        #expect(report.batchesGenerated > 300)
        try Self.check(report)
    }

    @Test("LoRa: 60 nodes at SF7 with fragments and the 1 % duty cycle, one gateway killed: all delivered, budgets held")
    func lora() throws {
        var c = Self.acceptance(seed: 2)
        c.nodes = 60
        c.link = .lora
        c.beaconIntervalSeconds = 300
        c.batchIntervalSeconds = 7_200
        c.trafficMinutes = 240
        let sim = try MeshSimulation(configuration: c)
        let report = sim.run()
        try Self.check(report)
        #expect(report.rejections["fragment", default: 0] > 0, "with 10 % loss some fragments must go missing")
        // Every node's ledger stayed within 1 % of the rolling hour.
        for node in sim.nodes {
            let duty = try #require(node.status(at: MeshInstant(monotonic: sim.now, wall: sim.now)).dutyCycle.values.first)
            #expect(duty.usedMicroseconds <= duty.limitMicroseconds)
        }
        #expect(report.airtimeMaxMilliseconds <= 36_000 * report.virtualMinutes / 60 + 36_000)
    }

    @Test("the same seed gives the same run, byte for byte; another seed another run")
    func deterministic() throws {
        var c = Self.acceptance(seed: 7)
        c.nodes = 40
        c.link = .lora
        c.beaconIntervalSeconds = 300
        c.trafficMinutes = 60
        let a = try MeshSimulation(configuration: c).run().json()
        let b = try MeshSimulation(configuration: c).run().json()
        #expect(a == b)
        c.seed = 8
        #expect(try MeshSimulation(configuration: c).run().json() != a)
    }

    @Test("uplink loss instead of power loss: the former gateway relays, nothing lost, fast failover")
    func uplinkLoss() throws {
        var c = Self.acceptance(seed: 3)
        c.nodes = 80
        c.killMode = .uplink
        c.trafficMinutes = 90
        let report = try MeshSimulation(configuration: c).run()
        #expect(report.stranded == 0)
        try Self.check(report, maximumConvergence: 1)
    }

    @Test("no loop under churn: links cut and restored all the time on a LAN, every batch still delivered")
    func churn() throws {
        var c = MeshSimulationConfiguration()
        c.nodes = 40
        c.gateways = 2
        c.loss = 0.05
        c.killGateway = 2
        c.killMode = .uplink
        c.link = .lan
        c.linkChurn = 0.02
        c.seed = 11
        c.trafficMinutes = 90
        c.batchIntervalSeconds = 900
        c.checkRouteGraph = true
        let report = try MeshSimulation(configuration: c).run()
        #expect(report.routeGraphChecks > 500 && report.forwardingChecks > 300)
        #expect(report.loopsObserved == 0, "\(report.loopsObserved) loops at forwarding steps")
        #expect(report.routeGraphLoops == 0, "\(report.routeGraphLoops) loops in the route graph")
        #expect(report.lost == 0)
    }

    @Test("invalid configurations are refused with what to fix")
    func validation() {
        var c = MeshSimulationConfiguration()
        c.gateways = 0
        #expect(throws: MeshSimulationError.self) { try MeshSimulation(configuration: c) }
        c = MeshSimulationConfiguration()
        c.killGateway = 4
        #expect(throws: MeshSimulationError.invalid("--kill-gateway must be 0 (none) or 1…gateways")) { try MeshSimulation(configuration: c) }
    }
}
