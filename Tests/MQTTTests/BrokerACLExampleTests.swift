import Foundation
import Testing
import TestSupport
@testable import MQTT

/// Issue 17 #5: the example ACL shipped in Docs/examples/mosquitto/concentrator.acl, loaded into a real
/// mosquitto: a device publishes only its own upward topics and reads only its own commands and acks;
/// only the head-end writes `cmd` and `ack`.
@Suite(.timeLimit(.minutes(1)))
struct BrokerACLExampleTests {
    @Test func theShippedACLKeepsDevicesInTheirLanes() async throws {
        var configuration = MosquittoBroker.Configuration()
        configuration.allowAnonymous = false
        configuration.users = ["gw-1": "pw-gw-1", "gw-2": "pw-gw-2", "headend": "pw-headend"]
        configuration.acl = try String(contentsOfFile: BuiltProducts.packageRoot + "/Docs/examples/mosquitto/concentrator.acl", encoding: .utf8)
        let broker = try await MosquittoBroker(configuration)
        func login(_ user: String) async throws -> TestClient {
            var settings = testSettings(broker.port, clientID: user)
            settings.username = user
            settings.password = MQTTSecret("pw-\(user)")
            return try await startClient(settings)
        }
        let device = try await login("gw-1")
        let headend = try await login("headend")
        let denied = MQTTError.rejected(reasonCode: 0x87, reason: "Not authorized")

        for topic in ["batch", "event", "status", "reply"] {
            #expect(try await device.client.publish(topic: "concentrator/v1/gw-1/\(topic)", payload: [1]).reasonCode < 0x80, "\(topic)")
            await #expect(throws: denied, "another device's \(topic)") {
                _ = try await device.client.publish(topic: "concentrator/v1/gw-2/\(topic)", payload: [1])
            }
        }
        for topic in ["cmd", "ack"] {
            await #expect(throws: denied, "a device writing its own \(topic)") {
                _ = try await device.client.publish(topic: "concentrator/v1/gw-1/\(topic)", payload: [1])
            }
            #expect(try await headend.client.publish(topic: "concentrator/v1/gw-1/\(topic)", payload: [1]).reasonCode < 0x80)
        }
        // Reading: its own commands, not another device's, and nothing of the head-end's view.
        try await device.client.subscribe(filter: "concentrator/v1/gw-1/cmd")
        try await device.client.subscribe(filter: "concentrator/v1/gw-2/cmd")
        try await device.client.subscribe(filter: "concentrator/v1/+/batch")
        _ = try await headend.client.publish(topic: "concentrator/v1/gw-2/cmd", payload: [2])
        _ = try await headend.client.publish(topic: "concentrator/v1/gw-1/cmd", payload: [3])
        let other = try await login("gw-2")
        _ = try await other.client.publish(topic: "concentrator/v1/gw-2/batch", payload: [4])
        #expect(await device.messages.wait { $0.contains { $0.payload == [3] } })
        try await Task.sleep(for: .milliseconds(300))
        #expect(device.messages.all.map(\.payload) == [[3]], "\(device.messages.all.map(\.topic))")
        for c in [device, headend, other] { await c.client.stop() }
    }
}
