import Agent
import ConcentratorCore
import Foundation
import Logging
@testable import Mesh
import MQTT
import Platform
import Testing
import TestSupport
import Wire

/// The agent's mesh (`MeshService`, as `concentrator run` starts it) on a serial radio: two services,
/// each with an emulated RN2483 on a PTY pair (the air between them takes each packet's LoRa airtime),
/// the gateway with a broker on loopback. Issue 12: "Serial radio: a link over a PTY pair with
/// emulated airtime. Fragments are reassembled, and the duty budget holds (the test sums the airtime)";
/// §4 Time: the leaf, ten minutes behind and without NTP, takes the gateway's time from beacons.
@Suite("Mesh service on a serial radio", .serialized)
struct MeshServiceRadioTests {
    static let leafID = "leaf-radio"
    static let gatewayID = "gw-radio"
    static let behindMilliseconds: Int64 = 600_000

    /// A sealed interval batch of the leaf: 8 meters × 12 values that do not compress, several radio
    /// fragments long.
    static func sealedBatch(intervalStart: Timestamp) throws -> [UInt8] {
        let sealer = try BatchSealer(deviceID: leafID, signingKey: SigningPrivateKey.generate(),
                                     headEndSealingKey: AgreementPrivateKey.generate().publicKey)
        var state: UInt64 = 0x1234_5678
        let quantities = QuantityCatalog.all.prefix(12).map(\.id)
        let snapshots = (0..<8).map { m in
            MeterSnapshot(meter: MeterID("m-\(m)"), intervalStart: intervalStart, gatewayTime: intervalStart.adding(milliseconds: 900),
                          values: quantities.map { id in
                              state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                              return QuantityValue(quantity: id, value: Double(state >> 20) / 1024)
                          })
        }
        return try sealer.seal(.snapshots(.interval, interval: IntervalSchedule(minutes: 15), snapshots), sequence: 1).bytes
    }

    static func settings(key: String, port: String, gateway: MeshSettings.GatewayRole) -> MeshSettings {
        // SF7 at 500 kHz keeps the emulated airtime short; the duty limit is the 868.1 MHz sub-band's 1 %.
        MeshSettings(networkKeyFile: key, gateway: gateway, beaconIntervalSeconds: 2,
                     radios: [MeshSettings.RadioLink(port: port, frequencyHz: 868_100_000, spreadingFactor: 7, bandwidthKHz: 500)])
    }

    static func waitUntil(seconds: Int, _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return condition()
    }

    @Test("a leaf's sealed batch crosses the radio in fragments to the gateway and the broker; the airtime stays in budget; the leaf takes the gateway's time", .timeLimit(.minutes(2)))
    func batchOverRadioThroughGateway() async throws {
        let broker = try await MosquittoBroker()
        let dir = TemporaryDirectory("mesh-radio")
        let keyPath = dir.path + "/mesh.key"
        try (Hex.encode((0..<32).map { UInt8($0 * 5 + 1) }) + "\n").write(toFile: keyPath, atomically: true, encoding: .utf8)
        chmod(keyPath, 0o600)
        for d in ["gw", "leaf"] { try FileManager.default.createDirectory(atPath: dir.path + "/" + d, withIntermediateDirectories: true) }

        let air = EmulatedAir()
        let modemG = try RN2483Emulator(index: 0, air: air)
        let modemL = try RN2483Emulator(index: 1, air: air)
        defer { modemG.stop(); modemL.stop() }
        let log = CapturedLog()

        let uplink = UplinkSettings(broker: BrokerSettings(host: "127.0.0.1", port: Int(broker.port)), headEndKeyFiles: [])
        let gateway = MeshService(settings: Self.settings(key: keyPath, port: modemG.path, gateway: .auto), deviceID: Self.gatewayID,
                                  stateDirectory: dir.path + "/gw", uplink: uplink, clock: SystemClock(), logger: log.logger,
                                  ownUplinkConnected: { true }, onAck: { _ in }, onCommand: { _ in }, ownClockSynchronised: { true })
        // The leaf's clock is ten minutes behind and not synchronised.
        let leafClock = SteppableClock(base: SystemClock())
        leafClock.step(milliseconds: -Self.behindMilliseconds)
        let intervalClock = MeshDisciplinedClock(base: leafClock)
        let leaf = MeshService(settings: Self.settings(key: keyPath, port: modemL.path, gateway: .never), deviceID: Self.leafID,
                               stateDirectory: dir.path + "/leaf", uplink: nil, clock: leafClock, logger: log.logger,
                               ownUplinkConnected: { false }, onAck: { _ in }, onCommand: { _ in },
                               ownClockSynchronised: { false }, disciplinedClock: intervalClock)
        try gateway.start()
        defer { gateway.stop() }
        try leaf.start()
        defer { leaf.stop() }

        // What the broker receives under the leaf's topics.
        let listener = MQTTClient(settings: try MQTTClientSettings(broker: uplink.broker, clientID: "radio-test-listener"), logger: log.logger)
        try listener.start()
        #expect(await Self.waitUntil(seconds: 10) { listener.isConnected })
        let topics = try #require(UplinkTopics(deviceID: Self.leafID))
        _ = try await listener.subscribe(filter: topics.batch)

        let ready = await Self.waitUntil(seconds: 40) { leaf.isAvailable && intervalClock.isDisciplined }
        #expect(ready, "route \(leaf.isAvailable), disciplined \(intervalClock.isDisciplined); \(log.lines.suffix(12).map(\.message))")
        try #require(ready)

        // §4 Time: the leaf's interval clock reads the gateway's time, its own clock does not.
        let truth = SystemClock().now()
        #expect(abs(intervalClock.now().milliseconds - truth.milliseconds) < 1_000)
        #expect(abs(leafClock.now().milliseconds - truth.milliseconds) >= Self.behindMilliseconds - 1_000)
        let time = try #require(leaf.state).time
        #expect(time.source == "mesh" && time.stratum == 2 && time.from == "\(MeshNodeID(deviceID: Self.gatewayID))")
        #expect(abs(time.offsetMilliseconds - Double(Self.behindMilliseconds)) < 1_000, "offset \(time.offsetMilliseconds) ms")
        let gatewayTime = try #require(gateway.state).time
        #expect(gatewayTime.source == "ntp" && gatewayTime.stratum == 1)
        let schedule = IntervalSchedule(minutes: 15)
        let intervalStart = schedule.start(containing: intervalClock.now())
        #expect(intervalStart == schedule.start(containing: SystemClock().now()) || intervalStart == schedule.start(containing: truth))

        // A batch through the leaf's route: fragmented on the radio, reassembled by the gateway, published.
        let batch = try Self.sealedBatch(intervalStart: intervalStart)
        #expect(batch.count > 600)
        let receiving = Task { () -> MQTTMessage? in
            for await message in listener.messages { return message }
            return nil
        }
        try await leaf.send(sealedBatch: batch, sequence: 1, attempt: 0, isEvent: false, isBackfill: false)
        let timeout = Task {
            try? await Task.sleep(for: .seconds(40))
            receiving.cancel()
        }
        let message = await receiving.value
        timeout.cancel()
        #expect(message?.topic == topics.batch)
        #expect(message?.payload == batch, "the batch arrives byte for byte (sealed end to end)")
        // The optional path note travels beside the payload, as MQTT v5 user properties.
        let note = message?.properties.userProperties ?? [:]
        #expect(note["mesh-gateway"] == Self.gatewayID && note["mesh-hops"].flatMap(Int.init).map { $0 >= 1 } == true, "path note \(note)")

        // Fragments: the leaf sent at least ⌈batch / 200⌉ radio packets of up to the MTU, none larger.
        let fromLeaf = air.transmissions.filter { $0.modem == 1 }
        #expect(fromLeaf.allSatisfy { $0.bytes <= 200 })
        #expect(fromLeaf.filter { $0.bytes >= 150 }.count >= batch.count / 200)
        // The duty budget holds: the summed airtime of each modem is what the link counted, is the
        // formula's airtime of each packet, and stays under 1 % of the hour.
        let modulation = LoRaModulation(spreadingFactor: 7, bandwidthHz: 500_000)
        for (modem, service) in [(0, gateway), (1, leaf)] {
            let sent = air.transmissions.filter { $0.modem == modem }
            let summed = sent.reduce(Int64(0)) { $0 + $1.airtimeMicroseconds }
            #expect(summed == sent.reduce(Int64(0)) { $0 + modulation.airtimeMicroseconds(payloadBytes: $1.bytes) })
            let duty = try #require(service.state?.dutyCycle.first)
            #expect(duty.limitMilliseconds == 36_000 && duty.windowSeconds == 3_600)
            // (beacons keep going: a packet may be on the air, counted by the link but not yet logged)
            #expect(abs(duty.usedMilliseconds - summed / 1000) <= Int64(sent.count) + 250, "link \(duty.usedMilliseconds) ms, air \(summed / 1000) ms")
            #expect(summed <= duty.limitMilliseconds * 1000)
        }
        #expect(modemG.missed + modemL.missed < air.transmissions.count)
        await listener.stop()
    }
}
