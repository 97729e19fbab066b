// fleet-sim: a simulated fleet of concentrators sending real sealed, signed hourly batches over real
// MQTT to head-end workers, each device draining its outbox as the agent does (resending what has
// no signed ack). Used by scripts/fleet-demo.sh. Prints one JSON line of progress per second.
import ArgumentParser
import ConcentratorCore
import FleetSimulation
import HeadEnd
import KeyFiles
import Logging
import Platform
import Wire

struct FleetSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet-sim",
        abstract: "Simulated concentrators sending sealed hourly batches to head-ends over MQTT.",
        discussion: """
            Example: fleet-sim --port 1883 --headend-keys /tmp/demo/headend-keys --devices 200 --hours 24 \\
                       --register postgresql://postgres@127.0.0.1:5432/headend
            Device keys come from a seed: the same --prefix and index give the same device on every run.
            """)

    @Option(help: "Broker host.") var host = "127.0.0.1"
    @Option(help: "Broker port.") var port: UInt16
    @Option(help: "The head-end's key directory (its sealing-*.pub.json and ack-*.pub.json are used).") var headendKeys: String
    @Option(help: "Number of concentrators.") var devices = 20
    @Option(help: "Meters per concentrator (30 quantities each).") var meters = 16
    @Option(help: "Hourly batches per concentrator.") var hours = 24
    @Option(help: "The first hour (ISO 8601); default: 24 hours before now, on the hour.") var start: String?
    @Option(help: "Seconds between two hours of the fleet (0: as fast as the head-ends take them).") var pace = 0.0
    @Option(help: "Register the devices in this database first (a SQLite file or a postgresql:// URL).") var register: String?
    @Option(help: "Device id prefix.") var prefix = "sim"
    @Option(help: "Batches in flight per device.") var window = 2
    @Option(help: "Seconds before an unacknowledged batch is sent again.") var resend = 8

    /// The fleet runs on Swift's concurrency; this (blocking) main thread waits for it.
    func run() throws {
        let done = OneShot<Result<Void, any Error>>()
        Task {
            do { try await runFleet(); done.set(.success(())) } catch { done.set(.failure(error)) }
        }
        try done.wait().get()
    }

    func runFleet() async throws {
        LineLogHandler.bootstrap(level: .warning, timestamps: true)
        let logger = Logger(label: "fleet-sim")
        let files = try FileSystem.list(headendKeys).filter { $0.hasSuffix(".pub.json") && ($0.hasPrefix("sealing-") || $0.hasPrefix("ack-")) }
        let keys = try HeadEndKeys.load(paths: files.sorted().map { FileSystem.join(headendKeys, $0) })
        var fleet = try (1...devices).map { try SimulatedConcentrator(index: $0, prefix: prefix, meters: meters, headEndSealingKey: keys.sealingKey) }
        if let register {
            let location = HeadEndDatabaseLocation(setting: register) ?? .sqlite(path: register)
            let store = try HeadEndStores.open(location, now: SystemClock().now(), applicationName: "fleet-sim")
            for device in fleet { try store.registerDevice(device.id, keys: [device.publicDocument], at: SystemClock().now()) }
            store.close()
        }
        let now = SystemClock().now()
        let first = start.flatMap(ISO8601.parse) ?? Timestamp(seconds: (now.seconds / 3600 - Int64(hours)) * 3600)
        let driver = FleetDriver(host: host, port: port, clientID: "fleet-sim-\(prefix)", ackKeys: keys.keys(withRole: "ack"),
                                 window: window, resendAfter: .seconds(resend), logger: logger)
        try await driver.start()
        let started = ContinuousClock.now
        var valuesSent = 0
        for hour in 0..<hours {
            for index in fleet.indices {
                let batch = try fleet[index].hourlyBatch(sequence: UInt64(hour + 1), start: first.adding(seconds: Int64(hour) * 3600))
                driver.enqueue(device: fleet[index].id, batches: [(UInt64(hour + 1), batch)])
                valuesSent += fleet[index].valuesPerBatch
            }
            if pace > 0 {
                try await Task.sleep(for: .milliseconds(Int(pace * 1000)))
                progress(driver, started: started, hour: hour + 1)
            }
        }
        while !(await driver.waitUntilDrained(timeout: .seconds(1))) { progress(driver, started: started, hour: hours) }
        progress(driver, started: started, hour: hours)
        await driver.stop()
    }

    private func progress(_ driver: FleetDriver, started: ContinuousClock.Instant, hour: Int) {
        let acks = driver.acks.values.reduce(0) { $0 + $1.count }
        let latencies = driver.latencies
        let p50 = latencies.isEmpty ? 0 : latencies[latencies.count / 2].inMilliseconds
        let seconds = (ContinuousClock.now - started).inMilliseconds / 1000
        // One write per line (not print's buffer): a redirected progress file is read as it grows.
        try? FileDescriptor.writeAll(1, #"{"seconds":\#(seconds),"hoursQueued":\#(hour),"batchesAcknowledged":\#(acks),"outstanding":\#(driver.outstanding),"resends":\#(driver.resendCount),"ackLatencyP50Milliseconds":\#(p50)}"# + "\n")
    }
}

FleetSim.main()
