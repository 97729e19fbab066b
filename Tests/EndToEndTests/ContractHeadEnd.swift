import ConcentratorCore
import Foundation
import Logging
import MQTT
import Platform
import TestSupport
import Wire

/// A minimal head-end built only from Docs/mqtt-api.md's primitives (BatchOpener, BatchAck): it
/// checks the agent against the wire contract independently of the real `headend` program.
final class ContractHeadEnd: @unchecked Sendable {
    let sealing = AgreementPrivateKey.generate()
    let ack = SigningPrivateKey.generate()
    private let lock = ConditionLock()
    /// The sealing keys held now (`rotateSealingKey`, `retireSealingKey`); at first `sealing`.
    private var sealingKeys: [AgreementPrivateKey] = []
    private var rejectedUnknownKey = 0
    private var devices = RegisteredDevices()
    private var received: [String: Int] = [:]          // "device/sequence" → deliveries
    private var snapshots: [String: MeterSnapshot] = [:]  // "meter/interval/series" → snapshot
    private var duplicateData: [String] = []
    private var eventsReceived: [GatewayEvent] = []
    private var client: MQTTClient?
    /// While false, batches are received but not acknowledged (a head-end that is down).
    var acknowledging = true

    /// Writes the public key files a device's config lists in `uplink.headEndKeys`.
    func writeKeyFiles(to directory: TemporaryDirectory) throws -> [String] {
        let sealingPath = directory.file("headend-sealing.json"), ackPath = directory.file("headend-ack.json")
        try PublicKeyDocument(sealing.publicKey, role: "sealing").rendered().write(toFile: sealingPath, atomically: true, encoding: .utf8)
        try PublicKeyDocument(ack.publicKey, role: "ack").rendered().write(toFile: ackPath, atomically: true, encoding: .utf8)
        return [sealingPath, ackPath]
    }

    func register(device: String, key: SigningPublicKey) { lock.withLock { devices.keys[device] = [key] } }

    /// Adds a new sealing key beside the held ones (headend.md, rotation) and writes its public
    /// document to `path`; returns the new key.
    func rotateSealingKey(writingTo path: String) throws -> AgreementPrivateKey {
        let key = AgreementPrivateKey.generate()
        lock.withLock { sealingKeys = (sealingKeys.isEmpty ? [sealing] : sealingKeys) + [key] }
        try PublicKeyDocument(key.publicKey, role: "sealing").rendered().write(toFile: path, atomically: true, encoding: .utf8)
        return key
    }

    /// Removes a sealing key: batches sealed to it are rejected with reason 1 from now on.
    func retireSealingKey(_ key: AgreementPrivateKey) {
        lock.withLock { sealingKeys = (sealingKeys.isEmpty ? [sealing] : sealingKeys).filter { $0.publicKey.id != key.publicKey.id } }
    }

    /// Batches rejected with reason 1 (unknown sealing key) so far.
    var unknownSealingKeyRejections: Int { lock.withLock { rejectedUnknownKey } }

    /// Connects to the broker on 127.0.0.1 (`caFile`: over TLS; `username`: with a password).
    func start(port: UInt16, username: String? = nil, password: String? = nil, caFile: String? = nil) throws {
        let settings = MQTTClientSettings(host: "127.0.0.1", port: port, clientID: "contract-headend-\(UUID().uuidString.prefix(8))",
                                          keepaliveSeconds: 10, sessionExpirySeconds: 300, username: username,
                                          password: password.map(MQTTSecret.init), tls: caFile.map { MQTTTLSSettings(caFile: $0) },
                                          reconnect: MQTTReconnectPolicy(initialDelay: .milliseconds(200), maxDelay: .seconds(1)))
        var logger = Logger(label: "contract-headend")
        logger.logLevel = .warning
        let client = MQTTClient(settings: settings, logger: logger)
        self.client = client
        try client.start()
        Task {
            for await event in client.connectionEvents {
                if case .connected = event {
                    _ = try? await client.subscribe(filter: "concentrator/v1/+/batch")
                    _ = try? await client.subscribe(filter: "concentrator/v1/+/event")
                }
            }
        }
        Task { [self] in
            for await message in client.messages { await handle(message.payload) }
        }
    }

    func stop() async { await client?.stop() }

    private func handle(_ bytes: [UInt8]) async {
        let opener = lock.withLock { BatchOpener(sealingKeys: sealingKeys.isEmpty ? [sealing] : sealingKeys, devices: devices) }
        let opened: OpenedBatch
        do { opened = try opener.open(bytes) } catch {
            // §3.3: a verified batch sealed to a key the head-end does not hold: rejected, reason 1.
            guard case .unknownSealingKey = error, let sealed = try? SealedBatch.parse(bytes), let client else { return }
            let header = sealed.header
            lock.withLock { rejectedUnknownKey += 1 }
            let rejection = BatchAck(deviceID: header.deviceID, sequence: header.sequence, batchDigest: sealed.digest,
                                     status: .rejected(reasonCode: BatchRejectionReason.unknownSealingKey.rawValue), keyID: ack.id)
            _ = try? await client.publish(topic: "concentrator/v1/\(header.deviceID)/ack", payload: rejection.encoded(signedBy: ack))
            return
        }
        let key = "\(opened.header.deviceID)/\(opened.header.sequence)"
        let (first, ackNow) = lock.withLock { () -> (Bool, Bool) in
            received[key, default: 0] += 1
            return (received[key] == 1, acknowledging)
        }
        if first {
            lock.withLock {
                switch opened.content {
                case .snapshots(let series, _, let list):
                    for s in list {
                        let k = "\(s.meter)/\(s.intervalStart.milliseconds)/\(series.rawValue)"
                        if snapshots[k] != nil { duplicateData.append(k) }
                        snapshots[k] = s
                    }
                case .events(let e): eventsReceived += e
                }
            }
        }
        guard ackNow, let client else { return }
        let signed = BatchAck.signed(for: opened, status: first ? .accepted : .duplicate, by: ack)
        _ = try? await client.publish(topic: "concentrator/v1/\(opened.header.deviceID)/ack", payload: signed)
    }

    var stored: [String: MeterSnapshot] { lock.withLock { snapshots } }
    var duplicates: [String] { lock.withLock { duplicateData } }
    var batchesReceived: Int { lock.withLock { received.count } }
    var events: [GatewayEvent] { lock.withLock { eventsReceived } }

    /// A public key in the console's paste format: hex, then the CRC-32 (zlib's) of the key bytes.
    static func pasteText(_ key: [UInt8]) -> String {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in key {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        crc ^= 0xFFFF_FFFF
        let hex = key.map { String(format: "%02x", $0) }.joined()
        return hex + String(format: "%08x", crc)
    }
}
