import Foundation
@testable import MQTT
import Testing
import TestSupport

/// The client gets back to a connected state by itself: broker restart, broker killed and down for
/// several backoff rounds, and a broker at a new address (the agent re-creates the client).
@Suite(.timeLimit(.minutes(1)))
struct MQTTReconnectTests {
    /// The test policy: 0.2 s doubling to 1 s with ±20 % jitter. A client must be back within the
    /// largest possible delay plus connect time; 1.5 s of slack covers a loaded CI machine.
    static let reconnectBound = Duration.seconds(1) * 1.2 + .milliseconds(1500)

    @Test func brokerRestartReconnectsAndRestoresSubscriptions() async throws {
        let broker = try await MosquittoBroker()
        let subscriber = try await startClient(testSettings(broker.port, clientID: "restart-sub"))
        let publisher = try await startClient(testSettings(broker.port, clientID: "restart-pub"))
        try await subscriber.client.subscribe(filter: "commands/#")

        await broker.stop()
        let down = await subscriber.events.wait { $0.contains { if case .disconnected = $0 { true } else { false } } }
        #expect(down, "the client notices the broker going away")
        await #expect(throws: MQTTError.notConnected(broker: "127.0.0.1:\(broker.port)")) {
            _ = try await publisher.client.publish(topic: "commands/x", payload: [1])
        }
        try? await Task.sleep(for: .milliseconds(1500)) // a few failed attempts while it is down
        try await broker.start()
        let restartedAt = ContinuousClock.now
        let subscriberBack = await subscriber.waitConnected(count: 2, timeout: Self.reconnectBound)
        let publisherBack = await publisher.waitConnected(count: 2, timeout: Self.reconnectBound)
        let back = subscriberBack && publisherBack
        let elapsed = seconds(since: restartedAt)
        #expect(back, "both clients reconnect by themselves within the backoff bound; events: \(subscriber.events.all)")
        print(#"{"mqtt_reconnect_after_broker_restart_s": \#(elapsed)}"#)
        #expect(subscriber.events.all.last == .connected(sessionPresent: false), "the restarted broker lost the session")

        // The subscription was re-sent by the client: a publish reaches it again.
        // The SUBSCRIBE may still be on its way when `.connected` is seen, so publish until it lands.
        var delivered = false
        for _ in 0..<25 where !delivered {
            _ = try? await publisher.client.publish(topic: "commands/after-restart", payload: [7])
            delivered = await subscriber.messages.wait(timeout: .milliseconds(200)) {
                $0.contains { $0.topic == "commands/after-restart" }
            }
        }
        #expect(delivered)
        await publisher.client.stop()
        await subscriber.client.stop()
    }

    @Test func brokerKilledAndDownForSeveralRoundsIsReachedAgain() async throws {
        let broker = try await MosquittoBroker()
        let device = try await startClient(testSettings(broker.port, clientID: "kill-dev"))
        await broker.kill9()
        let failures = await device.events.wait { $0.filter(\.isConnectFailure).count >= 3 }
        #expect(failures, "it keeps trying while the broker is gone: \(device.events.all)")
        let refused = device.events.all.compactMap(\.failure).filter { $0.kind == .brokerUnreachable }
        #expect(!refused.isEmpty)

        try await broker.start()
        let restartedAt = ContinuousClock.now
        let back = await device.waitConnected(count: 2, timeout: Self.reconnectBound)
        print(#"{"mqtt_reconnect_after_kill9_s": \#(seconds(since: restartedAt))}"#)
        #expect(back)
        let receipt = try await device.client.publish(topic: "batches/kill-dev", payload: [1, 2])
        #expect(receipt.reasonCode < 0x80)
        await device.client.stop()
    }

    /// A frozen broker stands in for a dead link: the PUBACK never comes (timeout), libmosquitto's
    /// keepalive ends the connection, and the client is back once the "link" returns.
    @Test func deadLinkTimesOutPublishesIsDetectedByKeepaliveAndRecovers() async throws {
        let broker = try await MosquittoBroker()
        var settings = testSettings(broker.port, clientID: "dead-link")
        settings.keepaliveSeconds = 5
        settings.acknowledgementTimeout = .seconds(1)
        let device = try await startClient(settings)

        broker.pause()
        let publishedAt = ContinuousClock.now
        await #expect(throws: MQTTError.timeout(operation: "publish to 'batches/dead-link'", after: .seconds(1))) {
            _ = try await device.client.publish(topic: "batches/dead-link", payload: [1])
        }
        #expect(ContinuousClock.now - publishedAt < .seconds(3), "the timeout is enforced while the link is dead")
        let noticed = await device.events.wait(timeout: .seconds(15)) {
            $0.contains { if case .disconnected(let problem) = $0 { problem.kind == .keepaliveTimeout } else { false } }
        }
        #expect(noticed, "keepalive detects the dead link: \(device.events.all)")
        print(#"{"mqtt_dead_link_detected_after_s": \#(seconds(since: publishedAt))}"#)

        broker.resume()
        let resumedAt = ContinuousClock.now
        let back = await device.waitConnected(count: 2, timeout: .seconds(15))
        #expect(back, "\(device.events.all)")
        print(#"{"mqtt_reconnect_after_link_returns_s": \#(seconds(since: resumedAt))}"#)
        await device.client.stop()
    }

    @Test func aNewBrokerAddressIsReachedWithStopAndStart() async throws {
        let oldBroker = try await MosquittoBroker()
        let newBroker = try await MosquittoBroker()
        let old = try await startClient(testSettings(oldBroker.port, clientID: "moving-dev"))
        await old.client.stop()
        let stoppedEvent = MQTTConnectionEvent.disconnected(MQTTDiagnosis(settings: old.client.settings).stoppedByClient())
        let reported = await old.events.wait { $0.last == stoppedEvent }
        #expect(reported, "the last event says the client stopped: \(old.events.all)")
        let moved = try await startClient(testSettings(newBroker.port, clientID: "moving-dev"))
        _ = try await moved.client.publish(topic: "status/moving-dev", payload: Array("online".utf8), retain: true)
        #expect(newBroker.log.contains("New client connected from 127.0.0.1"))
        await moved.client.stop()
    }
}
