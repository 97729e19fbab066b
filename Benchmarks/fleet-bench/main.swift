// fleet-bench: the head-end's ingest at fleet scale, PostgreSQL beside SQLite in the same run.
//   1. where the time goes: opening (verify + HPKE open + zstd + decode) on one thread, and storing
//      already opened batches with 1 and 3 threads (each its own connection);
//   2. the whole path: a simulated fleet publishing sealed hourly batches (256 meters × 30 values)
//      over mosquitto to 1 or 3 in-process head-end workers in one shared-subscription group, each
//      storing and acknowledging; values stored per second and the ack latency (first publish → the
//      signed ack back at the device) p50/p95.
// Prints JSON; never fails on timing. Run through Benchmarks/fleet-bench.sh (it starts a throwaway
// PostgreSQL cluster and mosquitto):  fleet-bench --postgres postgresql://postgres@127.0.0.1:PORT --broker-port PORT
#if canImport(Glibc)
import Glibc
#endif
import ConcentratorCore
import FleetSimulation
import HeadEnd
import Logging
import MQTT
import Platform
import PostgreSQL
import Wire

var arguments = CommandLine.arguments.dropFirst()
var postgresBase: String?
var brokerPort: UInt16?
var devices = 40
var hours = 4
while let flag = arguments.popFirst() {
    switch flag {
    case "--postgres": postgresBase = arguments.popFirst()
    case "--broker-port": brokerPort = arguments.popFirst().flatMap { UInt16($0) }
    case "--devices": devices = arguments.popFirst().flatMap { Int($0) } ?? devices
    case "--hours": hours = arguments.popFirst().flatMap { Int($0) } ?? hours
    default: fatalError("usage: fleet-bench --postgres postgresql://user@host:port --broker-port PORT [--devices N] [--hours H]")
    }
}
guard let postgresBase, let brokerPort else { fatalError("--postgres and --broker-port are required (see Benchmarks/fleet-bench.sh)") }

let sealingKey = try AgreementPrivateKey(rawRepresentation: (0..<32).map { UInt8($0 + 0x40) })
let ackKey = try SigningPrivateKey(seed: (0..<32).map { UInt8($0 + 0x70) })
let keys = HeadEndPrivateKeys(sealingKeys: [sealingKey], ackKey: ackKey)
let silent = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
let firstHour = ISO8601.parse("2026-11-01T00:00:00Z")!
let now = SystemClock().now()

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
func number(_ x: Double, _ places: Double = 10) -> JSONValue { let r = (x * places).rounded() / places; return .number(r, text: "\(r)") }
func integer(_ n: Int) -> JSONValue { .number(Double(n), text: "\(n)") }

/// A fresh PostgreSQL database in the benchmark's cluster.
var databaseCount = 0
@MainActor func freshPostgres() throws -> HeadEndDatabaseLocation {
    databaseCount += 1
    let name = "bench_\(getpid())_\(databaseCount)"
    let admin = try PostgresConnection(url: postgresBase + "/postgres", location: "bench")
    try admin.execute("CREATE DATABASE \(name)")
    admin.close()
    return .postgres(url: postgresBase + "/" + name)
}

/// A fresh SQLite file under $BENCH_DIR or /tmp.
@MainActor func freshSQLite() -> HeadEndDatabaseLocation {
    let base = getenv("BENCH_DIR").map { String(cString: $0) } ?? "/tmp"
    var template = Array("\(base)/fleet-bench-XXXXXX".utf8CString)
    precondition(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) } != nil)
    return .sqlite(path: String(cString: template) + "/headend.sqlite")
}

// The fleet: `devices` concentrators of 256 meters, `hours` hourly batches each, sealed beforehand.
var fleet = try (1...devices).map { try SimulatedConcentrator(index: $0, prefix: "bench", meters: 256, headEndSealingKey: sealingKey.publicKey) }
var sealed: [(device: String, sequence: UInt64, batch: SealedBatch)] = []
for hour in 0..<hours {
    for i in fleet.indices {
        sealed.append((fleet[i].id, UInt64(hour + 1), try fleet[i].hourlyBatch(sequence: UInt64(hour + 1), start: firstHour.adding(seconds: Int64(hour) * 3600))))
    }
}
let valuesPerBatch = fleet[0].valuesPerBatch
let totalValues = sealed.count * valuesPerBatch
let directory = RegisteredDevices(Dictionary(uniqueKeysWithValues: fleet.map { ($0.id, [$0.signingKey.publicKey]) }))

@MainActor func register(_ store: any HeadEndStore) throws {
    for device in fleet { try store.registerDevice(device.id, keys: [device.publicDocument], at: now) }
}

// 1a. Opening only, one thread.
let opener = BatchOpener(sealingKeys: [sealingKey], devices: directory)
var t0 = ContinuousClock.now
let opened = try sealed.map { try opener.open($0.batch.bytes) }
let openSeconds = seconds(ContinuousClock.now - t0)

// 1b. Storing opened batches with `threads` threads, each with its own connection.
/// Carries a store (used by one thread only) and the threads' outcome across threads.
final class StoreThreads: @unchecked Sendable {
    let stores: [any HeadEndStore]
    let batches: [OpenedBatch]
    let lock = ConditionLock()
    var finished = 0
    var failure: (any Error)?

    init(stores: [any HeadEndStore], batches: [OpenedBatch]) {
        self.stores = stores
        self.batches = batches
    }
}

@MainActor func storeOnly(_ location: HeadEndDatabaseLocation, threads: Int) throws -> Double {
    let setup = try HeadEndStores.open(location, now: now)
    try register(setup)
    setup.close()
    let shared = StoreThreads(stores: try (0..<threads).map { _ in try HeadEndStores.open(location, now: now) }, batches: opened)
    let received = now
    let start = ContinuousClock.now
    for index in 0..<threads {
        DedicatedThread.start(name: "store-\(index)") {
            let store = shared.stores[index]
            do {
                for i in stride(from: index, to: shared.batches.count, by: threads) {
                    guard case .stored = try store.store(shared.batches[i], receivedAt: received) else { fatalError("not stored") }
                }
            } catch {
                shared.lock.withLock { shared.failure = error }
            }
            shared.lock.withLock { shared.finished += 1 }
            shared.lock.broadcast()
        }
    }
    shared.lock.lock()
    while shared.finished < threads { shared.lock.wait() }
    shared.lock.unlock()
    let elapsed = seconds(ContinuousClock.now - start)
    shared.stores.forEach { $0.close() }
    if let failure = shared.failure { throw failure }
    return Double(totalValues) / elapsed
}

// 2. The whole path through mosquitto with `workers` in-process head-end workers.
@MainActor func pipeline(_ location: HeadEndDatabaseLocation, workers: Int) async throws -> (valuesPerSecond: Double, p50: Double, p95: Double, resends: Int) {
    let setup = try HeadEndStores.open(location, now: now)
    try register(setup)
    setup.close()
    let database: String
    switch location {
    case .sqlite(let path): database = path
    case .postgres(let url): database = url
    }
    var services: [HeadEndService] = []
    for w in 0..<workers {
        let configuration = HeadEndConfiguration(
            broker: BrokerSettings(host: "127.0.0.1", port: Int(brokerPort), clientID: "bench-worker-\(databaseCount)-\(w)", keepaliveSeconds: 30),
            sharedSubscriptionGroup: "bench", databasePath: database, sealingKeyFiles: ["/nonexistent"], ackKeyFile: "/nonexistent")
        let service = try HeadEndService(configuration: configuration, keys: keys, logger: silent)
        try await service.start()
        while !service.isSubscribed { try await Task.sleep(for: .milliseconds(20)) }
        services.append(service)
    }
    let driver = FleetDriver(host: "127.0.0.1", port: brokerPort, clientID: "bench-fleet-\(databaseCount)", ackKeys: [ackKey.publicKey],
                             window: 2, resendAfter: .seconds(30), logger: silent)
    try await driver.start()
    let start = ContinuousClock.now
    for device in fleet {
        driver.enqueue(device: device.id, batches: sealed.filter { $0.device == device.id }.map { ($0.sequence, $0.batch) })
    }
    guard await driver.waitUntilDrained(timeout: .seconds(600)) else { fatalError("the fleet did not drain") }
    let elapsed = seconds(ContinuousClock.now - start)
    let latencies = driver.latencies.map(seconds)
    let resends = driver.resendCount
    await driver.stop()
    for service in services { await service.stop() }
    let stored = services.reduce(0) { $0 + $1.counters.snapshot.valuesStored }
    precondition(stored == totalValues, "stored \(stored) of \(totalValues) values")
    return (Double(totalValues) / elapsed, latencies[latencies.count / 2] * 1000, latencies[latencies.count * 95 / 100] * 1000, resends)
}

var storeCases: [JSONValue] = []
for (name, location, threads) in [("sqlite", freshSQLite(), 1), ("postgresql", try freshPostgres(), 1), ("postgresql", try freshPostgres(), 3)] {
    let rate = try storeOnly(location, threads: threads)
    storeCases.append(.object([JSONMember(key: "store", value: .string(name)), JSONMember(key: "threads", value: integer(threads)),
                               JSONMember(key: "valuesPerSecond", value: integer(Int(rate)))]))
}
var pipelineCases: [JSONValue] = []
for (name, location, workers) in [("sqlite", freshSQLite(), 1), ("postgresql", try freshPostgres(), 1), ("postgresql", try freshPostgres(), 3)] {
    let r = try await pipeline(location, workers: workers)
    pipelineCases.append(.object([JSONMember(key: "store", value: .string(name)), JSONMember(key: "workers", value: integer(workers)),
                                  JSONMember(key: "valuesPerSecond", value: integer(Int(r.valuesPerSecond))),
                                  JSONMember(key: "ackLatencyP50Milliseconds", value: number(r.p50)),
                                  JSONMember(key: "ackLatencyP95Milliseconds", value: number(r.p95)),
                                  JSONMember(key: "resends", value: integer(r.resends))]))
}
print(JSONWriter.render(.object([
    JSONMember(key: "benchmark", value: .string("fleet")),
    JSONMember(key: "devices", value: integer(devices)),
    JSONMember(key: "batches", value: integer(sealed.count)),
    JSONMember(key: "valuesPerBatch", value: integer(valuesPerBatch)),
    JSONMember(key: "values", value: integer(totalValues)),
    JSONMember(key: "openValuesPerSecondOneThread", value: integer(Int(Double(totalValues) / openSeconds))),
    JSONMember(key: "storeOnly", value: .array(storeCases)),
    JSONMember(key: "pipeline", value: .array(pipelineCases)),
    JSONMember(key: "note", value: .string("openValuesPerSecondOneThread: verify + open + decompress + decode; storeOnly: HeadEndStore.store of opened "
        + "batches, one transaction per batch (SQLite WAL synchronous=FULL; PostgreSQL default durability, fsync on), one connection per thread; "
        + "pipeline: mosquitto + in-process head-end workers (shared subscription), devices with 2 batches in flight each; ack latency from the "
        + "first publish to the verified ack at the device")),
]), pretty: true))
