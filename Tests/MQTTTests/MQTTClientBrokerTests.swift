import Foundation
@testable import MQTT
import Testing
import TestSupport

/// The MQTT client against a real mosquitto 2.0.11 on loopback.
@Suite(.timeLimit(.minutes(1)))
struct MQTTClientBrokerTests {
    @Test func publishAndSubscribeRoundTripKeepsEveryByte() async throws {
        let broker = try await MosquittoBroker()
        let subscriber = try await startClient(testSettings(broker.port, clientID: "round-sub"))
        let publisher = try await startClient(testSettings(broker.port, clientID: "round-pub"))
        let granted = try await subscriber.client.subscribe(filter: "round/#", qos: .atLeastOnce)
        #expect(granted == .atLeastOnce)

        // 256 KiB with every byte value, zeros included, in a pattern that is not periodic in 256.
        let large = (0..<262_144).map { UInt8(truncatingIfNeeded: ($0 * 7) ^ ($0 >> 8)) }
        let payloads: [[UInt8]] = [[], [0x00], [0x00, 0xFF, 0x00, 0x00, 0x7F], large]
        for (index, payload) in payloads.enumerated() {
            let receipt = try await publisher.client.publish(topic: "round/\(index)", payload: payload, qos: .atLeastOnce)
            #expect(receipt.reasonCode == 0x00, "a subscriber exists, so the PUBACK says success")
        }
        let properties = MQTTMessageProperties(responseTopic: "round/reply", correlationData: [0x00, 0x01, 0x00],
                                               userProperties: ["mesh-hops": "2", "mesh-gateway": "gw-0001"])
        _ = try await publisher.client.publish(topic: "round/props", payload: [0x2A], properties: properties)

        let all = await subscriber.messages.wait { $0.count >= payloads.count + 1 }
        #expect(all)
        let received = subscriber.messages.all
        for (index, payload) in payloads.enumerated() {
            #expect(subscriber.payloads(on: "round/\(index)") == [payload], "payload \(index) arrives once, byte for byte")
        }
        let withProperties = try #require(received.first { $0.topic == "round/props" })
        #expect(withProperties.properties == properties)
        #expect(withProperties.qos == .atLeastOnce)
        #expect(!withProperties.retain)

        let unheard = try await publisher.client.publish(topic: "nobody/listens", payload: [1])
        #expect(unheard.reasonCode == 0x10 && unheard.noMatchingSubscribers, "v5 PUBACK 0x10: no matching subscribers")
        await publisher.client.stop()
        await subscriber.client.stop()
    }

    /// mosquitto 2.0.11 answers a v5 QoS 1 PUBLISH that its ACL denies with PUBACK reason code
    /// 0x87 "Not authorized" (observed: broker log "Denied PUBLISH … Sending PUBACK to … rc135").
    @Test func publishDeniedByTheACLThrowsRejectedWithTheV5ReasonCode() async throws {
        var configuration = MosquittoBroker.Configuration()
        configuration.allowAnonymous = false
        configuration.users = ["device-7": "pa55-device-7"]
        configuration.acl = "user device-7\ntopic readwrite allowed/#\n"
        let broker = try await MosquittoBroker(configuration)
        var settings = testSettings(broker.port, clientID: "device-7")
        settings.username = "device-7"
        settings.password = MQTTSecret("pa55-device-7")
        let device = try await startClient(settings)

        let allowed = try await device.client.publish(topic: "allowed/batch", payload: [1, 2, 3])
        #expect(allowed.reasonCode < 0x80)
        await #expect(throws: MQTTError.rejected(reasonCode: 0x87, reason: "Not authorized")) {
            _ = try await device.client.publish(topic: "denied/batch", payload: [1, 2, 3])
        }
        #expect(broker.log.contains("Denied PUBLISH from device-7"))
        #expect(broker.log.contains("rc135"), "the broker logged the PUBACK reason code it sent")
        #expect(device.client.isConnected, "a rejected publish does not end the connection")
        await device.client.stop()
    }

    @Test func wrongPasswordIsReportedClearlyAndNeverShown() async throws {
        var configuration = MosquittoBroker.Configuration()
        configuration.allowAnonymous = false
        configuration.users = ["device-8": "right-Pa55word"]
        let broker = try await MosquittoBroker(configuration)
        var settings = testSettings(broker.port, clientID: "device-8")
        settings.username = "device-8"
        settings.password = MQTTSecret("wr0ng-Pa55w0rd")
        let device = try await startClient(settings, expectConnection: false)

        // It keeps retrying with backoff: a broker whose password file gets fixed is reached later.
        let retried = await device.events.wait { $0.filter(\.isConnectFailure).count >= 2 }
        #expect(retried, "events: \(device.events.all)")
        let problem = try #require(device.events.all.first?.failure)
        // mosquitto 2.0.11 refuses a wrong password with CONNACK 0x87 "Not authorized".
        #expect(problem.kind == .notAuthorized || problem.kind == .badCredentials)
        #expect(problem.code == 0x87 || problem.code == 0x86)
        #expect(problem.description.contains("password"), "the hint says to check the password: \(problem)")
        #expect(problem.description.contains("device-8"))
        for text in [problem.description, "\(device.events.all)", settings.description, String(reflecting: settings)] {
            #expect(!text.contains("wr0ng-Pa55w0rd") && !text.contains("right-Pa55word"))
        }
        #expect(!device.client.isConnected)
        await device.client.stop()
    }

    @Test func publishWhileTheBrokerIsUnreachableFailsFast() async throws {
        let port = freeLoopbackPort() // nothing listens here
        let device = try await startClient(testSettings(port, clientID: "lonely"), expectConnection: false)
        let failed = await device.events.wait { $0.contains(where: \.isConnectFailure) }
        #expect(failed)
        let problem = try #require(device.events.all.first?.failure)
        #expect(problem.kind == .brokerUnreachable)
        #expect(problem.detail.contains("refused"))
        #expect(problem.hint.contains("127.0.0.1:\(port)"))

        let started = ContinuousClock.now
        await #expect(throws: MQTTError.notConnected(broker: "127.0.0.1:\(port)")) {
            _ = try await device.client.publish(topic: "batches/1", payload: [1])
        }
        #expect(ContinuousClock.now - started < .seconds(1), "no waiting for a connection")
        await device.client.stop()
    }

    /// The last will reaches a subscriber when the device goes silent (its network thread stops
    /// without DISCONNECT, like a power cut), once the broker's 1.5 × keepalive runs out; the
    /// retained status reaches late subscribers, and a clean stop publishes no will.
    @Test func lastWillAndRetainedStatus() async throws {
        let broker = try await MosquittoBroker()
        func deviceSettings(_ id: String) -> MQTTClientSettings {
            var settings = testSettings(broker.port, clientID: id)
            settings.keepaliveSeconds = 5
            settings.will = MQTTWill(topic: "status/\(id)", payload: Array("offline".utf8), qos: .atLeastOnce, retain: true)
            return settings
        }
        let watcher = try await startClient(testSettings(broker.port, clientID: "watcher"))
        try await watcher.client.subscribe(filter: "status/+")

        let silent = try await startClient(deviceSettings("dev-silent"))
        let clean = try await startClient(deviceSettings("dev-clean"))
        for device in [silent, clean] {
            _ = try await device.client.publish(topic: "status/\(device.client.settings.clientID)",
                                                payload: Array("online".utf8), retain: true)
        }
        let late = try await startClient(testSettings(broker.port, clientID: "late-1"))
        try await late.client.subscribe(filter: "status/dev-silent")
        let retained = await late.messages.wait { !$0.isEmpty }
        #expect(retained)
        #expect(late.messages.all.first?.payload == Array("online".utf8))
        #expect(late.messages.all.first?.retain == true, "a late subscriber gets the retained status")

        await clean.client.stop()
        let silencedAt = ContinuousClock.now
        silent.client.haltNetworkForTesting()
        let willArrived = await watcher.messages.wait(timeout: .seconds(15)) {
            $0.contains { $0.topic == "status/dev-silent" && $0.payload == Array("offline".utf8) }
        }
        #expect(willArrived, "watcher saw: \(watcher.messages.all.map(\.topic))")
        print(#"{"mqtt_will_after_silence_s": \#(seconds(since: silencedAt))}"#)

        let late2 = try await startClient(testSettings(broker.port, clientID: "late-2"))
        try await late2.client.subscribe(filter: "status/+")
        let both = await late2.messages.wait { $0.count >= 2 }
        #expect(both)
        #expect(late2.payloads(on: "status/dev-silent") == [Array("offline".utf8)], "the will was retained")
        #expect(late2.payloads(on: "status/dev-clean") == [Array("online".utf8)], "a clean stop sends no will")
        #expect(broker.log.contains("Received DISCONNECT from dev-clean"))
        for client in [watcher, late, late2, silent] { await client.client.stop() }
    }

    /// Several head-ends share the load with an MQTT v5 shared subscription.
    @Test func sharedSubscriptionSplitsMessagesBetweenSubscribers() async throws {
        let broker = try await MosquittoBroker()
        let first = try await startClient(testSettings(broker.port, clientID: "headend-a"))
        let second = try await startClient(testSettings(broker.port, clientID: "headend-b"))
        let device = try await startClient(testSettings(broker.port, clientID: "device-9"))
        try await first.client.subscribe(filter: "$share/headends/batches/#")
        try await second.client.subscribe(filter: "$share/headends/batches/#")

        for index in 0..<100 {
            _ = try await device.client.publish(topic: "batches/device-9", payload: [UInt8(index)])
        }
        let allArrived = await eventually { first.messages.all.count + second.messages.all.count >= 100 }
        #expect(allArrived)
        try? await Task.sleep(for: .milliseconds(300)) // a duplicate would arrive now
        let a = first.messages.all.map { Int($0.payload[0]) }
        let b = second.messages.all.map { Int($0.payload[0]) }
        #expect(!a.isEmpty && !b.isEmpty, "each head-end gets a share: \(a.count) + \(b.count)")
        #expect(a.count + b.count == 100, "no message is delivered twice")
        #expect(Set(a + b) == Set(0..<100), "together they get every message")
        #expect(first.messages.all.allSatisfy { $0.topic == "batches/device-9" })
        for client in [first, second, device] { await client.client.stop() }
    }

    @Test func subscribeBeforeConnectionFailsFastAndBadFilterIsRejected() async throws {
        let broker = try await MosquittoBroker()
        let client = try await startClient(testSettings(broker.port, clientID: "filters"))
        await #expect(throws: MQTTError.self) {
            try await client.client.subscribe(filter: "bad/#/filter")
        }
        await #expect {
            _ = try await client.client.publish(topic: "wild/+/card", payload: [1])
        } throws: { error in
            guard case .invalidRequest(let operation, _) = error as? MQTTError else { return false }
            return operation.contains("wild/+/card")
        }
        await client.client.stop()
        await #expect(throws: MQTTError.notConnected(broker: "127.0.0.1:\(broker.port)")) {
            try await client.client.subscribe(filter: "any/#")
        }
    }
}
