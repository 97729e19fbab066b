import ArgumentParser
import ConcentratorCore
import Mesh
import Platform

/// `concentrator mesh …`
struct MeshGroup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "mesh", abstract: "Plan and inspect the mesh relay between concentrators.",
                                                    subcommands: [Simulate.self])

    /// `concentrator mesh simulate`: the deterministic simulation with the real routing and
    /// store-and-forward code, for sizing a deployment (Docs/mesh.md, "Simulator").
    struct Simulate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Simulate a mesh of concentrators on virtual time and report delivery, convergence, queues and airtime.")

        @Option(help: "Concentrators in the field.") var nodes: Int = 200
        @Option(help: "Loss of each datagram on each link, 0 to 0.9.") var loss: Double = 0.1
        @Option(help: "Concentrators with an uplink.") var gateways: Int = 3
        @Option(name: .customLong("kill-gateway"), help: "Which gateway dies mid-run: 1 to --gateways, or 0 for none.") var killGateway: Int = 1
        @Option(name: .customLong("kill-mode"), help: "power (the node vanishes) or uplink (it loses only its uplink).")
        var killMode: String = "power"
        @Option(help: "Random seed: the same seed gives the same run.") var seed: UInt64 = 1
        @Option(help: "lan (UDP on a LAN or Wi-Fi mesh, 1200-byte MTU) or lora (SF7/125 kHz, 200-byte MTU, 1 % duty cycle).")
        var link: String = "lan"
        @Option(help: "Minutes of traffic (virtual).") var minutes: Int64 = 180
        @Option(name: .customLong("drain-minutes"), help: "Minutes after the traffic for the backlog to drain.") var drainMinutes: Int64 = 240
        @Option(name: .customLong("beacon-interval"), help: "Beacon interval in seconds (default: 300 on lora, 60 on lan).")
        var beaconInterval: Int64?
        @Option(name: .customLong("batch-interval"), help: "Seconds between a node's interval batches.") var batchInterval: Int64 = 3_600
        @Option(name: .customLong("batch-bytes"), help: "Size of one sealed interval batch.") var batchBytes: Int = 220
        @Option(help: "Values in one interval batch.") var values: Int = 40
        @Option(help: "Average number of neighbours a node hears.") var degree: Double = 8
        @Option(help: "Commands the head-end sends to random devices.") var commands: Int = 10
        @Flag(help: "Print JSON.") var json = false
        @Flag(name: .customLong("per-node"), help: "Include each node's airtime in the JSON.") var perNode = false
        @Flag(help: "Benchmark: the same run at 50, 200 and 1000 nodes, one JSON line each with its wall time.") var benchmark = false

        func configuration(nodes: Int) throws -> MeshSimulationConfiguration {
            var c = MeshSimulationConfiguration()
            c.nodes = nodes
            c.loss = loss
            c.gateways = gateways
            c.killGateway = killGateway
            guard let mode = MeshSimulationConfiguration.KillMode(rawValue: killMode) else { throw ValidationError("--kill-mode is power or uplink") }
            c.killMode = mode
            guard let profile = MeshSimulationConfiguration.LinkProfile(rawValue: link) else { throw ValidationError("--link is lora or lan") }
            c.link = profile
            c.seed = seed
            c.trafficMinutes = minutes
            c.drainMinutes = drainMinutes
            c.beaconIntervalSeconds = beaconInterval ?? (profile == .lora ? 300 : 60)
            c.batchIntervalSeconds = batchInterval
            c.batchBytes = batchBytes
            c.valuesPerBatch = values
            c.averageDegree = degree
            c.commands = commands
            do { return try c.validated() } catch { throw ValidationError(error.description) }
        }

        func run() throws {
            if benchmark {
                for size in [50, 200, 1000] {
                    var c = try configuration(nodes: size)
                    c.gateways = max(c.gateways, size / 60)
                    c.killGateway = min(c.killGateway, c.gateways)
                    let started = ContinuousClock.now
                    let report = try MeshSimulation(configuration: c).run()
                    let seconds = (ContinuousClock.now - started).inSeconds
                    var line = report.json()
                    line.removeLast()
                    LogOutputLine.stdout(line + #","wall_seconds":\#((seconds * 100).rounded() / 100)}"#)
                }
                return
            }
            let report = try MeshSimulation(configuration: configuration(nodes: nodes)).run()
            if json {
                LogOutputLine.stdout(report.json(pretty: false, perNode: perNode))
                return
            }
            LogOutputLine.stdout("""
                \(report.nodes) nodes, \(report.gateways) gateways, loss \(report.loss), \(report.link), seed \(report.seed), \
                \(Int(report.virtualMinutes)) virtual minutes
                batches: \(report.batchesGenerated) made, \(report.batchesDelivered) stored at the head-end, \(report.lost) lost, \
                \(report.duplicates) duplicate arrivals, \(report.stranded) died with the killed gateway
                convergence after the kill: \(report.convergenceIntervals.map { "\(($0 * 100).rounded() / 100) beacon intervals" } ?? "n/a"); \
                loops seen: \(report.loopsObserved) in \(report.forwardingChecks) forwarding steps
                relay queue peak: \(report.maximumRelayQueueDepth); airtime per node: mean \(Int(report.airtimeMeanMilliseconds)) ms, \
                max \(Int(report.airtimeMaxMilliseconds)) ms
                bytes per delivered value: \((report.bytesPerValue * 10).rounded() / 10) (overhead \((report.overheadBytesPerValue * 10).rounded() / 10))
                commands: \(report.commandsSent) sent, \(report.commandsDelivered) delivered, \(report.repliesReceived) replies
                """)
            if !report.everyBatchDelivered {
                if report.link == "lora" {
                    Output.error("not every batch arrived: the duty-cycle budget of the busiest relays is the limit; try fewer nodes per gateway, a longer --batch-interval or --beacon-interval")
                } else {
                    Output.error("not every batch arrived within the drain time; try a longer --drain-minutes or more gateways")
                }
                throw ExitCode(ExitStatus.failure)
            }
        }
    }
}
