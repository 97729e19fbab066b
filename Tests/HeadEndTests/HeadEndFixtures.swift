import ConcentratorCore
import Foundation
@testable import HeadEnd
import KeyFiles
import Logging
import MQTT
import Platform
import TestSupport
import Wire

/// Fixed keys of Docs/mqtt-api.md §10 (never used outside tests) and deterministic batch content.
enum Keys {
    static func bytes(from start: UInt8) -> [UInt8] { (0..<32).map { start &+ UInt8($0) } }

    static let deviceSigning = try! SigningPrivateKey(seed: bytes(from: 0x10))
    static let deviceAgreement = try! AgreementPrivateKey(rawRepresentation: bytes(from: 0xA0))
    static let sealing = try! AgreementPrivateKey(rawRepresentation: bytes(from: 0x40))
    static let ack = try! SigningPrivateKey(seed: bytes(from: 0x70))
    /// A key that is registered nowhere (for forged signatures).
    static let stranger = try! SigningPrivateKey(seed: bytes(from: 0xC0))

    static let deviceID = "gw-0001"

    /// Every secret and public key of the tests, in the textual forms a careless log line would use.
    static var allKeyForms: [String] {
        let raw: [[UInt8]] = [bytes(from: 0x10), bytes(from: 0xA0), bytes(from: 0x40), bytes(from: 0x70),
                              deviceSigning.publicKey.rawRepresentation, deviceAgreement.publicKey.rawRepresentation,
                              sealing.publicKey.rawRepresentation, ack.publicKey.rawRepresentation]
        return raw.flatMap { key in
            [Hex.encode(key), Hex.encode(key).uppercased(), Data(key).base64EncodedString(), String(Data(key).base64EncodedString().prefix(16))]
        }
    }

    static var deviceDocuments: [PublicKeyDocument] {
        [PublicKeyDocument(deviceSigning.publicKey, role: "device", device: deviceID),
         PublicKeyDocument(deviceAgreement.publicKey, role: "device", device: deviceID)]
    }

    static func sealer(device: String = deviceID, signingKey: SigningPrivateKey = deviceSigning) -> BatchSealer {
        try! BatchSealer(deviceID: device, signingKey: signingKey, headEndSealingKey: sealing.publicKey, compressionLevel: 3)
    }
}

/// Batch content that differs per sequence: four meters, one hourly interval each, with numbers,
/// an error code, a meter time and an unsynced clock.
enum Content {
    static let firstHour = ISO8601.parse("2026-11-21T00:00:00Z")!

    static func intervalStart(_ sequence: UInt64) -> Timestamp { firstHour.adding(seconds: Int64(sequence) * 3600) }

    static func snapshots(_ sequence: UInt64) -> [MeterSnapshot] {
        let start = intervalStart(sequence)
        let s = Double(sequence)
        return (1...4).map { m in
            let meter = MeterID("m-\(m)")
            var values = [QuantityValue(quantity: "voltage_l1", value: Double(Float(229.5 + Double(m) * 0.3))),
                          QuantityValue(quantity: "current_l1", value: 1.25 * Double(m) + s / 1000),
                          QuantityValue(quantity: "active_energy_import", value: 1000.25 * Double(m) + s)]
            values.append(m == 3 ? QuantityValue(quantity: "active_power_total", error: .modbusException(2))
                                 : QuantityValue(quantity: "active_power_total", value: Double(100 * m)))
            return MeterSnapshot(meter: meter, intervalStart: start, gatewayTime: start.adding(milliseconds: Int64(1500 + m * 40)),
                                 meterTime: m == 2 ? start.adding(seconds: 1) : nil, clockUnsynced: m == 4, values: values)
        }
    }

    static func batch(_ sequence: UInt64, sealer: BatchSealer = Keys.sealer()) -> SealedBatch {
        try! sealer.seal(.snapshots(.interval, interval: IntervalSchedule(minutes: 60), snapshots(sequence)), sequence: sequence)
    }

    static func events(_ sequence: UInt64) -> [GatewayEvent] {
        let t = intervalStart(sequence)
        return [GatewayEvent(time: t.adding(seconds: 5), kind: .meterOffline, severity: .warning, bus: "bus1", meter: "m-3",
                             message: "no usable answer: no response"),
                GatewayEvent(time: t.adding(seconds: 9), kind: .portUnavailable, severity: .error, bus: "bus1",
                             message: "serial port gone")]
    }
}

/// Log lines captured from a `Logger`, rendered like `LineLogHandler` (level, label, sorted metadata, message).
final class CapturedLog: Sendable {
    private let captured = Locked<[String]>([])

    func logger(_ label: String) -> Logger {
        Logger(label: label) { label in CapturingHandler(label: label, log: self) }
    }

    func append(_ line: String) { captured.withLock { $0.append(line) } }

    var lines: [String] { captured.value }
    var text: String { lines.joined(separator: "\n") }

    /// Lines that contain every one of `parts`.
    func lines(containing parts: String...) -> [String] { lines.filter { line in parts.allSatisfy { line.contains($0) } } }
}

struct CapturingHandler: LogHandler {
    let label: String
    let log: CapturedLog
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        var line = "\(event.level) [\(label)]"
        for key in merged.keys.sorted() { line += " \(key)=\(merged[key]!)" }
        log.append(line + " " + event.message.description)
    }
}

/// A head-end test setup: a real mosquitto on loopback, the fixed keys as files, a database with the
/// device registered, and a log capture. Services started here are stopped by the test.
final class HeadEndHarness: @unchecked Sendable {
    let directory = TemporaryDirectory("headend-test")
    let broker: MosquittoBroker
    let log = CapturedLog()
    let databasePath: String

    init(registerDevice: Bool = true) async throws {
        broker = try await MosquittoBroker()
        databasePath = directory.file("headend.sqlite")
        try PrivateKeyFile.write(Keys.sealing, to: directory.file("sealing.key"))
        try PrivateKeyFile.write(Keys.ack, to: directory.file("ack.key"))
        if registerDevice {
            let database = try HeadEndDatabase.open(path: databasePath)
            try database.registerDevice(Keys.deviceID, keys: Keys.deviceDocuments, at: Content.firstHour)
            database.close()
        }
    }

    func configuration(clientID: String = "headend-1", group: String? = nil, registryPollSeconds: Int = 10) -> HeadEndConfiguration {
        HeadEndConfiguration(broker: BrokerSettings(host: "127.0.0.1", port: Int(broker.port), clientID: clientID, keepaliveSeconds: 10),
                             sharedSubscriptionGroup: group, databasePath: databasePath,
                             sealingKeyFiles: [directory.file("sealing.key")], ackKeyFile: directory.file("ack.key"),
                             ingest: IngestSettings(registryPollSeconds: registryPollSeconds, brokerAcknowledgementTimeoutSeconds: 10))
    }

    /// Starts a head-end and waits until its subscriptions are acknowledged.
    func startService(clientID: String = "headend-1", group: String? = nil, registryPollSeconds: Int = 10) async throws -> HeadEndService {
        let configuration = configuration(clientID: clientID, group: group, registryPollSeconds: registryPollSeconds)
        let keys = try HeadEndPrivateKeys.load(sealingKeyFiles: configuration.sealingKeyFiles, ackKeyFile: configuration.ackKeyFile)
        let service = try HeadEndService(configuration: configuration, keys: keys, logger: log.logger("headend:\(clientID)"))
        try await service.start()
        guard await eventually(timeout: .seconds(10), { service.isSubscribed }) else {
            await service.stop()
            throw HarnessError("head-end \(clientID) did not subscribe within 10 s")
        }
        return service
    }

    /// A device connected to the broker, listening on its ack topic.
    func device(_ id: String = Keys.deviceID) async throws -> TestDevice {
        try await TestDevice(id: id, port: broker.port, logger: log.logger("device:\(id)"))
    }

    /// Counts rows of `table` (a fresh read-only look, as another process would see it).
    func count(_ table: String, where condition: String = "1") throws -> Int {
        let database = try HeadEndDatabase.openForReading(path: databasePath)
        defer { database.close() }
        return try database.rowCount(table, where: condition)
    }
}

extension HeadEndDatabase {
    func rowCount(_ table: String, where condition: String) throws -> Int {
        Int(try connection.queryInt64("SELECT count(*) FROM \(table) WHERE \(condition)") ?? 0)
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A device side: an MQTT client publishing batches to `concentrator/v1/<id>/batch` and collecting
/// the acks that `BatchAck.verify` accepts with the head-end's ack key.
final class TestDevice: @unchecked Sendable {
    let id: String
    let client: MQTTClient
    private let received = Locked<[BatchAck]>([])
    private let refused = Locked<[BatchAckError]>([])
    private var listener: Task<Void, Never>?

    init(id: String, port: UInt16, logger: Logger) async throws {
        self.id = id
        client = MQTTClient(settings: MQTTClientSettings(host: "127.0.0.1", port: port, clientID: "device-\(id)", keepaliveSeconds: 10,
                                                         cleanStart: true, acknowledgementTimeout: .seconds(10)),
                            logger: logger)
        try client.start()
        var connected = false
        for await event in client.connectionEvents {
            if case .connected = event { connected = true; break }
        }
        guard connected else { throw HarnessError("device \(id) did not connect") }
        try await client.subscribe(filter: "concentrator/v1/\(id)/ack")
        listener = Task { [client, id] in
            for await message in client.messages {
                do throws(BatchAckError) {
                    let ack = try BatchAck.verify(message.payload, deviceID: id, trustedKeys: [Keys.ack.publicKey])
                    self.received.withLock { $0.append(ack) }
                } catch {
                    self.refused.withLock { $0.append(error) }
                }
            }
        }
    }

    var acks: [BatchAck] { received.value }
    var refusedAcks: [BatchAckError] { refused.value }

    func acks(for sequence: UInt64) -> [BatchAck] { acks.filter { $0.sequence == sequence } }

    func publish(_ bytes: [UInt8], leaf: String = "batch", topicDevice: String? = nil) async throws {
        _ = try await client.publish(topic: "concentrator/v1/\(topicDevice ?? id)/\(leaf)", payload: bytes, qos: .atLeastOnce)
    }

    /// Waits until an ack for `sequence` arrived.
    @discardableResult
    func waitForAck(_ sequence: UInt64, timeout: Duration = .seconds(10)) async -> BatchAck? {
        _ = await eventually(timeout: timeout) { !self.acks(for: sequence).isEmpty }
        return acks(for: sequence).last
    }

    func stop() async {
        await client.stop()
        await listener?.value
    }
}

/// Polls `condition` without blocking a thread until it holds or `timeout` passes.
func eventually(timeout: Duration, poll: Duration = .milliseconds(20), _ condition: () throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: poll)
    }
    return try condition()
}
